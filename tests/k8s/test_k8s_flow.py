"""The Kubernetes backend driving the real kubernetes_asyncio client against the loopback fake."""

from __future__ import annotations

import base64
import json
import os

import pytest

from jupyter_jobs.exceptions import BadRequest, EngineUnavailable
from jupyter_jobs.models import CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING
from jupyter_jobs.spawners import k8s_objects as objects
from jupyter_jobs.spawners.kubernetes import KubernetesSpawner

from .conftest import eventually, read


async def test_submit_creates_one_job_whose_pod_transitions_are_pushed(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    job = make_job(cpus=2, memory=2**30, time_limit=600)
    update = await spawner.submit(job)
    assert update.status == QUEUED
    assert update.backend_ref == f"jobs/{objects.job_object_name(job.id)}"
    created = kube.jobs[("jobs", objects.job_object_name(job.id))]
    assert created["spec"]["activeDeadlineSeconds"] == 600
    pod = kube.pod_of(objects.job_object_name(job.id), "jobs")
    await recorder.wait_for(job.id, QUEUED)
    kube.run(pod, node="node-7")
    running = await recorder.wait_for(job.id, RUNNING)
    assert running.host == "node-7"
    kube.append_log(pod, b"hello from the pod\n")
    kube.finish(pod, 0)
    done = await recorder.wait_for(job.id, COMPLETED)
    assert done.exit_code == 0
    assert read(os.path.join(job.job_dir, "output.log")) == "hello from the pod\n"


async def test_one_watch_serves_all_jobs_and_poll_makes_no_api_calls(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    jobs = [make_job() for _ in range(5)]
    for job in jobs:
        await spawner.submit(job)
    for job in jobs:
        kube.run(kube.pod_of(objects.job_object_name(job.id), "jobs"))
    await eventually(lambda: all(RUNNING in recorder.statuses(j.id) for j in jobs))
    before = dict(kube.calls)
    for job in jobs:
        job.status = QUEUED
    updates = await spawner.poll(jobs)
    assert {u.status for u in updates.values()} == {RUNNING} and len(updates) == 5
    assert dict(kube.calls) == before  # answered from the watch's cache
    assert kube.calls["GET pods"] == 1 and kube.calls["GET pods (watch)"] == 1
    watch_url = [c for c in kube.calls if "watch" in c]
    assert watch_url == ["GET pods (watch)"]


async def test_the_watch_selects_only_this_users_jobs(kube, make_spawner, make_job, recorder):
    alice = await make_spawner(user="alice")
    bob = await make_spawner(user="bob")
    job = make_job()
    await bob.submit(job)
    kube.run(kube.pod_of(objects.job_object_name(job.id), "jobs"))
    await eventually(lambda: any(p for p in bob.reflector.pods.values()))
    assert alice.reflector.pods == {}


async def test_a_dropped_watch_resumes_from_its_resource_version_without_missing_a_transition(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    job = make_job()
    await spawner.submit(job)
    pod = kube.pod_of(objects.job_object_name(job.id), "jobs")
    await recorder.wait_for(job.id, QUEUED)
    await kube.stop()  # the API server goes away, watch and all
    kube.run(pod)  # …and the pod starts and ends meanwhile
    kube.finish(pod, 4)
    await kube.start()
    await recorder.wait_for(job.id, FAILED)
    assert recorder.statuses(job.id) == [QUEUED, RUNNING, FAILED]
    assert recorder.last(job.id).exit_code == 4
    assert spawner.reflector.lists == 1  # resumed, not relisted
    assert kube.calls["GET pods"] == 1


async def test_a_410_relists_and_still_reaches_the_final_state(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    job = make_job()
    await spawner.submit(job)
    pod = kube.pod_of(objects.job_object_name(job.id), "jobs")
    await recorder.wait_for(job.id, QUEUED)
    await kube.stop()
    kube.run(pod)
    kube.finish(pod, 0)
    kube.compact()  # the history the watch would resume from is gone: 410
    await kube.start()
    await recorder.wait_for(job.id, COMPLETED)
    assert spawner.reflector.lists == 2
    assert kube.calls["GET pods"] == 2  # the first list and one relist


async def test_bookmarks_move_the_resource_version_forward(kube, make_spawner, make_job):
    kube.bookmark_every = 0.05
    spawner = await make_spawner()
    other = await make_spawner(user="bob")
    await other.submit(make_job())  # events the alice watch does not select
    rv = int(kube.rv)
    await eventually(lambda: int(spawner.reflector.resource_version) >= rv)


async def test_api_unreachable_marks_nothing_failed_and_says_why(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    job = make_job()
    await spawner.submit(job)
    job.status = QUEUED
    await recorder.wait_for(job.id, QUEUED)
    await kube.stop()
    await eventually(lambda: spawner.reflector.error)
    with pytest.raises(EngineUnavailable, match=r"unreachable|cut"):
        await spawner.poll([job])
    available, reason = await spawner.check_available()
    assert not available and reason
    with pytest.raises(EngineUnavailable):
        await spawner.submit(make_job())
    assert recorder.statuses(job.id) == [QUEUED]
    await kube.start()
    await eventually(lambda: spawner.reflector.healthy)
    assert await spawner.poll([job]) == {}
    assert (await spawner.check_available()) == (True, None)


async def test_cancel_deletes_the_job_in_the_foreground_and_reports_cancelled(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    job = make_job()
    await spawner.submit(job)
    name = objects.job_object_name(job.id)
    kube.run(kube.pod_of(name, "jobs"))
    await recorder.wait_for(job.id, RUNNING)
    job.status = "cancelling"
    assert await spawner.cancel(job) is None  # the watch tells when the pod is gone
    assert kube.deletes == [{"namespace": "jobs", "name": name, "propagationPolicy": "Foreground"}]
    await recorder.wait_for(job.id, CANCELLED)
    assert kube.pods_of(name, "jobs") == []
    await eventually(lambda: job.id in spawner._log_done)  # the log copy ends with the pod
    assert recorder.statuses(job.id)[-1] == CANCELLED  # and says nothing stale after it


async def test_cancel_of_a_job_already_gone_is_cancelled_at_once(kube, make_spawner, make_job):
    spawner = await make_spawner()
    job = make_job()
    await spawner.submit(job)
    kube.delete_job("jobs", objects.job_object_name(job.id), "Background")
    await eventually(lambda: not spawner.reflector.pods)
    update = await spawner.cancel(job)
    assert update.status == CANCELLED


async def test_a_restarted_server_reattaches_and_sees_what_happened_meanwhile(
    kube, make_spawner, make_job, recorder
):
    first = await make_spawner()
    job = make_job()
    update = await first.submit(job)
    job.backend_ref, job.state, job.status = (
        update.backend_ref,
        {**job.state, **update.state},
        QUEUED,
    )
    await first.stop()
    pod = kube.pod_of(objects.job_object_name(job.id), "jobs")
    kube.run(pod, node="node-3")
    kube.finish(pod, 0)
    second = await make_spawner()
    second.load_state(job, job.state)
    got = await second.reattach(job)
    assert (got.status, got.exit_code, got.host) == (COMPLETED, 0, "node-3")


async def test_a_job_deleted_for_its_deadline_fails_with_that_reason(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    job = make_job(time_limit=60)
    await spawner.submit(job)
    name = objects.job_object_name(job.id)
    kube.run(kube.pod_of(name, "jobs"))
    await recorder.wait_for(job.id, RUNNING)
    kube.deadline_exceeded(name, "jobs")
    failed = await recorder.wait_for(job.id, FAILED)
    assert "time limit exceeded" in failed.reason
    assert kube.calls["GET job"] == 1


async def test_scheduler_and_image_problems_reach_the_reason(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    a, b = make_job(gpus=8), make_job()
    await spawner.submit(a)
    await spawner.submit(b)
    kube.schedule_fail(
        kube.pod_of(objects.job_object_name(a.id), "jobs"),
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.",
    )
    kube.wait_image(
        kube.pod_of(objects.job_object_name(b.id), "jobs"),
        "ImagePullBackOff",
        'Back-off pulling image "python:3.99"',
    )
    await eventually(lambda: recorder.reason(a.id).startswith("Unschedulable"))
    await eventually(lambda: recorder.reason(b.id).startswith("ImagePullBackOff"))
    assert "Insufficient nvidia.com/gpu" in recorder.last(a.id).reason
    assert recorder.last(a.id).status == QUEUED


async def test_an_oom_killed_job_fails_with_its_memory_limit(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    job = make_job(memory=2**30)
    await spawner.submit(job)
    pod = kube.pod_of(objects.job_object_name(job.id), "jobs")
    kube.run(pod)
    kube.finish(pod, 137, "OOMKilled")
    failed = await recorder.wait_for(job.id, FAILED)
    assert failed.reason == "OOMKilled: the job used all its memory of 1Gi and was killed"


async def test_the_api_servers_refusal_is_a_bad_request_with_its_message(
    kube, make_spawner, make_job
):
    spawner = await make_spawner(extra_container_config={"resources": {"limits": "lots"}})
    with pytest.raises(BadRequest, match="Kubernetes refused create job: Job is invalid"):
        await spawner.submit(make_job())


async def test_unknown_extra_pod_config_field_is_a_bad_request(kube, make_spawner, make_job):
    spawner = await make_spawner(extra_pod_config={"nodeSelecter": {"a": "b"}})
    with pytest.raises(BadRequest, match="nodeSelecter"):
        await spawner.submit(make_job())
    assert kube.calls["POST jobs"] == 0


async def test_the_pod_log_is_copied_live_and_resumed_without_duplicates(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    job = make_job()
    await spawner.submit(job)
    pod = kube.pod_of(objects.job_object_name(job.id), "jobs")
    kube.run(pod)
    log = os.path.join(job.job_dir, "output.log")
    kube.append_log(pod, b"line 1\n")
    await eventually(lambda: read(log) == "line 1\n")
    kube.drop_watches()  # cuts the log stream too: it resumes after the bytes it has
    kube.append_log(pod, b"line 2\n")
    await eventually(lambda: read(log) == "line 1\nline 2\n")
    kube.append_log(pod, b"line 3\n")
    kube.finish(pod, 0)
    await recorder.wait_for(job.id, COMPLETED)
    assert read(log) == "line 1\nline 2\nline 3\n"  # complete before the job is reported done
    assert kube.calls["GET log (follow)"] >= 2


async def test_not_configured_says_why_and_never_connects(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    spawner = KubernetesSpawner()
    await spawner.start()
    available, reason = await spawner.check_available()
    assert not available and "no Kubernetes credentials" in reason
    with pytest.raises(EngineUnavailable, match="no Kubernetes credentials"):
        await spawner.poll([])


def server_pod(tmp_path):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "jupyter-alice"},
        "spec": {
            "containers": [
                {
                    "name": "notebook",
                    "image": "quay.io/jupyter/scipy-notebook:2024-10-07",
                    "env": [{"name": "JUPYTERHUB_API_TOKEN", "value": "secret"}],
                    "volumeMounts": [{"name": "home", "mountPath": str(tmp_path)}],
                }
            ],
            "volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}}],
            "securityContext": {"fsGroup": 100},
        },
        "status": {"phase": "Running"},
    }


async def test_default_profile_runs_the_runner_in_the_server_pods_image_with_its_volumes(
    kube, make_spawner, make_job, recorder, tmp_path
):
    kube.add_pod("jobs", server_pod(tmp_path))
    spawner = await make_spawner(image="", inherit_server_pod=True, server_pod_name="jupyter-alice")
    assert spawner.get_profiles()[0]["display_name"] == "Same image as this server"
    job = make_job()
    update = await spawner.submit(job)
    assert update.state["runner"] is True
    created = kube.jobs[("jobs", objects.job_object_name(job.id))]
    pod_spec = created["spec"]["template"]["spec"]
    container = pod_spec["containers"][0]
    assert container["image"] == "quay.io/jupyter/scipy-notebook:2024-10-07"
    assert container["command"] == [spawner.runner_python, "-m", "jupyter_jobs.runner", job.job_dir]
    assert container["volumeMounts"] == [{"name": "home", "mountPath": str(tmp_path)}]
    assert pod_spec["volumes"][0]["persistentVolumeClaim"]["claimName"] == "claim-alice"
    assert "secret" not in repr(container.get("env"))
    # the runner (on the shared volume) says how the command ended; the pod itself exits 0
    pod = kube.pod_of(objects.job_object_name(job.id), "jobs")
    kube.run(pod)
    with open(os.path.join(job.job_dir, "status.json"), "w") as f:
        f.write('{"state": "failed", "exit_code": 3, "reason": "exit code 3"}')
    kube.finish(pod, 0)
    failed = await recorder.wait_for(job.id, FAILED)
    assert (failed.exit_code, failed.reason) == (3, "exit code 3")
    assert kube.calls["GET log (follow)"] == 0  # the runner writes output.log itself


async def test_a_missing_server_pod_is_an_engine_error_not_a_silent_default(
    kube, make_spawner, make_job
):
    spawner = await make_spawner(image="", inherit_server_pod=True, server_pod_name="nope")
    with pytest.raises(EngineUnavailable, match="pod 'nope' not found"):
        await spawner.submit(make_job())


async def test_a_kernel_job_gets_fixed_ports_and_its_key_in_a_secret_owned_by_the_job(
    kube, make_spawner, make_job, recorder
):
    spawner = await make_spawner()
    conn_file = os.path.join(spawner.job_root, ".kernels", "k1", "conn.json")
    os.makedirs(os.path.dirname(conn_file))
    with open(conn_file, "w") as f:
        json.dump({"key": "s3cret", "signature_scheme": "hmac-sha256", "transport": "tcp"}, f)
    job = make_job(kind="kernel", argv=["python", "-m", "ipykernel_launcher", "-f", conn_file])
    await spawner.submit(job)
    name = objects.job_object_name(job.id)
    created = kube.jobs[("jobs", name)]
    container = created["spec"]["template"]["spec"]["containers"][0]
    assert [p["containerPort"] for p in container["ports"]] == [50001, 50002, 50003, 50004, 50005]
    assert {"name": "jupyter-jobs-kernel", "mountPath": objects.KERNEL_MOUNT, "readOnly": True} in (
        container["volumeMounts"]
    )
    # the kernel's argv follows a fixed script, pointing at the writable copy of the file
    assert container["command"] == [
        "sh",
        "-c",
        objects.KERNEL_SCRIPT,
        "jupyter-jobs-kernel",
        *["python", "-m", "ipykernel_launcher", "-f", objects.KERNEL_RUNTIME_FILE],
    ]
    assert conn_file not in json.dumps(created)  # the server's path means nothing in the pod
    secret = kube.secrets[("jobs", objects.kernel_secret_name(job.id))]
    assert secret["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    conn = json.loads(base64.b64decode(secret["data"]["kernel.json"]))
    assert conn["key"] == "s3cret" and conn["shell_port"] == 50001 and conn["ip"] == "0.0.0.0"
    assert spawner.pod_ip(job.id) is None
    kube.run(kube.pod_of(name, "jobs"), ip="10.4.5.6")
    await recorder.wait_for(job.id, RUNNING)
    info = spawner.kernel_connection_info(job)
    assert info["ip"] == "10.4.5.6" and info["hb_port"] == 50005 and "key" not in info
    job.status = "cancelling"
    await spawner.cancel(job)
    await recorder.wait_for(job.id, CANCELLED)
    assert ("jobs", objects.kernel_secret_name(job.id)) not in kube.secrets  # collected with it


async def test_users_cannot_set_pod_options_or_unlisted_images(kube, make_spawner):
    spawner = await make_spawner(allowed_images=["python:3.12-slim"])
    profile = spawner.resolve_profile(None)
    with pytest.raises(BadRequest, match="cannot be set by users"):
        spawner.validate_resources(profile, {"extra": {"extra_pod_config": {"hostNetwork": True}}})
    with pytest.raises(BadRequest, match="not allowed"):
        spawner.validate_resources(profile, {"image": "evil:latest"})
    with pytest.raises(BadRequest, match="does not support resource 'partition'"):
        spawner.validate_resources(profile, {"partition": "gpu"})
    assert spawner.validate_resources(profile, {"cpus": 2, "image": "python:3.12-slim"}) == {
        "cpus": 2,
        "image": "python:3.12-slim",
    }
