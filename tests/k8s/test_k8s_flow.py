"""The Kubernetes backend driving the real kubernetes_asyncio client against the loopback fake."""

from __future__ import annotations

import os

from jupyter_jobs.models import CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING
from jupyter_jobs.spawners import k8s_objects as objects

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
