"""Faults on the real cluster: slurmctld stopped while jobs run and wait.

The outage lasts ``JUPYTER_JOBS_SLURM_OUTAGE`` seconds (default 60, as in issue 4).
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from tests.slurm_cluster import Controller

OUTAGE = float(os.environ.get("JUPYTER_JOBS_SLURM_OUTAGE", "60"))

pytestmark = [pytest.mark.usefixtures("running_manager"), pytest.mark.slow]


@pytest.fixture
def jobs_config():
    return {
        "JobManager": {"enabled_backends": ["local", "slurm"], "max_backoff": 2.0},
        "SlurmSpawner": {"poll_interval": 0.5},
    }


@pytest.fixture
def stop_controller(slurm_cluster):
    """Stops slurmctld with SIGTERM (state is saved); always starts it again."""
    controller = Controller(slurm_cluster)
    yield controller.stop, controller.start
    controller.ensure_up()


async def wait_for(jobs_api, job_id, predicate, timeout=60):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await jobs_api.get(job_id)
        if predicate(job):
            return job
        assert asyncio.get_running_loop().time() < deadline, json.dumps(job)
        await asyncio.sleep(0.2)


async def test_controller_outage_keeps_jobs_and_they_finish_right(
    jobs_api, stop_controller, node_cpus
):
    stop, start = stop_controller
    doomed = await jobs_api.submit(
        {
            "command": ["sleep", "300"],
            "backend": "slurm",
            "resources": {"cpus": 1, "time_limit": 600},
        }
    )
    await wait_for(jobs_api, doomed["id"], lambda j: j["status"] == "running")

    running = await jobs_api.submit(
        {
            "command": ["bash", "-c", "sleep 15; echo outlived the controller"],
            "backend": "slurm",
            "resources": {"cpus": node_cpus - 1, "time_limit": 600},
        }
    )
    await wait_for(jobs_api, running["id"], lambda j: j["status"] == "running")
    waiting = await jobs_api.submit(
        {
            "command": ["bash", "-c", "echo ran after; exit 5"],
            "backend": "slurm",
            "resources": {"cpus": 2, "time_limit": 600},
        }
    )
    await wait_for(jobs_api, waiting["id"], lambda j: "(Resources)" in (j["reason"] or ""))

    await stop()
    loop = asyncio.get_running_loop()
    end = loop.time() + OUTAGE
    for job_id in (running["id"], waiting["id"]):
        job = await wait_for(
            jobs_api, job_id, lambda j: "unreachable" in (j["reason"] or ""), timeout=OUTAGE
        )
        assert "slurmctld not answering" in job["reason"], job["reason"]
    r = await jobs_api.request("GET", "backends")
    slurm = {b["name"]: b for b in json.loads(r.body)["backends"]}["slurm"]
    assert slurm["available"] is False
    assert slurm["reason"] == "SLURM's controller does not answer", slurm
    assert "DOWN" in slurm["detail"], slurm  # scontrol ping's own words, for the tooltip
    r = await jobs_api.request("POST", f"jobs/{doomed['id']}/cancel")
    assert r.code == 503 and "slurmctld not answering" in json.loads(r.body)["message"], r.body
    assert (await jobs_api.get(doomed["id"]))["status"] == "cancelling"
    r = await jobs_api.request("POST", "jobs", {"command": ["true"], "backend": "slurm"})
    assert r.code == 503, r.body
    assert "SLURM's controller does not answer" in json.loads(r.body)["message"], r.body
    while loop.time() < end:  # nothing is failed or lost while the controller is away
        assert (await jobs_api.get(running["id"]))["status"] == "running"
        assert (await jobs_api.get(waiting["id"]))["status"] == "queued"
        await asyncio.sleep(1)

    await start()
    done = await jobs_api.wait(running["id"], timeout=120)
    assert done["status"] == "completed" and done["exit_code"] == 0, done
    assert done["reason"] is None
    assert await jobs_api.log(running["id"]) == "outlived the controller\n"
    after = await jobs_api.wait(waiting["id"], timeout=120)
    assert after["status"] == "failed" and after["exit_code"] == 5, after
    assert await jobs_api.log(waiting["id"]) == "ran after\n"
    cancelled = await jobs_api.wait(doomed["id"], timeout=60)
    assert cancelled["status"] == "cancelled", cancelled
