"""The kernel pod's Job and Secret: schema-valid for the oldest and newest supported Kubernetes,
plus the rules the schema does not hold (no cluster, no API: the spawner's pure build)."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

from jupyter_jobs.models import Job
from jupyter_jobs.spawners import k8s_objects as objects
from jupyter_jobs.spawners.kubernetes import KubernetesSpawner

VERSIONS = (all_versions()[0], all_versions()[-1])
JOB_ID = "0123456789abcdef0123456789abcdef"
SERVER_POD = {
    "metadata": {"name": "jupyter-alice"},
    "spec": {
        "containers": [
            {
                "name": "notebook",
                "image": "quay.io/jupyter/scipy-notebook:2024-10-07",
                "volumeMounts": [{"name": "home", "mountPath": "/home/jovyan"}],
                "securityContext": {"runAsUser": 1000, "readOnlyRootFilesystem": True},
            }
        ],
        "volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}}],
        "securityContext": {"fsGroup": 100},
    },
}
#: a path with shell metacharacters: it must reach the kernel as one argv element, unparsed
ODD_PATH = "/home/jovyan/x; rm -rf ~ $(id)/conn.json"


def kernel_job(**resources) -> dict:
    spawner = KubernetesSpawner(user="alice@example.org", inherit_server_pod=True)
    spawner._ns = "jhub"
    spawner._inherited = objects.inherit_from_pod(SERVER_POD)
    job = Job(
        id=JOB_ID,
        name="kernel Python 3 — Kubernetes",
        kind="kernel",
        backend="kubernetes",
        profile="default",
        argv=["/opt/conda/bin/python", "-m", "ipykernel_launcher", "-f", ODD_PATH],
        env={"JPY_SESSION_NAME": "analysis.ipynb"},
        resources={"cpus": 2, "memory": 2**30, "time_limit": 3600, **resources},
        job_dir="/home/jovyan/.local/share/jupyter/jobs/" + JOB_ID,
        state={"cwd": "/home/jovyan"},
    )
    return spawner.build_job(job)


def kernel_secret() -> dict:
    owner = {"metadata": {"name": objects.job_object_name(JOB_ID), "uid": "u-1"}}
    return objects.make_kernel_secret(
        JOB_ID,
        "jhub",
        "alice@example.org",
        {"key": "k", "signature_scheme": "hmac-sha256"},
        KubernetesSpawner().kernel_ports,
        owner,
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("build", [kernel_job, kernel_secret], ids=["job", "secret"])
def test_kernel_manifests_are_valid_for_oldest_and_newest_kubernetes(build, version):
    kubernetes_validate.validate(build(), version, strict=True)


def test_kernel_job_rules_the_schema_does_not_hold():
    job = kernel_job()
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["metadata"]["labels"][objects.LABEL_COMPONENT] == "kernel"
    # a kernel runs directly (no runner), its time limit is the Job's deadline
    assert job["spec"]["template"]["metadata"]["annotations"][objects.ANNOTATION_RUNNER] == "false"
    assert job["spec"]["activeDeadlineSeconds"] == 3600
    names = [v["name"] for v in pod["volumes"]]
    assert len(names) == len(set(names))
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert {m["name"] for m in mounts.values()} <= set(names)
    assert mounts[objects.KERNEL_MOUNT]["readOnly"] is True
    assert objects.KERNEL_RUNTIME in mounts  # writable even with readOnlyRootFilesystem
    assert "/home/jovyan" in mounts  # the server pod's files are there too
    secret_volume = next(v for v in pod["volumes"] if "secret" in v)
    assert secret_volume["secret"]["secretName"] == objects.kernel_secret_name(JOB_ID)
    assert [p["containerPort"] for p in container["ports"]] == [50001, 50002, 50003, 50004, 50005]
    for port in container["ports"]:
        assert len(port["name"]) <= 15
    assert {"name": "JPY_SESSION_NAME", "value": "analysis.ipynb"} in container["env"]


def test_the_kernel_command_is_a_fixed_script_with_the_argv_unparsed_after_it():
    container = kernel_job()["spec"]["template"]["spec"]["containers"][0]
    sh, flag, script, arg0, *kernel = container["command"]
    assert (sh, flag, script, arg0) == ("sh", "-c", objects.KERNEL_SCRIPT, "jupyter-jobs-kernel")
    assert kernel == [
        "/opt/conda/bin/python",
        "-m",
        "ipykernel_launcher",
        "-f",
        objects.KERNEL_RUNTIME_FILE,
    ]
    # the server's path (and anything in it) never reaches the pod
    assert "rm -rf" not in json.dumps(container)
    assert objects.KERNEL_SCRIPT.endswith('exec "$@"')


def test_with_a_server_grace_the_kernels_python_runs_it_under_the_guard():
    sh, flag, script, arg0, *kernel = objects.kernel_command(
        ["/opt/conda/bin/python", "-m", "ipykernel_launcher", "-f", ODD_PATH], 600.0
    )
    assert (sh, flag, script, arg0) == ("sh", "-c", objects.KERNEL_SCRIPT, "jupyter-jobs-kernel")
    assert kernel == [
        "/opt/conda/bin/python",
        "-c",
        objects.KERNEL_GUARD,
        "600",
        objects.TERMINATION_LOG,
        "-m",
        "ipykernel_launcher",
        "-f",
        objects.KERNEL_RUNTIME_FILE,
    ]
    compile(objects.KERNEL_GUARD, "guard", "exec")  # valid Python for any kernel's interpreter
    assert f"os._exit({objects.KERNEL_GUARD_EXIT})" in objects.KERNEL_GUARD


def test_a_kernel_argv_without_its_connection_file_is_refused():
    with pytest.raises(ValueError, match="-f FILE"):
        objects.kernel_command(["python", "-m", "ipykernel_launcher"])


def test_kernel_secret_holds_the_key_with_fixed_ports_and_is_owned_by_the_job():
    secret = kernel_secret()
    conn = json.loads(secret["stringData"][objects.KERNEL_CONNECTION_FILE])
    assert conn["key"] == "k" and conn["ip"] == "0.0.0.0" and conn["control_port"] == 50004
    owner = secret["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"]) == ("Job", "u-1")
    assert objects.is_dns1123_label(secret["metadata"]["name"])
