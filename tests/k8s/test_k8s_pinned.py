"""Pinned inputs on Kubernetes (fake API): the pod runs the runner on the shared volume (the
server's own image and volumes), and the runner runs the pinned copy in the job dir, not the
file as it is when the pod starts."""

from __future__ import annotations

import json
import os

from jupyter_jobs import jobfiles
from jupyter_jobs.spawners import k8s_objects as objects

from .conftest import eventually
from .test_k8s_results import jobs_config, run_container  # noqa: F401 - fixture jobs_config


async def test_the_pod_runs_the_pinned_copy(kube, jobs_api, manager, jp_root_dir):
    await manager.start()
    spawner = manager.spawners["kubernetes"]
    await eventually(lambda: spawner.reflector is not None and spawner.reflector.healthy)
    (jp_root_dir / "train.py").write_text("print('pod-content-v1', __file__)\n")
    job = await jobs_api.submit({"path": "train.py", "backend": "kubernetes"})
    pinned = job["pinned_path"]
    assert pinned == os.path.join(manager.root.job_dir(job["id"]), "input", "train.py")
    pod = kube.pod_of(objects.job_object_name(job["id"]), "jobs")
    container = pod["spec"]["containers"][0]
    assert container["command"][1:3] == ["-m", "jupyter_jobs.runner"]
    # the pod mounts the volume the job root (and so the pinned copy) is on
    mounts = [m["mountPath"] for m in container.get("volumeMounts") or []]
    assert any(pinned.startswith(m.rstrip("/") + "/") for m in mounts), mounts
    spec = json.load(open(os.path.join(manager.root.job_dir(job["id"]), jobfiles.SPEC)))
    assert pinned in spec["argv"]
    # edited after the submit, before the pod starts: the pod still runs what was submitted
    (jp_root_dir / "train.py").write_text("print('pod-content-v2')\n")
    kube.run(pod, node="node-1")
    assert await run_container(pod) == 0
    kube.finish(pod, 0)
    done = await jobs_api.wait(job["id"], timeout=20)
    assert done["status"] == "completed", done
    log = await jobs_api.log(job["id"])
    assert f"pod-content-v1 {pinned}" in log and "pod-content-v2" not in log, log
