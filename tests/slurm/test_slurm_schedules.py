"""Job definitions fired by SLURM itself (issue 12): the next run waits in SLURM's queue with
``--begin``, fires with no Jupyter server running, and arranges the one after it; a pause or a
deletion from a server takes the waiting run out of SLURM's queue. On the real one-node cluster,
in real server processes (one every-minute test, about two minutes)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from benchmarks._server import ServerProcess, request
from jupyter_jobs import jobfiles
from jupyter_jobs.spawners import slurm_schedule as sched
from tests.multi.servers import wait_until

API = "jupyter-jobs/api"
CONFIG = {
    "JobManager": {"enabled_backends": ["local", "slurm"]},
    "JobDefinitions": {"check_interval": 0.5},
    "SlurmSpawner": {"poll_interval": 0.5},
}


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def scontrol(ref: str, field: str) -> str:
    """A field of ``scontrol show job``, times printed in UTC (``TZ=UTC0``)."""
    out = subprocess.run(
        ["scontrol", "show", "job", "-o", ref],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC0"},
    ).stdout
    for part in out.split():
        key, _, value = part.partition("=")
        if key == field:
            return value
    raise AssertionError(f"no {field} in: {out!r}")


def in_queue(ref: str) -> str:
    """The job's state in ``squeue`` ('' once it left the queue)."""
    return subprocess.run(
        ["squeue", "-h", "-j", ref, "-o", "%T"], capture_output=True, text=True
    ).stdout.strip()


#: ``wait_for(predicate, timeout, what)``
wait_for = functools.partial(wait_until, interval=0.5)


# ---------------------------------------------------------------- the time zone of --begin


def test_begin_is_the_occurrence_in_utc_whatever_zone_it_was_given_in():
    berlin = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # after the DST gap
    assert sched.begin_option(berlin) == "--begin=2026-03-29T01:30:00"
    assert sched.with_utc(["sbatch", "x.sh"]) == ["env", "TZ=UTC0", "sbatch", "x.sh"]
    with pytest.raises(ValueError):
        sched.begin_option(datetime(2026, 1, 1, 6, 0))  # naive: no zone is guessed
    assert sched.run_options(berlin, "41", "queue")[1] == "--dependency=afterany:41"
    assert sched.run_options(berlin, "41", "skip") == ["--begin=2026-03-29T01:30:00"]
    assert sched.run_options(None, "41; rm", "queue") == []  # not a job id: nothing
    reason = sched.scheduled_reason(
        datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc), "Europe/Berlin"
    )
    assert reason == "scheduled for Wed 2 Dec 06:00 Europe/Berlin"


def test_sbatch_reads_the_begin_time_as_utc_even_when_its_zone_is_another(tmp_path):
    """sbatch parses ``--begin`` in its own local zone: run in Tokyo (UTC+9) with the prefix, the
    job's start time is still the UTC instant given."""
    at = (datetime.now(timezone.utc) + timedelta(hours=12)).replace(microsecond=0)
    argv = sched.with_utc(
        ["sbatch", "--parsable", sched.begin_option(at), f"--chdir={tmp_path}", "--wrap", "true"]
    )
    out = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, "TZ": "Asia/Tokyo"}, check=True
    ).stdout
    ref = out.strip().split(";")[0]
    refs = [ref]
    try:
        assert in_queue(ref) == "PENDING"
        assert scontrol(ref, "StartTime") == at.strftime("%Y-%m-%dT%H:%M:%S")
        assert scontrol(ref, "Reason") == "BeginTime"
        # without the prefix the same text is read as Tokyo time: 9 hours early
        plain = subprocess.run(
            argv[2:], capture_output=True, text=True, env={**os.environ, "TZ": "Asia/Tokyo"}
        ).stdout
        refs.append(plain.strip().split(";")[0])
        start = datetime.strptime(scontrol(refs[-1], "StartTime"), "%Y-%m-%dT%H:%M:%S")
        assert at.replace(tzinfo=None) - start == timedelta(hours=9)
    finally:
        subprocess.run(["scancel", *refs], capture_output=True)


# ---------------------------------------------------------------- fired with no server


def server(tmp_path, name) -> ServerProcess:
    return ServerProcess(
        config=CONFIG,
        root_dir=str(tmp_path / "root"),
        job_root=str(tmp_path / "job-root"),
        workdir=str(tmp_path / name),
    )


async def runs(srv, definition_id):
    _, page, _ = await request(srv, "GET", f"{API}/jobs?definition={definition_id}", expect=200)
    return page["jobs"]


def run_dirs(job_root, definition_id):
    """The runs of a definition as the job root has them (no server needed): {id: record}."""
    out = {}
    for name in os.listdir(job_root):
        record = jobfiles.read_json(os.path.join(job_root, name, jobfiles.RECORD))
        if isinstance(record, dict) and record.get("definition_id") == definition_id:
            out[name] = record
    return out


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_every_minute_on_slurm_fires_with_no_server_and_a_pause_and_delete_withdraw(
    tmp_path,
):
    os.makedirs(tmp_path / "root")
    job_root = str(tmp_path / "job-root")
    code = "import datetime; print('ran at', datetime.datetime.now())"
    body = {
        "command": [sys.executable, "-c", code],
        "backend": "slurm",
        "schedule": "* * * * *",
        "timezone": "Europe/Berlin",
    }
    a = server(tmp_path, "server-a")
    a.start()
    try:
        _, backends, _ = await request(a, "GET", f"{API}/backends", expect=200)
        by_name = {b["name"]: b for b in backends["backends"]}
        assert by_name["slurm"]["schedules"] == "engine"
        assert by_name["local"]["schedules"] == "server"
        _, d, _ = await request(a, "POST", f"{API}/job-definitions", body, expect=201)
        assert d["fired_by"] == "engine"
        # the next run exists now, waiting in SLURM's queue for its minute
        (first,) = await wait_for(
            lambda: _with_ref(a, d["id"]), 20, "the first run handed to SLURM"
        )
        occurrence = parse(first["scheduled_for"])
        assert occurrence == parse(d["next_run_at"]) and occurrence.second == 0
        ref = first["backend_ref"]
        if in_queue(ref) == "PENDING":
            assert scontrol(ref, "StartTime") == occurrence.strftime("%Y-%m-%dT%H:%M:%S")
    finally:
        a.stop()  # no server from here on

    # the minute comes: SLURM starts the run, which runs and makes the next one
    async def fired():
        status = jobfiles.read_status(os.path.join(job_root, first["id"]))
        return jobfiles.runner_final(status) and status

    # up to a minute to its occurrence, then SLURM's own scheduling passes (the backfill one every
    # 30 s, the main one every 60 s by default) before a job whose --begin has come starts
    status = await wait_for(fired, 180, "the run fired by SLURM with no server")
    assert status["state"] == "completed" and status["exit_code"] == 0
    log = open(os.path.join(job_root, first["id"], jobfiles.LOG)).read()
    assert "ran at" in log
    records = run_dirs(job_root, d["id"])
    later = [r for r in records.values() if r["id"] != first["id"]]
    assert len(later) == 1, records  # exactly one next run, made inside the SLURM job
    nxt = later[0]
    assert parse(nxt["scheduled_for"]) == occurrence + timedelta(minutes=1)
    assert nxt["status"] == "queued" and nxt["backend_ref"]
    assert nxt["reason"].startswith("scheduled for ") and nxt["reason"].endswith("Europe/Berlin")
    assert os.path.exists(
        os.path.join(job_root, "definitions", d["id"], f"fired-{int(occurrence.timestamp()) + 60}")
    )
    if in_queue(nxt["backend_ref"]) == "PENDING":
        assert scontrol(nxt["backend_ref"], "StartTime") == parse(nxt["scheduled_for"]).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )

    # a server again: it finds the run completed and the next waiting (taken over from the engine)
    b = server(tmp_path, "server-b")
    b.start()
    try:

        async def settled():
            jobs = {j["id"]: j for j in await runs(b, d["id"])}
            done = jobs.get(first["id"], {}).get("status") == "completed"
            return done and nxt["id"] in jobs and jobs

        jobs = await wait_for(settled, 30, "the runs seen by a server started afterwards")
        assert jobs[first["id"]]["scheduled_for"] == first["scheduled_for"]
        waiting = [j for j in jobs.values() if j["status"] == "queued"]
        assert waiting, jobs
        # pause from the server: what SLURM holds for it is gone, the run says why
        await request(b, "PATCH", f"{API}/job-definitions/{d['id']}", {"active": False}, expect=200)
        refs = [j["backend_ref"] for j in waiting]

        async def withdrawn():
            if any(in_queue(r) in ("PENDING",) for r in refs):
                return None
            now = {j["id"]: j for j in await runs(b, d["id"])}
            ended = [now[j["id"]] for j in waiting if now[j["id"]]["status"] == "cancelled"]
            return len(ended) == len(waiting) and ended

        ended = await wait_for(withdrawn, 30, "the waiting run withdrawn by the pause")
        assert all(j["reason"] == "the schedule was paused" for j in ended), ended
        # resume: the next run waits in SLURM again; delete: nothing of it is left in the queue
        await request(b, "PATCH", f"{API}/job-definitions/{d['id']}", {"active": True}, expect=200)

        async def resumed():
            return [
                j
                for j in await runs(b, d["id"])
                if j["status"] == "queued" and j["backend_ref"] and j["id"] not in jobs
            ]

        again = await wait_for(resumed, 20, "the run arranged by the resume")
        assert len(again) == 1
        await request(b, "DELETE", f"{API}/job-definitions/{d['id']}", expect=204)

        async def none_left():
            mine = [r for r in run_dirs(job_root, d["id"]).values() if r.get("backend_ref")]
            return all(not in_queue(r["backend_ref"]) for r in mine)

        await wait_for(none_left, 30, "nothing of the deleted definition left in squeue")
    finally:
        b.stop()


async def _with_ref(srv, definition_id):
    jobs = await runs(srv, definition_id)
    return jobs if jobs and all(j.get("backend_ref") for j in jobs) else None


# ---------------------------------------------------------------- the chain's step, directly


def _chain(tmp_path, overlap, *, revision=1, previous_running_ref=None):
    """A job root with a definition and one of its runs (made as a server makes it), and — when
    ``previous_running_ref`` — the run before it, running as SLURM job ``previous_running_ref``."""
    from jupyter_jobs.models import isoformat, new_job_id

    from .conftest import make_job

    job_root = tmp_path / "job-root"
    job_root.mkdir()
    definition_id = new_job_id()
    ddir = job_root / "definitions" / definition_id
    ddir.mkdir(parents=True)
    jobfiles.write_json(
        str(ddir / "definition.json"),
        {
            "id": definition_id,
            "revision": revision,
            "active": True,
            "schedule": "* * * * *",
            "timezone": "Europe/Berlin",
            "overlap": overlap,
        },
    )
    own_at = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    previous = None
    if previous_running_ref:
        previous = make_job(job_root, ["sleep", "600"])
        previous.state = {"slurm_job_id": previous_running_ref}
        jobfiles.write_json(os.path.join(previous.job_dir, jobfiles.RECORD), previous.to_record())
        jobfiles.write_json(os.path.join(previous.job_dir, jobfiles.STATUS), {"state": "running"})
    run = make_job(job_root, ["true"], name="nightly")
    run.definition_id = definition_id
    run.scheduled_for = isoformat(own_at)
    run.state = {"cwd": str(tmp_path), "slurm_job_id": "1"}
    jobfiles.write_json(os.path.join(run.job_dir, jobfiles.RECORD), run.to_record())
    with open(os.path.join(run.job_dir, "job.sbatch"), "w") as f:
        f.write(f"#!/bin/bash\n# {run.job_dir}\ntrue\n")
    jobfiles.write_json(
        str(ddir / f"fired-{int(own_at.timestamp())}"),
        {
            "by": "test",
            "revision": 1,
            "job_id": run.id,
            **({"previous": previous.id} if previous else {}),
        },
    )
    return str(job_root), definition_id, run, own_at


def _step(run, env=None):
    return subprocess.run(
        [sys.executable, "-m", "jupyter_jobs.schedule_next", run.job_dir],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def _held(tmp_path):
    out = subprocess.run(
        ["sbatch", "--parsable", "--hold", f"--chdir={tmp_path}", "--wrap", "sleep 600"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().split(";")[0]


def test_skip_ends_the_run_when_the_previous_is_still_running_after_arranging_the_next(tmp_path):
    held = _held(tmp_path)  # "the previous run": SLURM still has it
    job_root, definition_id, run, own_at = _chain(tmp_path, "skip", previous_running_ref=held)
    done = _step(run)
    assert done.returncode == 0, done.stderr
    status = jobfiles.read_status(run.job_dir)
    assert status["state"] == "cancelled"
    assert (
        status["reason"].startswith("skipped: the previous run (")
        and "still running" in status["reason"]
    )
    assert jobfiles.cancel_requested(run.job_dir)  # a cancel asked for, not SLURM stopping it
    assert not os.path.exists(os.path.join(run.job_dir, jobfiles.LOG))  # the command never ran
    # the next run was arranged first: once, held with --begin at the next minute
    later = {k: r for k, r in run_dirs(job_root, definition_id).items() if k != run.id}
    (nxt,) = later.values()
    assert parse(nxt["scheduled_for"]) == own_at + timedelta(minutes=1)
    assert nxt["owner"] == sched.ENGINE_OWNER and nxt["status"] == "queued"
    assert in_queue(nxt["backend_ref"]) == "PENDING"
    marker = jobfiles.read_json(
        os.path.join(
            job_root, "definitions", definition_id, f"fired-{int(own_at.timestamp()) + 60}"
        )
    )
    assert marker["job_id"] == nxt["id"] and marker["previous"] == run.id
    # its directory is the run's, under its own id
    assert nxt["job_dir"] == os.path.join(job_root, nxt["id"]) and run.id not in str(nxt)
    script = open(os.path.join(job_root, nxt["id"], "job.sbatch")).read()
    assert nxt["id"] in script and run.id not in script
    # a second step for the same occurrence arranges nothing more (the marker is taken)
    assert _step(run).returncode == 0
    assert len(run_dirs(job_root, definition_id)) == 2


def test_queue_makes_the_next_run_depend_on_this_one(tmp_path):
    this = _held(tmp_path)  # stands for the SLURM job the step runs in
    job_root, definition_id, run, _ = _chain(tmp_path, "queue")
    done = _step(run, {"SLURM_JOB_ID": this})
    assert done.returncode == 0, done.stderr
    (nxt,) = [r for k, r in run_dirs(job_root, definition_id).items() if k != run.id]
    assert scontrol(nxt["backend_ref"], "Dependency").startswith(f"afterany:{this}")
    assert jobfiles.read_status(run.job_dir)["state"] == "completed"  # it ran (no skip here)


def test_a_definition_changed_since_the_run_was_made_arranges_nothing(tmp_path):
    job_root, definition_id, run, _ = _chain(tmp_path, "allow", revision=2)
    done = _step(run)
    assert done.returncode == 0
    assert "no next run: the schedule was changed" in done.stderr
    assert list(run_dirs(job_root, definition_id)) == [run.id]
