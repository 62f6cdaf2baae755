"""A Kubernetes sweep that waits for another job, through the loopback fake API and its Indexed
Job controller: the server holds the sweep (no Job is created, the sweep and its children
``queued`` "waiting for <name> (<id>)") until the parent — a local job gated by a file — ends;
completed, the sweep's ONE Indexed Job is created then and its pods run the children; failed,
nothing is ever created and the sweep and every child end ``cancelled`` with the reason."""

from __future__ import annotations

import sys

from jupyter_jobs.spawners import k8s_objects as objects

from .conftest import eventually
from .test_k8s_results import jobs_config  # noqa: F401 - the same setup: the server's own image
from .test_k8s_sweep_flow import NS, Kubelet, code, start

GATED = """\
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
sys.exit(int(sys.argv[2]))
"""


def short(job):
    return f"{job['name']} ({job['id'][:8]})"


async def held(kube, jobs_api, tmp_path, exit_code):
    (tmp_path / "gated.py").write_text(GATED)
    gate = tmp_path / "gate"
    parent = await jobs_api.submit(
        {
            "command": [sys.executable, str(tmp_path / "gated.py"), str(gate), str(exit_code)],
            "backend": "local",
            "name": "prep",
        }
    )
    sweep = await jobs_api.submit(
        {
            "command": [sys.executable, "-c", code()],
            "backend": "kubernetes",
            "parameter_sets": [{"x": x} for x in range(1, 4)],
            "throttle": 2,
            "after": [parent["id"]],
        }
    )
    waiting = f"waiting for {short(parent)}"
    assert sweep["status"] == "queued" and sweep["reason"] == waiting, sweep
    assert sweep["after"] == [parent["id"]]
    for child_id in sweep["children"]:
        child = await jobs_api.get(child_id)
        assert child["status"] == "queued" and child["reason"] == waiting, child
        assert child["backend_ref"] is None
    assert kube.calls["POST jobs"] == 0  # nothing in Kubernetes while it waits
    gate.write_text("")
    return parent, sweep


async def test_a_sweep_after_a_job_that_completes_is_one_indexed_job_then(
    kube, jobs_api, manager, tmp_path
):
    await start(manager)
    parent, sweep = await held(kube, jobs_api, tmp_path, 0)
    assert (await jobs_api.wait(parent["id"], timeout=30))["status"] == "completed"
    name = objects.sweep_object_name(sweep["id"])
    # the parent's end releases the sweep: its Indexed Job is created, the controller makes pods
    await eventually(lambda: kube.calls["POST jobs"] == 1 and kube.pods_of(name, NS))
    kubelet = Kubelet(kube)
    await kubelet.run_all(name, manager, sweep["children"], throttle=2)
    final = await jobs_api.wait(sweep["id"], timeout=20)
    assert final["status"] == "completed" and final["child_counts"] == {"completed": 3}, final
    assert kube.calls["POST jobs"] == 1
    parent = await jobs_api.get(parent["id"])
    for child_id in sweep["children"]:
        child = await jobs_api.get(child_id)
        # a pod's start time is Kubernetes' (RFC 3339, whole seconds): compare to the second
        assert child["started_at"][:19] >= parent["finished_at"][:19], (child, parent)


async def test_a_sweep_after_a_job_that_fails_is_cancelled_and_never_created(
    kube, jobs_api, manager, tmp_path
):
    await start(manager)
    parent, sweep = await held(kube, jobs_api, tmp_path, 5)
    final = await jobs_api.wait(sweep["id"], timeout=30)
    parent = await jobs_api.get(parent["id"])
    why = f"{short(parent)} failed"
    assert final["status"] == "cancelled" and final["reason"] == why, final
    for child_id in sweep["children"]:
        child = await jobs_api.get(child_id)
        assert child["status"] == "cancelled" and child["reason"] == why, child
    assert kube.calls["POST jobs"] == 0
