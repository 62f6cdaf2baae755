"""A kernel job that waits in the queue longer than the launch timeout is cancelled, with why."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.slurm_cluster import fill_node

from .conftest import KERNEL_PROFILES, active_slurm_jobs, slurm_state, wait_until

DEFAULT = "jupyter-jobs-slurm-default"


@pytest.fixture
def jobs_config(slurm_cluster):
    return {
        "JobManager": {"enabled_backends": ["slurm"], "cancel_grace_period": 1.0},
        "SlurmSpawner": {"poll_interval": 0.5, "profiles": KERNEL_PROFILES},
        "JobKernelProvisioner": {"launch_timeout": 3.0},
    }


async def test_launch_timeout_cancels_a_queued_kernel_job_and_says_why(kernels_api, manager):
    filler = fill_node()
    kernel_jobs = []
    manager.add_listener(lambda action, job: kernel_jobs.append(job) if job.kind == "kernel" else 0)
    try:
        await kernels_api.ready()
        await wait_until(lambda: slurm_state(filler) == "RUNNING", 20, what="node full")
        r = await kernels_api.fetch(
            "api",
            "kernels",
            method="POST",
            body=json.dumps({"name": DEFAULT}),
            raise_error=False,
        )
        assert r.code == 503
        message = json.loads(r.body)["message"]
        assert "did not start within 3 s" in message and "cancelled" in message
        assert "Resources" in message  # SLURM's queue reason
        ref = kernel_jobs[0].backend_ref
        assert ref and ref in message
        await wait_until(lambda: ref not in active_slurm_jobs(), 15, what="job gone")
        await wait_until(lambda: manager.get(kernel_jobs[0].id).status == "cancelled", 15)
    finally:
        subprocess.run(["scancel", filler], capture_output=True)
