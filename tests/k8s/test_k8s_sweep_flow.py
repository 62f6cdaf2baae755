"""A sweep on Kubernetes through the loopback fake API, with the runner run for real in each pod
(as the kubelet would run the container's command): today each child is its own Job, created
only while fewer than the throttle run, and every child records its own parameters' result.
(One Indexed Job per sweep is built and schema-checked, ``test_k8s_sweep_manifest.py``, not yet
submitted.)"""

from __future__ import annotations

import json
import sys

from jupyter_jobs.spawners import k8s_objects as objects

from .conftest import eventually
from .test_k8s_results import jobs_config, run_container  # noqa: F401 - the same setup

CODE = (
    "import os, json, jupyter_jobs; p = json.loads(os.environ['JJ_PARAMETERS']);"
    " jupyter_jobs.record(double=p['x'] * 2)"
)


async def test_three_children_one_at_a_time_each_its_own_job(kube, jobs_api, manager):
    await manager.start()
    spawner = manager.spawners["kubernetes"]
    await eventually(lambda: spawner.reflector is not None and spawner.reflector.healthy)
    sweep = await jobs_api.submit(
        {
            "command": [sys.executable, "-c", CODE],
            "backend": "kubernetes",
            "parameter_sets": [{"x": 1}, {"x": 2}, {"x": 3}],
            "throttle": 1,
        }
    )
    for n, child_id in enumerate(sweep["children"]):
        name = objects.job_object_name(child_id)
        await eventually(lambda name=name: ("jobs", name) in kube.jobs)
        # only this child has a Job: the throttle holds the others
        ours = [k for k in kube.jobs if k[1].startswith("jupyter-") and k[1] != name]
        created = {objects.job_object_name(c) for c in sweep["children"][: n + 1]}
        assert {k[1] for k in ours} <= created
        waiting = await jobs_api.get(sweep["children"][-1])
        if n < 2:
            assert waiting["status"] == "queued" and "at most 1" in (waiting["reason"] or "")
        pod = kube.pod_of(name, "jobs")
        kube.run(pod, node="node-1")
        assert await run_container(pod) == 0
        kube.finish(pod, 0)
        done = await jobs_api.wait(child_id, timeout=20)
        assert done["status"] == "completed", done
    final = await jobs_api.wait(sweep["id"], timeout=20)
    assert final["status"] == "completed" and final["child_counts"] == {"completed": 3}
    table = json.loads((await jobs_api.request("GET", f"jobs/{sweep['id']}/results")).body)
    assert [row[-1] for row in table["rows"]] == [2, 4, 6]
