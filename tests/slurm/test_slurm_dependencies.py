"""Dependencies on the real SLURM cluster, through the REST API of a real Jupyter server: a job
that waits for SLURM jobs is handed to SLURM at once with ``--dependency`` (counted by an
exec_prefix wrapper that logs every command the spawner runs), SLURM holds it (``squeue`` says
``Dependency``; the job says "waiting for <name> (<id>)"), and SLURM itself cancels the chain
when the first job fails; a chain whose jobs succeed runs in order; nothing is left in SLURM."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.slurm.test_slurm_sweep import calls, calls_log, jobs_config  # noqa: F401

pytestmark = pytest.mark.usefixtures("running_manager")

#: waits for the file argv[1], then exits with argv[2]
GATED = """\
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.1)
sys.exit(int(sys.argv[2]))
"""
QUICK = "print('ran')\n"


def short(job):
    return f"{job['name']} ({job['id'][:8]})"


def squeue_reason(ref: str) -> str:
    return subprocess.run(
        ["squeue", "-h", "-j", ref, "-o", "%r"], capture_output=True, text=True
    ).stdout.strip()


def left_in_slurm() -> str:
    user = os.environ.get("USER") or "root"
    return subprocess.run(
        ["squeue", "-h", "-u", user, "-t", "PENDING,RUNNING", "-o", "%i %j"],
        capture_output=True,
        text=True,
    ).stdout.strip()


async def submit(api, body):
    return await api.submit({"backend": "slurm", "profile": "small", **body})


async def wait_reason(api, job_id, reason, timeout=60):
    """The job once its reason is ``reason`` (SLURM's queue reason is polled: it comes)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        job = await api.get(job_id)
        if job["reason"] == reason or job["status"] in ("completed", "failed", "cancelled"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"reason stayed {job['reason']!r}: {job}")
        await asyncio.sleep(0.2)


@pytest.fixture
def gate(jp_root_dir, tmp_path):
    """``gated.py`` and ``quick.py`` in the server's root; a ``gated.py`` job ends once the file
    this returns exists."""
    (jp_root_dir / "gated.py").write_text(GATED)
    (jp_root_dir / "quick.py").write_text(QUICK)
    return tmp_path / "gate"


async def test_chain_with_a_failing_parent_is_held_and_cancelled_by_slurm(
    jobs_api,
    jp_root_dir,
    gate,
    calls_log,  # noqa: F811
):
    _, log = calls_log
    a = await submit(jobs_api, {"path": "gated.py", "args": [str(gate), "3"], "name": "a"})
    a = await jobs_api.wait(a["id"], statuses=("running",), timeout=120)
    b = await submit(jobs_api, {"path": "quick.py", "name": "b", "after": [a["id"]]})
    c = await submit(jobs_api, {"path": "quick.py", "name": "c", "after": [b["id"]]})
    # handed to SLURM at once, with the dependency on the SLURM job ids
    assert b["backend_ref"] and c["backend_ref"], (b, c)
    sbatch = calls(log, "sbatch")
    assert any(
        f"--dependency=afterok:{a['backend_ref']}" in line and "--kill-on-invalid-dep=yes" in line
        for line in sbatch
    ), sbatch
    assert any(f"--dependency=afterok:{b['backend_ref']}" in line for line in sbatch), sbatch
    assert squeue_reason(b["backend_ref"]) == "Dependency"
    assert squeue_reason(c["backend_ref"]) == "Dependency"
    b = await wait_reason(jobs_api, b["id"], f"waiting for {short(a)}")
    assert b["status"] == "queued" and b["reason"] == f"waiting for {short(a)}"
    c = await jobs_api.get(c["id"])
    assert c["status"] == "queued" and c["reason"] == f"waiting for {short(b)}"

    gate.write_text("")
    a = await jobs_api.wait(a["id"], timeout=120)
    assert a["status"] == "failed" and a["exit_code"] == 3, a
    assert a["reason"] == "exit code 3"  # the runner's word, not "SLURM marked the job FAILED"
    b = await jobs_api.wait(b["id"], timeout=120)
    c = await jobs_api.wait(c["id"], timeout=120)
    assert b["status"] == "cancelled" and b["reason"] == f"{short(a)} failed", b
    assert c["status"] == "cancelled", c
    assert c["reason"] == f"{short(b)} was cancelled: {short(a)} failed", c
    assert b["started_at"] is None and c["started_at"] is None
    assert not (jp_root_dir / "ran").exists()
    assert left_in_slurm() == ""


async def test_chain_that_runs_and_an_on_failure_job_that_is_not_needed(
    jobs_api,
    gate,
    calls_log,  # noqa: F811
):
    _, log = calls_log
    a = await submit(jobs_api, {"path": "gated.py", "args": [str(gate), "0"], "name": "first"})
    a = await jobs_api.wait(a["id"], statuses=("queued", "running"), timeout=120)
    b = await submit(jobs_api, {"path": "quick.py", "name": "second", "after": [a["id"]]})
    on_failure = await submit(
        jobs_api,
        {"path": "quick.py", "name": "cleanup", "after": [a["id"]], "when": "failed"},
    )
    after_any = await submit(
        jobs_api, {"path": "quick.py", "name": "report", "after": [b["id"]], "when": "any"}
    )
    sbatch = " ".join(calls(log, "sbatch"))
    assert f"--dependency=afternotok:{a['backend_ref']}" in sbatch
    assert f"--dependency=afterany:{b['backend_ref']}" in sbatch
    gate.write_text("")
    a = await jobs_api.wait(a["id"], timeout=120)
    b = await jobs_api.wait(b["id"], timeout=120)
    after_any = await jobs_api.wait(after_any["id"], timeout=120)
    on_failure = await jobs_api.wait(on_failure["id"], timeout=120)
    assert [a["status"], b["status"], after_any["status"]] == ["completed"] * 3, (a, b, after_any)
    assert b["started_at"] >= a["finished_at"]
    assert after_any["started_at"] >= b["finished_at"]
    assert "ran" in await jobs_api.log(b["id"])
    assert on_failure["status"] == "cancelled"
    assert on_failure["reason"] == f"{short(a)} completed; this job was to run only if it did not"
    assert left_in_slurm() == ""


async def test_a_job_waiting_for_an_ended_slurm_job_is_held_by_the_server(
    jobs_api,
    jp_root_dir,
    calls_log,  # noqa: F811
):
    """A parent that already ended (SLURM may have forgotten it): the server decides at once."""
    _, log = calls_log
    (jp_root_dir / "quick.py").write_text(QUICK)
    a = await submit(jobs_api, {"path": "quick.py", "name": "done"})
    a = await jobs_api.wait(a["id"], timeout=120)
    assert a["status"] == "completed", a
    b = await submit(jobs_api, {"path": "quick.py", "after": [a["id"]]})
    assert (await jobs_api.wait(b["id"], timeout=120))["status"] == "completed"
    assert not any("--dependency" in line for line in calls(log, "sbatch"))
    r = await jobs_api.request("POST", "jobs", {"path": "quick.py", "after": ["f" * 32]})
    assert r.code == 400 and "Wait for: there is no job" in json.loads(r.body)["message"]


SWEEP_CHILD = """\
import sys
sys.exit(int(sys.argv[-1]))
"""


async def test_a_job_waits_for_a_whole_slurm_sweep_through_its_array_job(
    jobs_api,
    jp_root_dir,
    calls_log,  # noqa: F811
):
    _, log = calls_log
    (jp_root_dir / "child.py").write_text(SWEEP_CHILD)
    (jp_root_dir / "quick.py").write_text(QUICK)
    sweep = await submit(jobs_api, {"path": "child.py", "grid": {"code": [0, 3, 0]}, "throttle": 1})
    ok = await submit(jobs_api, {"path": "quick.py", "name": "ok", "after": [sweep["id"]]})
    anyway = await submit(
        jobs_api, {"path": "quick.py", "name": "any", "after": [sweep["id"]], "when": "any"}
    )
    array_id = (
        sweep["children"]
        and (await jobs_api.get(sweep["children"][0]))["backend_ref"].split("_")[0]
    )
    sbatch = " ".join(calls(log, "sbatch"))
    assert f"--dependency=afterok:{array_id}" in sbatch, sbatch
    assert f"--dependency=afterany:{array_id}" in sbatch, sbatch
    ok = await jobs_api.wait(ok["id"], timeout=180)
    anyway = await jobs_api.wait(anyway["id"], timeout=180)
    sweep = await jobs_api.wait(sweep["id"], timeout=60)
    kids = [await jobs_api.get(c) for c in sweep["children"]]
    assert [k["status"] for k in kids] == ["completed", "failed", "completed"]
    assert sweep["status"] == "failed"
    assert ok["status"] == "cancelled" and ok["reason"] == f"{short(sweep)} failed", ok
    assert anyway["status"] == "completed", anyway
    assert anyway["started_at"] >= max(k["finished_at"] for k in kids)
    assert left_in_slurm() == ""
