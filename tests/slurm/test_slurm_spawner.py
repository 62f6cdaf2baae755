"""SlurmSpawner against the real one-node cluster: submit, resources, queueing, cancel, signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import pytest

from jupyter_jobs import jobfiles
from jupyter_jobs.exceptions import BadRequest
from jupyter_jobs.spawners.slurm import SlurmSpawner

from .conftest import make_job, poll_until, slurm_field

FINAL = ("completed", "failed", "cancelled", "lost")


@pytest.fixture
def spawner(tmp_path):
    sp = SlurmSpawner(poll_interval=0.3)
    sp.job_root = str(tmp_path)
    return sp


async def wait_runner(job, timeout=30.0):
    """The runner's status.json once it started the command (pid known)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = jobfiles.read_json(os.path.join(job.job_dir, "status.json"))
        if status and status.get("pid"):
            return status
        assert asyncio.get_running_loop().time() < deadline, "the runner never started"
        await asyncio.sleep(0.1)


async def submit(spawner, job):
    update = await spawner.submit(job)
    job.backend_ref, job.status = update.backend_ref, update.status
    job.state.update(update.state or {})
    return update


async def test_resources_reach_the_job(spawner, tmp_path):
    job = make_job(
        tmp_path,
        ["bash", "-c", "env | sort; exit 3"],
        {"cpus": 2, "memory": "1G", "time_limit": "00:05:00", "gpus": 1},
    )
    update = await submit(spawner, job)
    assert update.status == "queued" and update.backend_ref.isdigit()
    await poll_until(spawner, job, FINAL)
    assert job.status == "failed" and job.exit_code == 3 and job.host == "localhost"
    log = open(os.path.join(job.job_dir, "output.log")).read()
    assert "SLURM_CPUS_PER_TASK=2" in log
    assert "SLURM_MEM_PER_NODE=1024" in log
    assert "CUDA_VISIBLE_DEVICES=0" in log
    assert slurm_field(job.backend_ref, "TimeLimit") == "00:05:00"
    assert slurm_field(job.backend_ref, "JobName") == "jupyter-test_job"
    assert os.path.exists(os.path.join(job.job_dir, "slurm.out"))
    assert "SLURM_JOB_ID" not in open(os.path.join(job.job_dir, "slurm.out")).read()


async def test_gres_style_gpus_set_cuda_visible_devices(tmp_path):
    sp = SlurmSpawner(gpu_request="gres")
    job = make_job(tmp_path, ["bash", "-c", "echo gpus=$CUDA_VISIBLE_DEVICES"], {"gpus": 2})
    await submit(sp, job)
    await poll_until(sp, job, FINAL)
    assert job.status == "completed", job.reason
    assert "gpus=0,1" in open(os.path.join(job.job_dir, "output.log")).read()
    assert "--gres=gpu:2" in open(os.path.join(job.job_dir, "job.sbatch")).read()


async def test_full_node_queues_with_reason_then_runs(spawner, tmp_path, node_cpus):
    big = make_job(tmp_path, ["sleep", "30"], {"cpus": node_cpus, "time_limit": 120})
    await submit(spawner, big)
    await poll_until(spawner, big, ("running",))
    small = make_job(tmp_path, ["echo", "ran"], {"cpus": 1, "time_limit": 60})
    await submit(spawner, small)
    reasons = set()
    for _ in range(30):  # the scheduler gives its reason within a pass or two
        update = (await spawner.poll([big, small]))[small.id]
        assert update.status == "queued"
        reasons.add(update.reason)
        if "(Resources)" in update.reason or "(Priority)" in update.reason:
            break
        await asyncio.sleep(0.3)
    assert reasons & {
        "waiting for resources (Resources)",
        "waiting for higher-priority jobs (Priority)",
    }, reasons
    await spawner.cancel(big)
    big.status = "cancelling"
    await poll_until(spawner, big, FINAL)
    assert big.status == "cancelled"
    await poll_until(spawner, small, FINAL)
    assert small.status == "completed"
    assert "ran" in open(os.path.join(small.job_dir, "output.log")).read()


async def test_cancel_stops_the_whole_job(spawner, tmp_path):
    job = make_job(tmp_path, ["bash", "-c", "sleep 300 & sleep 300; wait"], {"time_limit": 600})
    await submit(spawner, job)
    await poll_until(spawner, job, ("running",))
    status = await wait_runner(job)
    await spawner.cancel(job)
    job.status = "cancelling"
    await poll_until(spawner, job, FINAL)
    assert job.status == "cancelled"
    assert slurm_field(job.backend_ref, "JobState") == "CANCELLED"
    assert not os.path.exists(f"/proc/{status['pid']}")


async def test_signal_reaches_the_runner_in_the_batch_step(spawner, tmp_path):
    job = make_job(tmp_path, ["sleep", "300"], {"time_limit": 600})
    await submit(spawner, job)
    await poll_until(spawner, job, ("running",))
    await wait_runner(job)
    await spawner.signal(job, signal.SIGINT)
    await poll_until(spawner, job, FINAL)
    status = jobfiles.read_json(os.path.join(job.job_dir, "status.json"))
    # a stop signal sent through jupyter-jobs is a cancel request: plain "cancelled"
    assert status["reason"] == "cancelled" and job.status == "cancelled"
    with pytest.raises(BadRequest, match="forwards only"):
        await spawner.signal(job, signal.SIGUSR1)


@pytest.mark.parametrize(
    ("resources", "message", "field"),
    [
        ({"partition": "nosuch"}, "Invalid partition name specified", "resources.partition"),
        ({"partition": "short", "time_limit": "01:00:00"}, "time limit", "resources.time_limit"),
    ],
)
async def test_sbatch_refusal_is_a_bad_request_with_slurms_message(
    spawner, tmp_path, resources, message, field
):
    job = make_job(tmp_path, ["true"], resources)
    with pytest.raises(BadRequest) as e:
        await spawner.submit(job)
    assert message.lower() in e.value.message.lower()
    assert e.value.message.startswith("SLURM refused the job: ")
    assert e.value.field == field


async def test_one_squeue_call_polls_many_jobs(spawner, tmp_path):
    jobs = [make_job(tmp_path, ["sleep", "20"], {"time_limit": 60}) for _ in range(8)]
    for job in jobs:
        await submit(spawner, job)
    before = dict(spawner.calls)
    updates = await spawner.poll(jobs)
    assert set(updates) == {j.id for j in jobs}
    assert spawner.calls.get("squeue", 0) - before.get("squeue", 0) == 1
    assert sum(spawner.calls.values()) - sum(before.values()) == 1


async def test_a_new_spawner_reattaches_and_finishes_jobs(tmp_path):
    first = SlurmSpawner()
    job = make_job(tmp_path, ["bash", "-c", "sleep 2; echo done"], {"time_limit": 60})
    await submit(first, job)
    second = SlurmSpawner()  # as after a server restart: nothing in memory
    update = await second.reattach(job)
    assert update is not None and update.status in ("queued", "running")
    await poll_until(second, job, FINAL)
    assert job.status == "completed" and job.exit_code == 0


async def test_availability(spawner, monkeypatch):
    assert await spawner.check_available() == (True, None)
    assert await spawner.availability() == (True, None, None)
    monkeypatch.delenv("SLURM_CONF")  # this host has no /etc/slurm: SLURM finds no configuration
    ok, reason, detail = await SlurmSpawner().availability()
    assert (ok, reason) == (False, "no SLURM configuration found on this host")
    assert "Could not establish a configuration source" in detail, detail  # SLURM's own words
    monkeypatch.setenv("PATH", "/nonexistent")
    assert await SlurmSpawner().availability() == (
        False,
        "SLURM is not installed on this host",
        "sbatch not found on PATH",
    )


async def test_final_state_after_slurm_forgot_the_job_comes_from_accounting(spawner, tmp_path):
    job = make_job(tmp_path, ["bash", "-c", "exit 4"], {"time_limit": 60})
    await submit(spawner, job)
    await poll_until(spawner, job, FINAL)
    # a job past MinJobAge is not in squeue any more: sacct (jobcomp here) still has it
    records = await spawner.sacct([job.backend_ref])
    assert records[job.backend_ref].slurm_state == "COMPLETED"
    os.unlink(os.path.join(job.job_dir, "status.json"))
    job.status = "running"
    sp = SlurmSpawner(lost_after=1)
    rows = {}  # squeue no longer lists it
    update = (await sp._updates({job.backend_ref: job}, rows))[job.id]
    assert update.status == "failed" and "without a status from the runner" in update.reason
    out = subprocess.run(
        ["sacct", "-c", "-n", "-P", "-X", "-j", job.backend_ref, "-o", "State"],
        capture_output=True,
        text=True,
    ).stdout
    assert out.strip() == "COMPLETED"


async def test_admin_template_and_prologue_reach_the_job(tmp_path):
    template = (
        "#!/bin/bash\n#SBATCH --comment=from-admin-template\n"
        "{% if req_nprocs %}#SBATCH --cpus-per-task={{ req_nprocs }}\n{% endif %}"
        "{{ req_prologue }}\nexec {{ cmd }}\n"
    )
    sp = SlurmSpawner(batch_script=template, req_prologue="export SITE_GREETING=hello-from-site")
    job = make_job(
        tmp_path,
        ["bash", "-c", "echo $SITE_GREETING $SLURM_CPUS_PER_TASK"],
        {"cpus": 2, "time_limit": 60},
    )
    await submit(sp, job)
    await poll_until(sp, job, FINAL)
    assert job.status == "completed", job.reason
    assert open(os.path.join(job.job_dir, "output.log")).read() == "hello-from-site 2\n"
    assert slurm_field(job.backend_ref, "Comment") == "from-admin-template"


async def test_the_clusters_limits_are_one_cached_reading(spawner):
    before = spawner.calls.get("scontrol", 0)
    first = await spawner.cluster_limits()
    assert first is not None and set(first.partitions) == {"debug", "short"}
    assert spawner.calls["scontrol"] - before == 2  # show partition, show node
    assert await spawner.cluster_limits() is first
    assert spawner.calls["scontrol"] - before == 2  # cached
    spawner.limits_ttl = 0  # stale at once: read again when next needed
    again = await spawner.cluster_limits()
    assert again is not first and again.to_dict() == first.to_dict()
    assert spawner.calls["scontrol"] - before == 4


async def test_what_a_job_gets_unasked_for_its_efficiency(spawner):
    assert spawner.resource_defaults({}) == {"cpus": 1}  # limits not read yet: sbatch's CPU
    await spawner.cluster_limits()
    # short: no DefaultTime, MaxTime 10 min; debug (the default partition) has neither
    assert spawner.resource_defaults({"partition": "short"}) == {"cpus": 1, "time_limit": 600}
    assert spawner.resource_defaults({}) == {"cpus": 1}


async def test_a_refusal_is_checked_again_on_a_fresh_reading(spawner):
    """A partition added (or a node grown) since the cached reading is not refused for long."""
    import time

    from jupyter_jobs.exceptions import BadRequest
    from jupyter_jobs.spawners.slurm_limits import ClusterLimits, PartitionLimits

    old = ClusterLimits({"debug": PartitionLimits(name="debug", cpus=1, default=True)})
    spawner._limits = (time.monotonic() - 60, old)  # a minute old, as if the cluster changed
    await spawner.check_request({"partition": "short", "cpus": 2})  # read again: it fits
    assert spawner._limits[1] is not old
    with pytest.raises(BadRequest, match="no node in partition short has 64 CPUs"):
        await spawner.check_request({"partition": "short", "cpus": 64})
    before = spawner.calls.get("scontrol", 0)
    with pytest.raises(BadRequest):  # the reading is fresh: refused without asking again
        await spawner.check_request({"partition": "short", "cpus": 64})
    assert spawner.calls.get("scontrol", 0) == before
