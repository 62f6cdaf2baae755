"""A sweep that waits for another job on the real SLURM cluster, through the REST API of a real
Jupyter server: the sweep is still ONE ``sbatch --array`` (counted by an exec_prefix wrapper that
logs every command the spawner runs), submitted at once with ``--dependency=afterok:<parent>``
and ``--kill-on-invalid-dep=yes``, so SLURM holds every task (``scontrol show job`` of the array
says ``Dependency=afterok:<parent>``) with no server needed; the sweep and its children say
"waiting for <name> (<id>)"; when the parent completes the tasks run after it; when it fails
SLURM cancels the array and the sweep and every child end ``cancelled`` with the reason. Nothing
is left in SLURM."""

from __future__ import annotations

import asyncio

import pytest

from tests.slurm.conftest import slurm_field
from tests.slurm.test_slurm_dependencies import (
    GATED,
    left_in_slurm,
    short,
    squeue_reason,
    submit,
    wait_reason,
)
from tests.slurm.test_slurm_sweep import calls, calls_log, jobs_config  # noqa: F401

pytestmark = pytest.mark.usefixtures("running_manager")

#: a child: records its parameter
CHILD = """\
import argparse
import jupyter_jobs
p = argparse.ArgumentParser()
p.add_argument("--a", type=int)
jupyter_jobs.record(twice=2 * p.parse_args().a)
"""


@pytest.fixture
def gate(jp_root_dir, tmp_path):
    (jp_root_dir / "gated.py").write_text(GATED)
    (jp_root_dir / "child.py").write_text(CHILD)
    return tmp_path / "gate"


async def slurm_reason(ref: str, timeout: float = 30) -> str:
    """squeue's reason of a pending job once it is not ``None`` (SLURM's first look comes)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        reason = squeue_reason(ref)
        if reason not in ("None", "") or asyncio.get_running_loop().time() > deadline:
            return reason
        await asyncio.sleep(0.2)


async def held_sweep(api, log, gate, code):
    """A running parent (exits ``code`` once the gate exists) and a 3-child sweep after it."""
    parent = await submit(api, {"path": "gated.py", "args": [str(gate), str(code)], "name": "prep"})
    parent = await api.wait(parent["id"], statuses=("running",), timeout=120)
    sweep = await submit(
        api, {"path": "child.py", "name": "grid", "grid": {"a": [1, 2, 3]}, "after": [parent["id"]]}
    )
    assert sweep["kind"] == "sweep" and sweep["after"] == [parent["id"]]
    arrays = [line for line in calls(log, "sbatch") if "--array=" in line]
    assert len(arrays) == 1, arrays  # one sbatch for the whole sweep, at once
    assert "--array=0-2" in arrays[0]
    assert f"--dependency=afterok:{parent['backend_ref']}" in arrays[0], arrays
    assert "--kill-on-invalid-dep=yes" in arrays[0]
    kids = [await api.get(c) for c in sweep["children"]]
    array_id = kids[0]["backend_ref"].split("_")[0]
    assert [k["backend_ref"] for k in kids] == [f"{array_id}_{i}" for i in range(3)]
    # SLURM holds the array: its record says what it waits for
    assert slurm_field(array_id, "Dependency").startswith(f"afterok:{parent['backend_ref']}")
    assert await slurm_reason(array_id) == "Dependency"  # once slurmctld looked at it
    waiting = f"waiting for {short(parent)}"
    assert sweep["status"] == "queued" and sweep["reason"] == waiting, sweep
    for kid in kids:
        kid = await wait_reason(api, kid["id"], waiting)
        assert kid["status"] == "queued" and kid["reason"] == waiting, kid
        assert kid["started_at"] is None
    return parent, sweep, array_id


async def test_a_three_child_array_after_a_parent_is_held_by_slurm_and_runs_after_it(
    jobs_api,
    gate,
    calls_log,  # noqa: F811
):
    _, log = calls_log
    parent, sweep, _array_id = await held_sweep(jobs_api, log, gate, 0)
    gate.write_text("")
    sweep = await jobs_api.wait(sweep["id"], timeout=180)
    parent = await jobs_api.get(parent["id"])
    kids = [await jobs_api.get(c) for c in sweep["children"]]
    assert parent["status"] == "completed", parent
    assert sweep["status"] == "completed", [(k["status"], k["reason"]) for k in kids]
    for kid in kids:
        assert kid["started_at"] >= parent["finished_at"], (kid, parent)
    rows = [k["results"] for k in kids]
    assert [r["twice"] for r in rows] == [2, 4, 6]
    assert len([line for line in calls(log, "sbatch") if "--array=" in line]) == 1
    assert left_in_slurm() == ""


async def test_a_failing_parent_ends_the_array_cancelled_with_the_reason(
    jobs_api,
    jp_root_dir,
    gate,
    calls_log,  # noqa: F811
):
    _, log = calls_log
    parent, sweep, _array_id = await held_sweep(jobs_api, log, gate, 3)
    gate.write_text("")
    parent = await jobs_api.wait(parent["id"], timeout=120)
    assert parent["status"] == "failed" and parent["exit_code"] == 3, parent
    sweep = await jobs_api.wait(sweep["id"], timeout=120)
    why = f"{short(parent)} failed"
    kids = [await jobs_api.get(c) for c in sweep["children"]]
    assert sweep["status"] == "cancelled", (sweep, kids)
    assert sweep["reason"] == why, sweep
    for kid in kids:
        assert kid["status"] == "cancelled" and kid["reason"] == why, kid
        assert kid["started_at"] is None
    assert left_in_slurm() == ""


async def test_a_sweep_after_a_local_job_is_held_by_the_server_then_one_array(
    jobs_api,
    gate,
    calls_log,  # noqa: F811
):
    """The parent is no SLURM job: the server holds the sweep (no sbatch yet), then submits its
    one array, without a dependency, once the parent completed."""
    _, log = calls_log
    parent = await jobs_api.submit(
        {"path": "gated.py", "args": [str(gate), "0"], "name": "local-prep", "backend": "local"}
    )
    sweep = await submit(
        jobs_api,
        {"path": "child.py", "name": "grid", "grid": {"a": [1, 2, 3]}, "after": [parent["id"]]},
    )
    waiting = f"waiting for {short(parent)}"
    assert sweep["status"] == "queued" and sweep["reason"] == waiting, sweep
    assert calls(log, "sbatch") == []  # nothing in SLURM yet
    for kid in [await jobs_api.get(c) for c in sweep["children"]]:
        assert kid["status"] == "queued" and kid["reason"] == waiting and not kid["backend_ref"]
    gate.write_text("")
    sweep = await jobs_api.wait(sweep["id"], timeout=180)
    parent = await jobs_api.get(parent["id"])
    kids = [await jobs_api.get(c) for c in sweep["children"]]
    assert sweep["status"] == "completed", [(k["status"], k["reason"]) for k in kids]
    sbatch = calls(log, "sbatch")
    assert len(sbatch) == 1 and "--array=0-2" in sbatch[0], sbatch
    assert "--dependency" not in sbatch[0]
    array_id = kids[0]["backend_ref"].split("_")[0]
    assert [k["backend_ref"] for k in kids] == [f"{array_id}_{i}" for i in range(3)]
    for kid in kids:
        assert kid["started_at"] >= parent["finished_at"]
    assert left_in_slurm() == ""
