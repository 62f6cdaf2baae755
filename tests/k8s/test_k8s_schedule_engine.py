"""Job definitions on Kubernetes fired by the engine (issue 12): each definition is a CronJob
that a real Jupyter server creates, suspends, resumes, replaces and deletes through the REST API
on the loopback fake API; the Jobs the CronJob makes (``fake_cluster.fire_cronjob``, what the
controller does) are recorded as runs exactly once over two servers of one job root, and followed
to their end with their log. A runner image's pod makes its own job directory
(``python -m jupyter_jobs.k8s_run``, run here for real as the kubelet would run the container)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from traitlets.config import Config

from jupyter_jobs import k8s_run
from jupyter_jobs.manager import JobManager
from jupyter_jobs.spawners import k8s_objects as objects
from jupyter_jobs.spawners import k8s_schedule
from jupyter_jobs.store import JobStore

from .conftest import eventually

API = "job-definitions"
K8S = {
    "image": "python:3.12-slim",
    "user": "alice",
    "retry_delay": 0.05,
    "max_retry_delay": 0.2,
    "inherit_server_pod": False,
    "poll_interval": 0.2,
}
TICK = {"check_interval": 0.1}


@pytest.fixture
def jobs_config(kubeconfig):
    return {
        "JobManager": {"enabled_backends": ["local", "kubernetes"]},
        "KubernetesSpawner": dict(K8S),
        "JobDefinitions": dict(TICK),
    }


async def create(jobs_api, **over):
    body = {
        "command": ["python", "-c", "print('report')"],
        "backend": "kubernetes",
        "schedule": "0 6 * * 1-5",
        "timezone": "Europe/Berlin",
        **over,
    }
    r = await jobs_api.request("POST", API, body)
    assert r.code == 201, r.body
    return json.loads(r.body)


async def patch(jobs_api, definition_id, body):
    r = await jobs_api.request("PATCH", f"{API}/{definition_id}", body)
    assert r.code == 200, r.body
    return json.loads(r.body)


def the_cronjob(kube, definition_id):
    return kube.cronjobs.get(("jobs", objects.cronjob_name(definition_id)))


async def test_backends_say_the_engine_fires_kubernetes_schedules(kube, jobs_api, started):
    await started()
    r = await jobs_api.request("GET", "backends")
    backends = {b["name"]: b for b in json.loads(r.body)["backends"]}
    assert backends["kubernetes"]["schedules"] == "engine"
    assert backends["local"]["schedules"] == "server"
    d = await create(jobs_api)
    assert d["fired_by"] == "engine"


async def test_create_pause_resume_edit_and_delete_the_cronjob(kube, jobs_api, started):
    await started()
    d = await create(jobs_api, overlap="skip", max_history=7)
    cj = the_cronjob(kube, d["id"])
    assert cj is not None, kube.cronjobs
    spec = cj["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"], spec["suspend"]) == (
        "0 6 * * 1-5",
        "Europe/Berlin",
        "Forbid",
        False,
    )
    assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 7
    container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-c", "print('report')"]  # a direct image
    uid = cj["metadata"]["uid"]

    await patch(jobs_api, d["id"], {"active": False})
    assert the_cronjob(kube, d["id"])["spec"]["suspend"] is True
    with pytest.raises(AssertionError, match="suspended"):
        kube.fire_cronjob("jobs", objects.cronjob_name(d["id"]), datetime.now(timezone.utc))
    await patch(jobs_api, d["id"], {"active": True})
    assert the_cronjob(kube, d["id"])["spec"]["suspend"] is False

    edited = await patch(jobs_api, d["id"], {"schedule": "30 7 * * *", "overlap": "allow"})
    cj = the_cronjob(kube, d["id"])
    assert cj["metadata"]["uid"] == uid  # replaced, not re-created
    assert (cj["spec"]["schedule"], cj["spec"]["concurrencyPolicy"]) == ("30 7 * * *", "Allow")
    assert cj["metadata"]["annotations"][objects.ANNOTATION_REVISION] == str(edited["revision"])
    assert cj["spec"]["suspend"] is False

    r = await jobs_api.request("DELETE", f"{API}/{d['id']}")
    assert r.code == 204
    assert the_cronjob(kube, d["id"]) is None


async def test_a_definition_created_while_paused_makes_a_suspended_cronjob_on_resume(
    kube, jobs_api, started
):
    await started()
    d = await create(jobs_api, active=False)
    assert the_cronjob(kube, d["id"]) is None  # nothing to fire
    await patch(jobs_api, d["id"], {"active": True})
    assert the_cronjob(kube, d["id"])["spec"]["suspend"] is False


async def test_a_cronjob_lost_while_the_api_was_away_is_made_again(kube, jobs_api, started):
    await started()
    d = await create(jobs_api)
    kube.cronjobs.clear()  # gone behind the server's back (as if created while unreachable)
    manager_spawner = await started()
    manager_spawner.schedules.arranged.clear()  # a server started since: knows nothing
    await eventually(lambda: the_cronjob(kube, d["id"]) is not None)


async def test_a_definition_made_while_the_api_is_down_gets_its_cronjob_when_it_is_back(
    kube, jobs_api, started
):
    await started()
    await kube.stop()
    d = await create(jobs_api)  # saved: the engine is asked again at the next looks
    assert d["fired_by"] == "engine"
    await kube.start()
    await eventually(lambda: the_cronjob(kube, d["id"]) is not None, timeout=15)
    assert the_cronjob(kube, d["id"])["spec"]["suspend"] is False


async def test_one_look_at_many_definitions_is_one_list_call(kube, jobs_api, started, manager):
    spawner = await started()
    made = [await create(jobs_api, schedule=f"{i} 6 * * *") for i in range(20)]
    await manager.definitions.stop()  # the looks are made here, one at a time
    await manager.definitions.tick()  # the CronJobs are known (made by this server)
    kube.calls.clear()
    spawner.schedules._listed = None  # the next look comes later than the list is kept
    await manager.definitions.tick()
    # one list of the user's definition Jobs for all twenty, nothing per definition
    assert dict(kube.calls) == {"GET jobs": 1}, dict(kube.calls)
    assert len(made) == len(kube.cronjobs) == 20


def second_manager(tmp_path, job_root, root_dir) -> JobManager:
    """Another server of the same job root (in this process: its own lease, index, watch)."""
    config = Config(
        {
            "JobManager": {"enabled_backends": ["kubernetes"]},
            "KubernetesSpawner": dict(K8S),
            "JobDefinitions": dict(TICK),
        }
    )
    return JobManager(
        store=JobStore(str(tmp_path / "second-index.db")),
        job_root=job_root,
        root_dir=root_dir,
        emit=None,
        config=config,
    )


async def test_a_fired_cronjob_is_one_run_on_two_servers_followed_to_its_end(
    kube, jobs_api, started, manager, tmp_path
):
    await started()
    other = second_manager(tmp_path, manager.job_root, manager.root_dir)
    await other.start()
    try:
        await eventually(lambda: other.spawners["kubernetes"].reflector.healthy)
        d = await create(jobs_api)
        name = objects.cronjob_name(d["id"])
        at = datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc)  # 06:00 in Berlin
        k8s_job = kube.fire_cronjob("jobs", name, at)
        run_id = k8s_job["metadata"]["uid"].replace("-", "")

        def owners():
            return [
                m.server_id
                for m in (manager, other)
                if run_id in m.active and m.mine(m.active[run_id])
            ]

        await eventually(lambda: owners())
        # both servers look at the definitions ten times a second: give them a few looks
        for _ in range(5):
            await asyncio.sleep(0.15)
            assert len(owners()) == 1, owners()
        job = await jobs_api.get(run_id)
        assert job["definition_id"] == d["id"]
        assert job["scheduled_for"].startswith("2026-12-02T05:00:00")
        assert job["attempt"] == 1 and job["backend"] == "kubernetes"
        assert job["backend_ref"] == f"jobs/{k8s_job['metadata']['name']}"
        marker = os.path.join(
            manager.job_root, "definitions", d["id"], f"k8s-{k8s_job['metadata']['name']}"
        )
        assert json.load(open(marker))["job_id"] == run_id
        # exactly one directory was made for it
        assert [n for n in os.listdir(manager.job_root) if n.startswith(run_id[:8])] == [run_id]

        pod = kube.pod_of(k8s_job["metadata"]["name"], "jobs")
        kube.run(pod, node="node-3")
        await jobs_api.wait(run_id, ("running",), timeout=10)
        kube.append_log(pod, b"report\n")
        kube.finish(pod, 0)
        done = await jobs_api.wait(run_id, timeout=10)
        assert (done["status"], done["exit_code"], done["host"]) == ("completed", 0, "node-3")
        assert await jobs_api.log(run_id) == "report\n"

        r = await jobs_api.request("GET", "jobs", definition=d["id"])
        assert [j["id"] for j in json.loads(r.body)["jobs"]] == [run_id]
        r = await jobs_api.request("GET", f"{API}/{d['id']}")
        shown = json.loads(r.body)
        assert shown["run_count"] == 1 and shown["last_run"]["id"] == run_id
    finally:
        await other.stop()


async def test_a_direct_jobs_pod_log_is_copied_once_with_two_servers_watching(
    kube, jobs_api, started, manager, tmp_path
):
    """Every server of a job root watches the same pods; only the job's owner copies a direct
    pod's log into ``output.log`` (two copies appended it twice)."""
    await started()
    other = second_manager(tmp_path, manager.job_root, manager.root_dir)
    await other.start()
    try:
        await eventually(lambda: other.spawners["kubernetes"].reflector.healthy)
        job = await jobs_api.submit({"command": ["echo", "hi"], "backend": "kubernetes"})
        await eventually(lambda: job["id"] in other.active)  # the other server sees it too
        pod = kube.pod_of(objects.job_object_name(job["id"]), "jobs")
        kube.run(pod)
        kube.append_log(pod, b"one line\n")
        kube.finish(pod, 0)
        done = await jobs_api.wait(job["id"], timeout=10)
        assert done["status"] == "completed"
        await asyncio.sleep(0.5)  # a second copy, if any, would be written by now
        assert await jobs_api.log(job["id"]) == "one line\n"
    finally:
        await other.stop()


async def test_a_failed_run_is_retried_by_the_server_as_a_one_off_job(kube, jobs_api, started):
    await started()
    d = await create(jobs_api, retries=1, retry_delay=0)
    at = datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc)
    k8s_job = kube.fire_cronjob("jobs", objects.cronjob_name(d["id"]), at)
    run_id = k8s_job["metadata"]["uid"].replace("-", "")
    for _ in range(100):
        r = await jobs_api.request("GET", f"jobs/{run_id}")
        if r.code == 200:
            break
        await asyncio.sleep(0.05)
    pod = kube.pod_of(k8s_job["metadata"]["name"], "jobs")
    kube.run(pod)
    kube.finish(pod, 3)
    failed = await jobs_api.wait(run_id, timeout=10)
    assert (failed["status"], failed["exit_code"]) == ("failed", 3)

    async def retries():
        r = await jobs_api.request("GET", "jobs", definition=d["id"])
        return [j for j in json.loads(r.body)["jobs"] if j["id"] != run_id]

    for _ in range(100):
        if await retries():
            break
        await asyncio.sleep(0.05)
    (retry,) = await retries()
    assert retry["attempt"] == 2 and retry["scheduled_for"] == failed["scheduled_for"]
    assert ("jobs", objects.job_object_name(retry["id"])) in kube.jobs  # a one-off Job
    await asyncio.sleep(0.3)  # more looks: still one retry
    assert len(await retries()) == 1


def downward_env(pod: dict) -> dict[str, str]:
    """The container's environment as the kubelet makes it (``valueFrom.fieldRef`` resolved)."""
    labels = pod["metadata"].get("labels") or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_JOBS_")}
    for item in pod["spec"]["containers"][0].get("env") or []:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        path = item["valueFrom"]["fieldRef"]["fieldPath"]
        if path == "metadata.namespace":
            env[item["name"]] = pod["metadata"]["namespace"]
        elif path.startswith("metadata.labels['"):
            env[item["name"]] = labels.get(path[len("metadata.labels['") : -2], "")
    return env


class TestARunnerImage:
    """The server's own image (jupyter-jobs in it, the job root mounted): the pod makes its run's
    directory itself from the prepared run, so no server needs to be running when it fires."""

    @pytest.fixture
    def jobs_config(self, kubeconfig):
        return {
            "JobManager": {"enabled_backends": ["local", "kubernetes"]},
            "KubernetesSpawner": {**K8S, "runner_in_image": True, "runner_python": sys.executable},
            "JobDefinitions": dict(TICK),
        }

    async def test_the_pod_makes_its_run_with_no_server_looking(
        self, kube, jobs_api, started, manager
    ):
        await started()
        code = "import sys; print('from the runner', sys.argv[1:])"
        d = await create(jobs_api, command=[sys.executable, "-c", code])
        cj = the_cronjob(kube, d["id"])
        template = cj["spec"]["jobTemplate"]["spec"]["template"]
        container = template["spec"]["containers"][0]
        prepared = k8s_schedule.template_dir(
            os.path.join(manager.job_root, "definitions", d["id"]), d["revision"]
        )
        assert container["command"] == [sys.executable, "-m", "jupyter_jobs.k8s_run", prepared]
        names = {e["name"] for e in container["env"] if "valueFrom" in e}
        assert set(k8s_run.ENV_UID) <= names
        assert os.path.isfile(os.path.join(prepared, "spec.json"))

        await manager.definitions.stop()  # nobody records runs now: the pod is on its own
        # an occurrence the pod cannot guess (not the latest): the server takes the one the
        # controller wrote on the Job
        at = datetime(2026, 11, 30, 5, 0, tzinfo=timezone.utc)
        k8s_job = kube.fire_cronjob("jobs", objects.cronjob_name(d["id"]), at)
        run_id = k8s_job["metadata"]["uid"].replace("-", "")
        pod = kube.pod_of(k8s_job["metadata"]["name"], "jobs")
        kube.run(pod)
        # the kubelet's part: the container's command, with its downward-API environment
        proc = subprocess.run(
            container["command"], env=downward_env(pod), capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        run_dir = os.path.join(manager.job_root, run_id)
        record = json.load(open(os.path.join(run_dir, "job.json")))
        assert record["definition_id"] == d["id"] and record["id"] == run_id
        assert record["backend_ref"] == f"jobs/{k8s_job['metadata']['name']}"
        assert json.load(open(os.path.join(run_dir, "status.json")))["state"] == "completed"
        kube.finish(pod, 0)

        await manager.definitions.start()  # a server looks again: records and follows it
        done = await jobs_api.wait(run_id, timeout=15)
        assert (done["status"], done["exit_code"]) == ("completed", 0)
        assert done["definition_id"] == d["id"]

        # the pod guessed the latest occurrence; its owner mends it at its next look
        async def occurrence():
            return (await jobs_api.get(run_id))["scheduled_for"]

        for _ in range(100):
            if (await occurrence()).startswith("2026-11-30T05:00:00"):
                break
            await asyncio.sleep(0.05)
        assert (await occurrence()).startswith("2026-11-30T05:00:00")
        assert await jobs_api.log(run_id) == "from the runner []\n"
        # the same directory: one run, whoever came first
        assert [n for n in os.listdir(manager.job_root) if n.startswith(run_id[:8])] == [run_id]


def test_the_pod_and_a_server_make_one_run_directory_whoever_is_first(tmp_path):
    """``k8s_run.clone_run`` from both sides: the first makes the directory, the second finds
    it (and its record) and changes nothing; ids of the prepared run are replaced."""
    template_id, run_id = "a" * 32, "b" * 32
    prepared = tmp_path / "definitions" / ("d" * 32) / "prepared-run-1"
    (prepared / "input").mkdir(parents=True)
    (prepared / "input" / "report.py").write_text("print('pinned')\n")
    record = {
        "id": template_id,
        "name": "report.py",
        "kind": "script",
        "backend": "kubernetes",
        "profile": "default",
        "argv": ["python", f"/jobs/{template_id}/input/report.py"],
        "definition_id": "d" * 32,
        "state": {"cwd": str(tmp_path)},
    }
    (prepared / "job.json").write_text(json.dumps(record))
    (prepared / "spec.json").write_text(json.dumps({"id": template_id, "argv": record["argv"]}))
    common = dict(namespace="jobs", job_name="jupyter-def-x-1", scheduled_for=None)
    pod_job, pod_made = k8s_run.clone_run(
        str(prepared), str(tmp_path), run_id, owner=k8s_run.ENGINE_OWNER, **common
    )
    server_job, server_made = k8s_run.clone_run(
        str(prepared), str(tmp_path), run_id, owner="server-1", **common
    )
    assert (pod_made, server_made) == (True, False)
    assert server_job.owner == k8s_run.ENGINE_OWNER  # the first one's record, untouched
    run_dir = tmp_path / run_id
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["id"] == run_id and spec["argv"][1] == f"/jobs/{run_id}/input/report.py"
    assert (run_dir / "input" / "report.py").read_text() == "print('pinned')\n"
    assert pod_job.backend_ref == "jobs/jupyter-def-x-1" and pod_job.status == "queued"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".new-")]
    assert k8s_run.run_id_from_env(
        {k8s_run.ENV_UID[1]: "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"}
    ) == ("0b1c2d3e4f5061728394a5b6c7d8e9f0")
    assert k8s_run.run_id_from_env({k8s_run.ENV_UID[0]: ""}) is None
