"""A sweep on Kubernetes is ONE Indexed Job (``completionMode: Indexed``, ``completions`` = the
children, ``parallelism`` = the throttle), through the loopback fake API and its Indexed Job
controller (``fake_indexed.py``), with the runner run for real in each pod (as the kubelet would
run the container's command, ``JOB_COMPLETION_INDEX`` from the pod's annotation): one create
call for the whole sweep, never more than the throttle running at once, each child its own
status, log and recorded values; cancel one child (the others run on), cancel the sweep (one
delete of the Job), rerun only the failed children (a new Indexed Job of just those)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from typing import Any

from jupyter_jobs import jobfiles
from jupyter_jobs.spawners import k8s_objects as objects
from jupyter_jobs.spawners import k8s_sweep

from . import fake_indexed
from .conftest import eventually
from .test_k8s_results import jobs_config  # noqa: F401 - the same setup: the server's own image

NS = "jobs"
ACTIVE = ("Pending", "Running")


def code(hold: str = "") -> str:
    """The command of every child: print and record its parameter (``double``); the child with
    ``x == 2`` first waits while the file ``hold`` exists (a run that is still running)."""
    return (
        "import os, json, time, jupyter_jobs; p = json.loads(os.environ['JJ_PARAMETERS'])\n"
        f"while p['x'] == 2 and os.path.exists({hold!r}): time.sleep(0.05)\n"
        "print('child x=%s' % p['x'], flush=True); jupyter_jobs.record(double=p['x'] * 2)\n"
    )


def resolve_env(pod: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet makes it (values and annotation fieldRefs)."""
    env: dict[str, str] = {}
    meta = pod["metadata"]
    for e in pod["spec"]["containers"][0].get("env") or []:
        ref = ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath", "")
        m = re.fullmatch(r"metadata\.(annotations|labels)\['([^']+)'\]", ref)
        env[e["name"]] = meta[m.group(1)][m.group(2)] if m else e.get("value", "")
    return env


class Kubelet:
    """Runs the sweep's pods as the kubelet would: ``start`` a pending pod (phase Running, the
    runner started with the pod's environment), ``end`` it (its exit code ends the pod)."""

    def __init__(self, kube: Any) -> None:
        self.kube = kube
        self.procs: dict[str, asyncio.subprocess.Process] = {}

    def pending(self, job_name: str) -> list[dict[str, Any]]:
        return [
            p
            for p in self.kube.pods_of(job_name, NS)
            if p["status"]["phase"] == "Pending" and p["metadata"]["name"] not in self.procs
        ]

    def active(self, job_name: str) -> list[dict[str, Any]]:
        return [p for p in self.kube.pods_of(job_name, NS) if p["status"]["phase"] in ACTIVE]

    async def start(self, pod: dict[str, Any]) -> None:
        self.kube.run(pod, node="node-1")
        container = pod["spec"]["containers"][0]
        env = {**os.environ, **resolve_env(pod)}
        self.procs[pod["metadata"]["name"]] = await asyncio.create_subprocess_exec(
            *container["command"], *(container.get("args") or []), env=env
        )

    async def end(self, pod: dict[str, Any]) -> int:
        code = await self.procs[pod["metadata"]["name"]].wait()
        if (NS, pod["metadata"]["name"]) in self.kube.pods:  # not deleted meanwhile
            self.kube.finish(pod, code)
        return code

    async def run_all(self, job_name: str, manager: Any, children: list[str], throttle: int):
        """Run every pod the controller makes until the Job is done; at each step, at most
        ``throttle`` pods are active and at most ``throttle`` children are running."""
        most_pods = most_running = 0
        while True:
            batch = self.pending(job_name)
            if not batch:
                break
            most_pods = max(most_pods, len(self.active(job_name)))
            for pod in batch:
                await self.start(pod)
            ids = [self.child_of(manager, p) for p in batch]
            await eventually(lambda ids=ids: all(manager.get(i).status != "queued" for i in ids))
            running = [c for c in children if manager.get(c).status == "running"]
            most_running = max(most_running, len(running))
            for pod in batch:
                assert await self.end(pod) == 0
        assert 0 < most_pods <= throttle and 0 < most_running <= throttle
        return most_pods, most_running

    @staticmethod
    def child_of(manager: Any, pod: dict[str, Any]) -> str:
        child = manager.spawners["kubernetes"].sweeps.job_of(pod)
        assert child, pod["metadata"]
        return child


async def start(manager):
    await manager.start()
    spawner = manager.spawners["kubernetes"]
    await eventually(lambda: spawner.reflector is not None and spawner.reflector.healthy)
    return spawner


async def results(jobs_api, sweep_id: str) -> dict[str, Any]:
    r = await jobs_api.request("GET", f"jobs/{sweep_id}/results")
    assert r.code in (200, 202), r.body
    return json.loads(r.body)


def column(table: dict[str, Any], name: str) -> list[Any]:
    i = table["columns"].index(name)
    return [row[i] for row in table["rows"]]


async def test_a_sweep_is_one_indexed_job_run_at_most_the_throttle_at_once(
    kube, jobs_api, manager, tmp_path
):
    await start(manager)
    sweep = await jobs_api.submit(
        {
            "command": [sys.executable, "-c", code()],
            "backend": "kubernetes",
            "parameter_sets": [{"x": x} for x in range(1, 6)],
            "throttle": 2,
        }
    )
    name = objects.sweep_object_name(sweep["id"])
    assert kube.calls["POST jobs"] == 1  # one create for the five runs
    job = kube.jobs[(NS, name)]
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 5, 2)
    container = spec["template"]["spec"]["containers"][0]
    sweep_dir = manager.root.job_dir(sweep["id"])
    assert container["command"][1:] == ["-m", "jupyter_jobs.runner", "--array", sweep_dir]
    assert len(kube.pods_of(name, NS)) == 2  # the controller starts at most parallelism pods
    assert manager.get(sweep["id"]).state["array_id"] == f"{NS}/{name}"
    for i, child_id in enumerate(sweep["children"]):
        child = await jobs_api.get(child_id)
        assert child["backend_ref"] == k8s_sweep.child_ref(NS, name, i)
        assert child["status"] == "queued"
        if i >= 2:  # no pod yet (a pod's news clears the reason)
            assert f"index {i} of the Kubernetes Indexed Job {NS}/{name}" in child["reason"]

    kubelet = Kubelet(kube)
    await kubelet.run_all(name, manager, sweep["children"], throttle=2)
    assert fake_indexed.most_active(kube, NS, name) == 2
    # a restarted server (nothing remembered) maps each pod to its child from sweep.json on disk
    fresh = k8s_sweep.SweepPods()
    for pod in kube.pods_of(name, NS):
        assert fresh.job_of(pod) == sweep["children"][objects.completion_index(pod)]
    assert job["status"]["conditions"][0]["type"] == "Complete"
    assert job["status"]["completedIndexes"] == "0-4"

    final = await jobs_api.wait(sweep["id"], timeout=20)
    assert final["status"] == "completed" and final["child_counts"] == {"completed": 5}, final
    assert kube.calls["POST jobs"] == 1
    table = await results(jobs_api, sweep["id"])
    assert column(table, "x") == [1, 2, 3, 4, 5]
    assert column(table, "double") == [2, 4, 6, 8, 10]
    for i, child_id in enumerate(sweep["children"]):  # each child its own log and record
        assert f"child x={i + 1}" in await jobs_api.log(child_id)
        child = await jobs_api.get(child_id)
        assert child["status"] == "completed" and child["host"] == "node-1", child
        assert child["results"] == {"double": 2 * (i + 1)}


async def test_cancel_one_child_the_others_run_on_then_rerun_only_those(
    kube, jobs_api, manager, tmp_path
):
    await start(manager)
    hold = tmp_path / "hold"
    hold.write_text("")
    sweep = await jobs_api.submit(
        {
            "command": [sys.executable, "-c", code(str(hold))],
            "backend": "kubernetes",
            "parameter_sets": [{"x": x} for x in range(1, 5)],
            "throttle": 2,
        }
    )
    name = objects.sweep_object_name(sweep["id"])
    first, second, third, fourth = sweep["children"]
    kubelet = Kubelet(kube)

    # index 3 has no pod yet: cancelled at once, the Job is left alone
    r = await jobs_api.request("POST", f"jobs/{fourth}/cancel")
    assert r.code in (200, 202), r.body
    assert (await jobs_api.get(fourth))["status"] == "cancelled"
    assert not kube.deletes and (NS, name) in kube.jobs

    pods = kubelet.pending(name)
    assert sorted(objects.completion_index(p) for p in pods) == [0, 1]
    for pod in pods:
        await kubelet.start(pod)
    by_index = {objects.completion_index(p): p for p in pods}
    assert await kubelet.end(by_index[0]) == 0  # x=1 runs through
    await eventually(lambda: manager.get(second).status == "running")
    # x=2 runs (held): cancel it alone; its runner stops it and exits 0, the index completes
    r = await jobs_api.request("POST", f"jobs/{second}/cancel")
    assert r.code in (200, 202), r.body
    assert await kubelet.end(by_index[1]) == 0
    assert (await jobs_api.wait(second, timeout=20))["status"] == "cancelled"
    assert not kube.deletes  # one child's cancel deletes nothing

    # the rest run on: index 2 (x=3), then index 3, which finds its cancel request and exits
    await kubelet.run_all(name, manager, sweep["children"], throttle=2)
    final = await jobs_api.wait(sweep["id"], timeout=20)
    assert final["status"] == "cancelled", final
    assert final["child_counts"] == {"completed": 2, "cancelled": 2}
    assert (await jobs_api.get(first))["results"] == {"double": 2}
    assert (await jobs_api.get(third))["results"] == {"double": 6}
    fourth_record = await jobs_api.get(fourth)
    assert fourth_record["status"] == "cancelled" and fourth_record["started_at"] is None
    assert "child x=4" not in await jobs_api.log(fourth)  # its pod ran nothing
    table = await results(jobs_api, sweep["id"])
    assert column(table, "status") == ["completed", "cancelled", "completed", "cancelled"]
    assert column(table, "double") == [2, None, 6, None]

    # rerun only those: a new sweep of x=2 and x=4, one new Indexed Job of two
    hold.unlink()
    r = await jobs_api.request("POST", f"jobs/{sweep['id']}/rerun", {"only": "failed"})
    assert r.code in (200, 201), r.body
    again = json.loads(r.body)
    assert kube.calls["POST jobs"] == 2
    name2 = objects.sweep_object_name(again["id"])
    assert kube.jobs[(NS, name2)]["spec"]["completions"] == 2
    await kubelet.run_all(name2, manager, again["children"], throttle=2)
    done = await jobs_api.wait(again["id"], timeout=20)
    assert done["status"] == "completed", done
    assert column(await results(jobs_api, again["id"]), "double") == [4, 8]


async def test_cancel_the_sweep_is_one_delete_of_its_indexed_job(kube, jobs_api, manager, tmp_path):
    await start(manager)
    hold = tmp_path / "hold"
    hold.write_text("")
    sweep = await jobs_api.submit(
        {
            "command": [sys.executable, "-c", code(str(hold))],
            "backend": "kubernetes",
            "parameter_sets": [{"x": 2}, {"x": 2}, {"x": 2}, {"x": 2}],
            "throttle": 2,
        }
    )
    name = objects.sweep_object_name(sweep["id"])
    kubelet = Kubelet(kube)
    pods = kubelet.pending(name)
    for pod in pods:
        await kubelet.start(pod)
    await eventually(
        lambda: [manager.get(c).status for c in sweep["children"]].count("running") == 2
    )
    r = await jobs_api.request("POST", f"jobs/{sweep['id']}/cancel")
    assert r.code in (200, 202), r.body
    final = await jobs_api.wait(sweep["id"], timeout=20)
    assert final["status"] == "cancelled", final
    assert final["child_counts"] == {"cancelled": 4}
    assert kube.calls["DELETE job"] == 1
    assert kube.deletes == [{"namespace": NS, "name": name, "propagationPolicy": "Background"}]
    assert not kube.pods_of(name, NS) and (NS, name) not in kube.jobs
    # the runners of the two running children found the cancel request and stopped
    for pod in pods:
        assert await kubelet.procs[pod["metadata"]["name"]].wait() == 0
    for child_id in sweep["children"]:
        assert (await jobs_api.get(child_id))["status"] == "cancelled"
    for child_id in sweep["children"][:2]:
        status = jobfiles.read_status(manager.root.job_dir(child_id))
        assert status is not None and status["state"] == "cancelled"
    assert kube.calls["POST jobs"] == 1


def test_the_time_limit_is_each_childs_not_the_whole_sweeps():
    """``activeDeadlineSeconds`` on the Indexed Job would count the whole sweep: it is on the
    pod template (each child; a backstop after the runner's own limit)."""
    from jupyter_jobs.models import Job
    from jupyter_jobs.spawners.kubernetes import KubernetesSpawner

    spawner = KubernetesSpawner(
        user="alice", inherit_server_pod=False, image="py:3", runner_in_image=True
    )
    spawner._ns = NS
    sweep = Job(
        id="0123456789abcdef0123456789abcdef",
        name="s",
        kind="sweep",
        backend="kubernetes",
        profile="default",
        resources={"time_limit": 600},
        job_dir="/jobs/0123456789abcdef0123456789abcdef",
        state={"cwd": "/"},
    )
    job = k8s_sweep.array_manifest(spawner, sweep, 12, 3)
    assert "activeDeadlineSeconds" not in job["spec"]
    assert job["spec"]["template"]["spec"]["activeDeadlineSeconds"] == 660
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == [
        "--array",
        sweep.job_dir,
    ]
    import kubernetes_validate

    kubernetes_validate.validate(job, "1.28.0", strict=True)


async def test_a_pod_that_fails_fails_the_indexed_job_and_the_runs_that_had_not_ended(
    kube, jobs_api, manager
):
    spawner = await start(manager)
    spawner.missing_pod_grace = 0  # the Job's status is read at the next poll
    sweep = await jobs_api.submit(
        {
            "command": [sys.executable, "-c", code()],
            "backend": "kubernetes",
            "parameter_sets": [{"x": 1}, {"x": 2}, {"x": 3}],
            "throttle": 1,
        }
    )
    name = objects.sweep_object_name(sweep["id"])
    (pod,) = kube.pods_of(name, NS)
    kube.run(pod)
    kube.finish(pod, 1)  # the container itself failed (no runner status): the Job fails
    assert kube.jobs[(NS, name)]["status"]["conditions"][0]["reason"] == "BackoffLimitExceeded"
    assert len(kube.pods_of(name, NS)) == 1  # no further index starts
    final = await jobs_api.wait(sweep["id"], timeout=20)
    assert final["status"] == "failed" and final["child_counts"] == {"failed": 3}, final
    first, *rest = [await jobs_api.get(c) for c in sweep["children"]]
    assert "exit code 1" in first["reason"]
    for child in rest:
        assert "BackoffLimitExceeded" in child["reason"] and child["started_at"] is None, child
    assert kube.calls["POST jobs"] == 1 and not kube.deletes
