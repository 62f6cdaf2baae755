"""The pure Kubernetes builders: schema-valid for the oldest and newest supported Kubernetes,
plus the rules the schema does not hold, kubespawner's merge semantics and pod reading."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

from jupyter_jobs.models import CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING
from jupyter_jobs.spawners import k8s_objects as o

#: the oldest and newest Kubernetes the installed kubernetes-validate ships schemas for
VERSIONS = (all_versions()[0], all_versions()[-1])
JOB_ID = "0123456789abcdef0123456789abcdef"


def full_job(**over):
    kw = dict(
        name=o.job_object_name(JOB_ID),
        namespace="jhub",
        image="quay.io/jupyter/scipy-notebook:2024-10-07",
        command=["python", "train.py", "--epochs", "3"],
        job_id=JOB_ID,
        user="alice@example.org",
        display_name="train model (ünïcode)",
        env={"A": "1", "B": "x y"},
        working_dir="/home/jovyan/work",
        cpus=4,
        memory=8 * 2**30,
        gpus=2,
        gpu_resource_key="amd.com/gpu",
        extra_resource_limits={"ephemeral-storage": "10Gi"},
        extra_resource_guarantees={"ephemeral-storage": "1Gi"},
        time_limit=3600,
        ttl_seconds_after_finished=600,
        node_selector={"pool": "gpu"},
        tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        volumes=[{"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}}],
        volume_mounts=[{"name": "home", "mountPath": "/home/jovyan"}],
        service_account="jobs",
        image_pull_policy="IfNotPresent",
        image_pull_secrets=["registry"],
        pod_security_context={"fsGroup": 100, "runAsUser": 1000},
        container_security_context={"allowPrivilegeEscalation": False},
        ports={"shell": 50001, "iopub": 50002},
        extra_labels={"team": "ml"},
        extra_annotations={"cost-center": "42"},
        job_dir="/home/jovyan/.local/share/jupyter/jobs/" + JOB_ID,
        runner=True,
        extra_pod_config={"priority_class_name": "batch"},
        extra_container_config={"stdin": False},
    )
    kw.update(over)
    return o.make_job(**kw)


def minimal_job():
    return o.make_job(
        name="jupyter-job-x",
        namespace="default",
        image="busybox",
        command=["true"],
        job_id="x",
        user="bob",
    )


def secret():
    return o.make_secret(
        name=o.kernel_secret_name(JOB_ID),
        namespace="jhub",
        string_data={"kernel.json": '{"key": "k"}'},
        labels=o.base_labels("alice"),
        owner={
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "jupyter-job-x",
            "uid": "7f0f1a9e-0000-4000-8000-000000000000",
            "blockOwnerDeletion": True,
        },
    )


MANIFESTS = {"full job": full_job, "minimal job": minimal_job, "kernel secret": secret}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("which", sorted(MANIFESTS))
def test_manifest_is_valid_for_oldest_and_newest_kubernetes(which, version):
    kubernetes_validate.validate(MANIFESTS[which](), version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_strict_validation_catches_a_misspelt_field(version):
    bad = full_job(extra_pod_config={"priorityClassName": "batch"})
    bad["spec"]["template"]["spec"]["nodeSelecter"] = {"a": "b"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, version, strict=True)


def test_rules_the_schema_does_not_hold():
    job = full_job()
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")  # Jobs refuse Always
    assert job["spec"]["backoffLimit"] == 0
    assert o.is_dns1123_label(job["metadata"]["name"])
    # the Job controller names pods NAME-xxxxx and labels them job-name=NAME
    assert len(job["metadata"]["name"]) + 6 <= 63
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        for key, value in labels.items():
            assert o.is_label_value(value), (key, value)
            assert len(key.split("/")[-1]) <= 63
    names = [v["name"] for v in pod["volumes"]]
    assert len(names) == len(set(names))
    assert {m["name"] for m in pod["containers"][0]["volumeMounts"]} <= set(names)
    for port in pod["containers"][0]["ports"]:
        assert len(port["name"]) <= 15 and re.match(r"^[a-z0-9-]+$", port["name"])


def test_resources_become_requests_and_limits_and_gpus_use_the_configured_key():
    res = full_job()["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert res["requests"] == {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "1Gi"}
    assert res["limits"] == {
        "cpu": "4",
        "memory": "8Gi",
        "amd.com/gpu": "2",
        "ephemeral-storage": "10Gi",
    }
    assert "resources" not in minimal_job()["spec"]["template"]["spec"]["containers"][0]
    assert o.make_resources(None, 1536 * 2**20, 0) == {
        "requests": {"memory": "1536Mi"},
        "limits": {"memory": "1536Mi"},
    }


def test_time_limit_ttl_and_identity_of_user_and_job():
    job = full_job()
    assert job["spec"]["activeDeadlineSeconds"] == 3600
    assert job["spec"]["ttlSecondsAfterFinished"] == 600
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels[o.LABEL_JOB_ID] == JOB_ID
    assert labels[o.MANAGED_BY[0]] == "jupyter-jobs"
    assert labels["team"] == "ml"
    ann = job["spec"]["template"]["metadata"]["annotations"]
    assert ann[o.ANNOTATION_USER] == "alice@example.org"  # labels cannot hold '@': annotations do
    assert ann[o.ANNOTATION_NAME] == "train model (ünïcode)"
    assert ann[o.ANNOTATION_RUNNER] == "true"
    assert "activeDeadlineSeconds" not in minimal_job()["spec"]
    assert minimal_job()["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_label_value_keeps_valid_names_and_makes_others_valid_and_distinct():
    assert o.label_value("alice") == "alice"
    a, b = o.label_value("alice@example.org"), o.label_value("alice#example.org")
    assert a != b and o.is_label_value(a) and o.is_label_value(b)
    long = o.label_value("x" * 200)
    assert o.is_label_value(long) and len(long) <= 63
    assert o.is_label_value(o.label_value("-_.weird-"))


def test_extra_configs_replace_top_level_fields_in_either_case_as_kubespawner_does():
    job = full_job(
        extra_pod_config={"node_selector": {"other": "x"}, "hostAliases": []},
        extra_container_config={"working_dir": "/tmp", "imagePullPolicy": "Always"},
    )
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"other": "x"}  # replaced, not merged
    assert pod["hostAliases"] == []
    assert pod["containers"][0]["workingDir"] == "/tmp"
    assert pod["containers"][0]["imagePullPolicy"] == "Always"
    with pytest.raises(ValueError, match="not a field of a pod spec"):
        full_job(extra_pod_config={"nodeSelecter": {}})
    with pytest.raises(ValueError, match="not a field of a container"):
        full_job(extra_container_config={"cmd": ["x"]})


SERVER_POD = {
    "metadata": {"name": "jupyter-alice", "namespace": "jhub"},
    "spec": {
        "containers": [
            {"name": "sidecar", "image": "proxy:1"},
            {
                "name": "notebook",
                "image": "quay.io/jupyter/scipy-notebook:2024-10-07",
                "imagePullPolicy": "IfNotPresent",
                "env": [{"name": "JUPYTERHUB_API_TOKEN", "value": "secret"}],
                "securityContext": {"runAsUser": 1000},
                "volumeMounts": [
                    {"name": "home", "mountPath": "/home/jovyan"},
                    {"name": "kube-api-access-x2", "mountPath": o.SA_MOUNT, "readOnly": True},
                ],
            },
        ],
        "volumes": [
            {"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}},
            {"name": "kube-api-access-x2", "projected": {"sources": []}},
            {"name": "proxy-config", "configMap": {"name": "proxy"}},
        ],
        "imagePullSecrets": [{"name": "registry"}],
        "securityContext": {"fsGroup": 100},
    },
}


def test_inheriting_the_server_pod_takes_image_and_volumes_but_no_tokens():
    got = o.inherit_from_pod(SERVER_POD)
    assert got["image"] == "quay.io/jupyter/scipy-notebook:2024-10-07"
    assert [v["name"] for v in got["volumes"]] == ["home"]
    assert got["volume_mounts"] == [{"name": "home", "mountPath": "/home/jovyan"}]
    assert got["pod_security_context"] == {"fsGroup": 100}
    assert got["container_security_context"] == {"runAsUser": 1000}
    assert got["image_pull_secrets"] == ["registry"]
    assert "env" not in got and "JUPYTERHUB_API_TOKEN" not in repr(got)
    job = full_job(**{k: v for k, v in got.items()})
    for version in VERSIONS:
        kubernetes_validate.validate(job, version, strict=True)


# ---------------------------------------------------------------- reading pods


def pod(phase, state=None, conditions=None, **status):
    st = {"phase": phase, **status}
    if state is not None:
        st["containerStatuses"] = [{"name": "job", "state": state}]
    if conditions:
        st["conditions"] = conditions
    return {"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}, "status": st}


def test_unschedulable_pod_is_queued_with_the_schedulers_message():
    u = o.pod_update(
        pod(
            "Pending",
            conditions=[
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
                }
            ],
        )
    )
    assert u.status == QUEUED
    assert u.reason == "Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."


def test_image_pull_backoff_is_a_reason_the_user_can_act_on():
    u = o.pod_update(
        pod(
            "Pending",
            {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": 'Back-off pulling image "nope:1"',
                }
            },
        )
    )
    assert u.status == QUEUED and u.reason.startswith("ImagePullBackOff: Back-off pulling")


def test_container_creating_clears_the_reason():
    u = o.pod_update(pod("Pending", {"waiting": {"reason": "ContainerCreating"}}))
    assert u.status == QUEUED and u.reason is None and u.clear_reason


def test_running_pod_gives_host_start_and_ip():
    u = o.pod_update(
        pod("Running", {"running": {"startedAt": "2026-01-02T03:04:05Z"}}, podIP="10.0.0.9")
    )
    assert (u.status, u.host, u.state["pod_ip"]) == (RUNNING, "n1", "10.0.0.9")
    assert u.started_at.isoformat() == "2026-01-02T03:04:05+00:00"


def test_exit_code_comes_from_the_terminated_container():
    u = o.pod_update(pod("Failed", {"terminated": {"exitCode": 3, "reason": "Error"}}))
    assert (u.status, u.exit_code, u.reason) == (FAILED, 3, "exit code 3")
    ok = o.pod_update(pod("Succeeded", {"terminated": {"exitCode": 0, "reason": "Completed"}}))
    assert (ok.status, ok.exit_code, ok.reason) == (COMPLETED, 0, None)


def test_oom_killed_says_so_with_the_limit():
    u = o.pod_update(
        pod("Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}), memory="2Gi"
    )
    assert u.status == FAILED and u.exit_code == 137
    assert u.reason == "OOMKilled: the job used all its memory of 2Gi and was killed"


def test_evicted_pod_reason_comes_from_the_pod_status():
    u = o.pod_update(pod("Failed", reason="Evicted", message="The node was low on memory."))
    assert u.status == FAILED and u.reason == "Evicted: The node was low on memory."


def test_the_runners_status_wins_over_the_runners_own_exit_code():
    runner = {
        "state": "failed",
        "exit_code": 2,
        "reason": "exit code 2",
        "started_at": "2026-01-02T03:04:05Z",
        "finished_at": "2026-01-02T03:05:05Z",
    }
    u = o.pod_update(pod("Succeeded", {"terminated": {"exitCode": 0}}), runner)
    assert (u.status, u.exit_code, u.reason) == (FAILED, 2, "exit code 2")
    cancelled = o.pod_update(
        pod("Succeeded", {"terminated": {"exitCode": 0}}),
        {"state": CANCELLED, "exit_code": None, "reason": "cancelled"},
    )
    assert cancelled.status == CANCELLED


def test_job_failure_reads_the_deadline_condition():
    job = {
        "status": {
            "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]
        }
    }
    assert "time limit exceeded" in o.job_failure(job)
    assert (
        o.job_failure({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}) is None
    )
