"""Retries of a job definition's failed run on SLURM (issue 12): decided and submitted inside the
SLURM job by ``jupyter_jobs.schedule_next`` once the runner ended, with no Jupyter server — a new
run of the same occurrence, ``attempt`` + 1, held with ``--begin`` for ``retry_delay``; once per
failed run (its ``retry-<job id>`` marker); never for a cancelled run, nor when the definition was
paused or changed meanwhile. On the real one-node cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_jobs import jobfiles
from jupyter_jobs import schedule_next as step
from jupyter_jobs.models import isoformat, new_job_id, parse_time
from jupyter_jobs.spawners import slurm_schedule as sched

from .conftest import make_job
from .test_slurm_schedules import API, in_queue, run_dirs, runs, server, wait_for

#: never in the time of a test: the next occurrence a run arranges waits in SLURM (cancelled after)
FAR = "0 0 1 1 *"
FAIL = [sys.executable, "-c", "import sys; print('attempt ran'); sys.exit(3)"]


def definition_dir(job_root: str, definition_id: str) -> str:
    return os.path.join(job_root, "definitions", definition_id)


def make_definition(job_root: str, **fields) -> str:
    definition_id = new_job_id()
    os.makedirs(definition_dir(job_root, definition_id))
    jobfiles.write_json(
        os.path.join(definition_dir(job_root, definition_id), "definition.json"),
        {
            "id": definition_id,
            "revision": 1,
            "active": True,
            "schedule": FAR,
            "timezone": "Europe/Berlin",
            "overlap": "allow",
            "retries": 1,
            "retry_delay": 2,
            **fields,
        },
    )
    return definition_id


def make_run(job_root: str, definition_id: str, argv, *, tmp_path, attempt=1, state=None):
    """A run of the definition made as a server makes it (record, spec, batch script that starts
    ``schedule_next``), with the ``fired-<epoch>`` marker of its occurrence (revision 1)."""
    run = make_job(job_root, argv, name="nightly")
    run.definition_id = definition_id
    occurrence = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    run.scheduled_for = isoformat(occurrence)
    run.attempt = attempt
    run.state = {"cwd": str(tmp_path), **(state or {})}
    spec_path = os.path.join(run.job_dir, jobfiles.SPEC)
    jobfiles.write_json(
        spec_path, {**jobfiles.read_json(spec_path), "exit_nonzero_on_failure": True}
    )
    jobfiles.write_json(os.path.join(run.job_dir, jobfiles.RECORD), run.to_record())
    with open(os.path.join(run.job_dir, "job.sbatch"), "w") as f:
        f.write(f"#!/bin/bash\nexec {sys.executable} -m jupyter_jobs.schedule_next {run.job_dir}\n")
    jobfiles.write_json(
        sched.marker_path(
            os.path.join(job_root, "definitions"), definition_id, parse_time(run.scheduled_for)
        ),
        {"by": "test", "revision": 1, "job_id": run.id},
    )
    return run


def submit(run) -> str:
    """The run handed to SLURM by the code the chain uses (``env TZ=UTC0 sbatch``)."""
    ref = step.sbatch(run, [])
    run.backend_ref = ref
    run.state["slurm_job_id"] = ref
    jobfiles.write_json(os.path.join(run.job_dir, jobfiles.RECORD), run.to_record())
    return ref


def local_step(run) -> subprocess.CompletedProcess:
    """``schedule_next`` on this host (not in a SLURM job): what it decides at the start and the
    end of a run, the runner run here."""
    return subprocess.run(
        [sys.executable, "-m", "jupyter_jobs.schedule_next", run.job_dir],
        capture_output=True,
        text=True,
        timeout=120,
    )


def retry_markers(job_root: str, definition_id: str) -> list[str]:
    return sorted(
        n for n in os.listdir(definition_dir(job_root, definition_id)) if n.startswith("retry-")
    )


def slurm_out(job_dir: str) -> str:
    try:
        with open(os.path.join(job_dir, "slurm.out")) as f:
            return f.read()
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------- the pure parts


def test_a_retry_begins_after_the_delay_and_says_what_it_retries():
    failed = datetime(2026, 12, 2, 5, 0, 0, 250_000, tzinfo=timezone.utc)
    begin = sched.retry_begin(failed, 5)
    assert begin == datetime(2026, 12, 2, 5, 0, 6, tzinfo=timezone.utc)  # never before the delay
    assert sched.begin_option(begin) == "--begin=2026-12-02T05:00:06"
    reason = sched.retry_reason(1, 3, "1a2b3c4d" + "0" * 24, "exit code 3", begin, "Europe/Berlin")
    assert reason == (
        "retry 1 of 3 after run 1a2b3c4d failed (exit code 3); starts Wed 2 Dec 06:00:06"
        " Europe/Berlin"
    )
    assert sched.retry_marker_path("/d", "abc", "f00") == "/d/abc/retry-f00"


# ---------------------------------------------------------------- inside SLURM, no server


async def test_a_failed_run_is_retried_from_inside_its_slurm_job_once_and_no_more(tmp_path):
    job_root = str(tmp_path / "job-root")
    definition_id = make_definition(job_root, retries=1, retry_delay=2)
    run = make_run(job_root, definition_id, FAIL, tmp_path=tmp_path)
    ref = submit(run)

    async def retried_and_done():
        others = {k: r for k, r in run_dirs(job_root, definition_id).items() if k != run.id}
        retry = [r for r in others.values() if r.get("attempt") == 2]
        if not retry or not retry[0].get("backend_ref") or in_queue(retry[0]["backend_ref"]):
            return None
        status = jobfiles.read_status(retry[0]["job_dir"])
        return jobfiles.runner_final(status) and (retry[0], status)

    retry, retry_status = await wait_for(retried_and_done, 90, "the retry made and run in SLURM")
    first = jobfiles.read_status(run.job_dir)
    assert first["state"] == "failed" and first["exit_code"] == 3
    assert retry_status["state"] == "failed" and retry_status["exit_code"] == 3
    with open(os.path.join(retry["job_dir"], jobfiles.LOG)) as f:
        assert "attempt ran" in f.read()  # the retry ran the command

    # the retry: a run of the same occurrence, attempt 2, its reason says what it retries
    assert retry["definition_id"] == definition_id
    assert retry["scheduled_for"] == run.scheduled_for
    assert retry["owner"] == sched.ENGINE_OWNER
    assert retry["state"][sched.STATE_RETRY_OF] == run.id
    assert retry["reason"].startswith(f"retry 1 of 1 after run {run.id[:8]} failed (exit code 3)")
    # decided and submitted inside the first run's SLURM job, once, held for the delay
    (marker_name,) = retry_markers(job_root, definition_id)
    assert marker_name == f"retry-{run.id}"
    marker = jobfiles.read_json(os.path.join(definition_dir(job_root, definition_id), marker_name))
    assert marker["by"] == f"slurm job {ref}"
    assert marker["job_id"] == retry["id"] and marker["slurm_job_id"] == retry["backend_ref"]
    assert marker["attempt"] == 2 and marker["revision"] == 1
    begin = parse_time(marker["begin"])
    assert begin >= parse_time(first["finished_at"]) + timedelta(seconds=2)
    assert parse_time(retry_status["started_at"]) >= begin  # SLURM held it until then
    assert f"the retry {retry['id']}" in slurm_out(run.job_dir)
    # attempt 2 was the last (retries: 1): no third run, and the retry arranged no next run
    assert "no retry: attempt 2 was the last of 2" in slurm_out(retry["job_dir"])
    records = run_dirs(job_root, definition_id)
    # this run, its retry, and the next occurrence's run (1 January) the first attempt arranged
    assert sorted(r.get("attempt") for r in records.values()) == [1, 1, 2], records
    fired = [n for n in os.listdir(definition_dir(job_root, definition_id)) if "fired-" in n]
    assert len(fired) == 2


@pytest.mark.parametrize("how", ["scancel", "signal to the batch step only"])
async def test_a_cancelled_run_is_not_retried(tmp_path, how):
    """``scancel`` signals every process of the job; ``scancel --batch --signal=TERM`` only the
    batch step's own process (``schedule_next``): it passes the signal on to the runner."""
    job_root = str(tmp_path / "job-root")
    definition_id = make_definition(job_root, retries=2, retry_delay=0)
    run = make_run(job_root, definition_id, ["sleep", "600"], tmp_path=tmp_path)
    ref = submit(run)

    async def running():
        return (jobfiles.read_status(run.job_dir) or {}).get("state") == "running"

    await wait_for(running, 60, "the run running in SLURM")
    argv = ["scancel", ref] if how == "scancel" else ["scancel", "--batch", "-s", "TERM", ref]
    subprocess.run(argv, check=True, capture_output=True)

    async def gone():
        return not in_queue(ref)

    await wait_for(gone, 60, "the cancelled run out of SLURM's queue")
    status = jobfiles.read_status(run.job_dir)
    # scancel's SIGTERM reaches the command too, maybe before the runner has seen its own: the
    # end is still the cancel's (the runner waits for its copy of the signal); with --batch only
    # schedule_next got it and passed it on
    assert (status["state"], status["reason"]) == ("cancelled", "cancelled (SIGTERM)"), status
    assert retry_markers(job_root, definition_id) == []
    assert [r.get("attempt") for r in run_dirs(job_root, definition_id).values()] == [1, 1]


# ---------------------------------------------------------------- the decision, on this host


@pytest.mark.parametrize(
    "change, why",
    [
        ({"active": False}, "the schedule was paused"),
        ({"revision": 2}, "the schedule was changed"),
        (None, "the schedule was deleted"),
    ],
)
def test_no_retry_when_the_definition_was_paused_changed_or_deleted(tmp_path, change, why):
    job_root = str(tmp_path / "job-root")
    definition_id = make_definition(job_root, retries=3, retry_delay=0)
    run = make_run(job_root, definition_id, FAIL, tmp_path=tmp_path)
    path = os.path.join(definition_dir(job_root, definition_id), "definition.json")
    definition = jobfiles.read_json(path)
    if change is None:
        os.unlink(path)
    else:
        jobfiles.write_json(path, {**definition, **change})
    done = local_step(run)
    assert done.returncode == 1, done.stderr  # the runner's: a failed command fails the job
    assert jobfiles.read_status(run.job_dir)["state"] == "failed"
    if change is not None:  # (deleted: nothing is left to read, nor to write a marker in)
        assert f"no retry: {why}" in done.stderr
        assert retry_markers(job_root, definition_id) == []
    assert list(run_dirs(job_root, definition_id)) == [run.id]


def test_a_retry_that_starts_after_a_pause_ends_without_running(tmp_path):
    job_root = str(tmp_path / "job-root")
    definition_id = make_definition(job_root, retries=3, retry_delay=0, active=False)
    failed_id = new_job_id()
    retry = make_run(
        job_root,
        definition_id,
        FAIL,
        tmp_path=tmp_path,
        attempt=2,
        state={sched.STATE_RETRY_OF: failed_id},
    )
    jobfiles.write_json(
        sched.retry_marker_path(os.path.join(job_root, "definitions"), definition_id, failed_id),
        {"by": "test", "revision": 1, "job_id": retry.id},
    )
    done = local_step(retry)
    assert done.returncode == 0, done.stderr
    status = jobfiles.read_status(retry.job_dir)
    assert status["state"] == "cancelled"
    assert status["reason"] == "not retried: the schedule was paused"
    assert not os.path.exists(os.path.join(retry.job_dir, jobfiles.LOG))  # the command never ran
    assert list(run_dirs(job_root, definition_id)) == [retry.id]  # and arranged nothing


def test_a_retry_is_made_once_per_failed_run(tmp_path):
    """The ``retry-<job id>`` marker: a second end of the same run (SLURM requeued its batch job,
    say) makes no second retry."""
    job_root = str(tmp_path / "job-root")
    definition_id = make_definition(job_root, retries=3, retry_delay=3600)
    run = make_run(job_root, definition_id, FAIL, tmp_path=tmp_path)
    done = local_step(run)
    assert done.returncode == 1, done.stderr
    (retry,) = [r for r in run_dirs(job_root, definition_id).values() if r.get("attempt") == 2]
    assert in_queue(retry["backend_ref"]) == "PENDING"  # held an hour (retry_delay)
    assert len(run_dirs(job_root, definition_id)) == 3  # and the next occurrence's run
    again = local_step(run)  # the runner: started already; the retry: arranged already
    assert f"the retry of {run.id} is arranged already" in again.stderr
    assert len(run_dirs(job_root, definition_id)) == 3


# ---------------------------------------------------------------- the server's view


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_failed_run_now_is_retried_by_slurm_with_no_server_and_a_later_server_shows_it(
    tmp_path,
):
    os.makedirs(tmp_path / "root")
    job_root = str(tmp_path / "job-root")
    body = {
        "command": FAIL,
        "backend": "slurm",
        "schedule": FAR,
        "timezone": "Europe/Berlin",
        "retries": 1,
        "retry_delay": 1,
    }
    a = server(tmp_path, "server-a")
    a.start()
    try:
        _, d, _ = await request_ok(a, "POST", f"{API}/job-definitions", body, 201)
        _, first, _ = await request_ok(a, "POST", f"{API}/job-definitions/{d['id']}/run", None, 201)
        assert first["attempt"] == 1 and first["backend_ref"]
    finally:
        a.stop()  # no server from here on: the failure and its retry happen in SLURM alone

    async def retry_done():
        retry = [r for r in run_dirs(job_root, d["id"]).values() if r.get("attempt") == 2]
        if not retry or not retry[0].get("backend_ref") or in_queue(retry[0]["backend_ref"]):
            return None
        return jobfiles.runner_final(jobfiles.read_status(retry[0]["job_dir"])) and retry[0]

    retry = await wait_for(retry_done, 90, "the retry of the failed run, with no server")
    marker = jobfiles.read_json(
        os.path.join(definition_dir(job_root, d["id"]), f"retry-{first['id']}")
    )
    assert marker["by"] == f"slurm job {first['backend_ref']}"

    b = server(tmp_path, "server-b")
    b.start()
    try:

        async def settled():
            jobs = {j["id"]: j for j in await runs(b, d["id"])}
            done = [j for j in jobs.values() if j["status"] == "failed"]
            return len(done) == 2 and jobs

        jobs = await wait_for(settled, 60, "both attempts seen by a server started afterwards")
        assert jobs[first["id"]]["attempt"] == 1
        seen = jobs[retry["id"]]
        assert seen["attempt"] == 2 and seen["definition_id"] == d["id"]
        assert seen["exit_code"] == 3
        assert len(jobs) == 3  # the two attempts and the run waiting for 1 January: no third
        _, got, _ = await request_ok(b, "GET", f"{API}/job-definitions/{d['id']}", None, 200)
        assert got["run_count"] == 3
        await request_ok(b, "DELETE", f"{API}/job-definitions/{d['id']}", None, 204)

        async def none_left():
            mine = [r for r in run_dirs(job_root, d["id"]).values() if r.get("backend_ref")]
            return all(not in_queue(r["backend_ref"]) for r in mine)

        await wait_for(none_left, 30, "nothing of the deleted definition left in squeue")
    finally:
        b.stop()


@pytest.mark.timeout(180)
async def test_a_waiting_retry_shows_why_on_the_server_and_a_pause_withdraws_it(tmp_path):
    os.makedirs(tmp_path / "root")
    body = {
        "command": FAIL,
        "backend": "slurm",
        "schedule": FAR,
        "timezone": "Europe/Berlin",
        "retries": 2,
        "retry_delay": 3600,  # it waits in SLURM's queue for the rest of the test
    }
    a = server(tmp_path, "server-a")
    a.start()
    try:
        _, d, _ = await request_ok(a, "POST", f"{API}/job-definitions", body, 201)
        _, first, _ = await request_ok(a, "POST", f"{API}/job-definitions/{d['id']}/run", None, 201)

        async def waiting_retry():
            jobs = await runs(a, d["id"])
            retry = [j for j in jobs if j.get("attempt") == 2]
            return retry and retry[0]["backend_ref"] and retry[0]["reason"] and retry[0]

        retry = await wait_for(waiting_retry, 90, "the retry, waiting, seen by the server")
        assert retry["status"] == "queued" and retry["scheduled_for"] is None  # a "run now"'s
        assert retry["reason"].startswith(f"retry 1 of 2 after run {first['id'][:8]} failed")
        assert retry["reason"].endswith("Europe/Berlin") and "; starts " in retry["reason"]
        assert in_queue(retry["backend_ref"]) == "PENDING"
        await request_ok(a, "PATCH", f"{API}/job-definitions/{d['id']}", {"active": False}, 200)

        async def withdrawn():
            jobs = {j["id"]: j for j in await runs(a, d["id"])}
            done = jobs[retry["id"]]["status"] == "cancelled"
            return done and not in_queue(retry["backend_ref"]) and jobs[retry["id"]]

        seen = await wait_for(withdrawn, 30, "the waiting retry withdrawn by the pause")
        assert seen["reason"] == "the schedule was paused"
        assert len(await runs(a, d["id"])) == 3  # the failed run, its retry, the 1 January run
    finally:
        a.stop()


async def request_ok(srv, method, path, body, expect):
    from benchmarks._server import request

    if body is None:
        return await request(srv, method, path, expect=expect)
    return await request(srv, method, path, body, expect=expect)
