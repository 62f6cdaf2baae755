"""Kernel specs follow the backends (issue 11, point 3) on the real one-node cluster.

slurmctld is stopped before the server starts: no SLURM kernel spec. It comes back: the specs
appear in ``GET api/kernelspecs`` without a restart, within a refresh interval plus SLURM's
availability cache, and the ``kernelspecs`` event tells browsers. It stops again: they go.
The controller is running again at the end, whatever happens (the other tests need it).
A backend whose check raises does not stop the loop: its specs appear once the check answers.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from jupyter_jobs.events import KERNELSPECS_SCHEMA_ID
from tests.kernels.conftest import KERNEL_PROFILES, jobs_app, wait_until
from tests.slurm_cluster import Controller

pytestmark = pytest.mark.slow

REFRESH = 0.5
#: SlurmSpawner.check_available answers from a cache younger than this (spawners/slurm.py)
SLURM_CACHE = 5.0
#: the bound the tests hold the server to: a refresh, the cache, and room for a loaded machine
BOUND = REFRESH + SLURM_CACHE + 4.0
OURS = {"jupyter-jobs-slurm-default", "jupyter-jobs-slurm-gpu"}


@pytest.fixture
def jobs_config(slurm_cluster):
    return {
        "JobManager": {"enabled_backends": ["local", "slurm"], "cancel_grace_period": 1.0},
        "SlurmSpawner": {"poll_interval": 0.5, "profiles": KERNEL_PROFILES},
        "RemoteKernelSpecs": {"refresh_interval": REFRESH},
    }


@pytest.fixture
def controller(slurm_cluster):
    c = Controller(slurm_cluster)
    yield c
    c.ensure_up()


@pytest.fixture
def kernelspec_events(jp_serverapp):
    """Every kernelspecs event the server emits, as a browser's events socket gets them."""
    seen: list[dict] = []

    async def listener(logger, schema_id, data):
        seen.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=KERNELSPECS_SCHEMA_ID, listener=listener)
    yield seen
    jp_serverapp.event_logger.remove_listener(schema_id=KERNELSPECS_SCHEMA_ID, listener=listener)


async def test_slurm_spec_appears_when_the_controller_comes_back_and_goes_when_it_stops(
    jp_fetch, kernels_api, controller, kernelspec_events
):
    async def offered() -> set[str]:
        r = await jp_fetch("api", "kernelspecs")
        return set(json.loads(r.body)["kernelspecs"]) & OURS

    await controller.stop()
    await kernels_api.ready()  # the server starts while slurmctld is down
    assert await offered() == set()
    assert kernelspec_events == []

    await controller.start()
    t0 = time.monotonic()
    await wait_until(
        lambda: _is(offered(), OURS), timeout=BOUND, interval=0.1, what="the SLURM specs"
    )
    appeared = time.monotonic() - t0
    await wait_until(lambda: kernelspec_events, timeout=2, what="the kernelspecs event")
    event = kernelspec_events[-1]
    assert event["action"] == "changed"
    assert OURS <= set(event["kernelspecs"]) and OURS <= set(event["added"]), event
    r = await jp_fetch("api", "kernelspecs", "jupyter-jobs-slurm-gpu")
    assert json.loads(r.body)["spec"]["display_name"].startswith("Python 3 — SLURM")

    await controller.stop()
    t0 = time.monotonic()
    await wait_until(
        lambda: _is(offered(), set()), timeout=BOUND, interval=0.1, what="the specs to go"
    )
    gone = time.monotonic() - t0
    await wait_until(lambda: len(kernelspec_events) >= 2, timeout=2, what="the second event")
    event = kernelspec_events[-1]
    assert not OURS & set(event["kernelspecs"]) and OURS <= set(event["removed"]), event
    print(f"specs appeared {appeared:.1f} s after slurmctld came back, went {gone:.1f} s after")

    await controller.start()


@pytest.fixture
def broken_prefix(tmp_path):
    """An ``exec_prefix`` that is a directory: running it raises PermissionError."""
    d = tmp_path / "not-a-program"
    d.mkdir()
    return str(d)


async def test_a_check_that_raises_does_not_stop_the_refresh_loop(
    jp_fetch, jp_serverapp, kernels_api, kernelspec_events, broken_prefix
):
    app = jobs_app(jp_serverapp)
    spawner = app.manager.spawners["slurm"]
    spawner.exec_prefix_shell = False
    spawner.exec_prefix = [broken_prefix]
    await kernels_api.ready()
    refresher = app.jupyter_jobs_specs_refresher
    assert app.remote_kernel_specs == []
    assert "PermissionError" in (refresher.unavailable["slurm"] or ""), refresher.unavailable
    await asyncio.sleep(REFRESH * 4)  # several rounds, each raising
    assert refresher.task is not None and not refresher.task.done()

    spawner.exec_prefix = ["env"]  # the check answers again: the real controller is up
    await wait_until(
        lambda: OURS <= set(app.remote_kernel_specs), timeout=BOUND, what="the SLURM specs"
    )
    r = await jp_fetch("api", "kernelspecs")
    assert OURS <= set(json.loads(r.body)["kernelspecs"])
    assert kernelspec_events and OURS <= set(kernelspec_events[-1]["added"])


async def _is(value, expected) -> bool:
    return await value == expected
