"""A job definition's run on SLURM, at its start, inside the SLURM job (no Jupyter server):
arrange the run after it, decide the overlap policy, then ``exec`` the runner.

    python -m jupyter_jobs.schedule_next JOB_DIR

The batch script of a scheduled run starts this instead of ``jupyter_jobs.runner`` (docs/slurm.md,
"Schedules"; docs/CONTRACT.md, "Job definitions"). In order:

1. Re-read the definition (``<job_root>/definitions/<id>/definition.json``). Only when it is still
   there, active, and at the revision this run was made for (its ``fired-<epoch>`` marker says
   which), the next occurrence is arranged — exactly once: the ``fired-<next epoch>`` marker is made
   with ``O_EXCL`` (shared with the servers, so a server and a run never both arrange it). The next
   run's directory is this one's, cloned under a new id (record reset to ``queued``, the input
   pinned again from the file as it is now), handed to ``env TZ=UTC0 sbatch --begin=<UTC>``
   (``--dependency=afterany:<this job>`` for ``overlap: queue``). The definition is read once more
   after the sbatch: changed meanwhile (a pause, an edit, a deletion on a server) → the new run is
   scancelled and ends ``cancelled`` with the reason.
2. ``overlap: skip`` and the previous run still active (its runner's status not final and SLURM
   still has it) → this run ends ``cancelled``, "skipped: …", without running.
3. ``exec`` the runner on this job's directory (which runs the command exactly once).

Anything that goes wrong in 1 is printed to the job's ``slurm.out`` and never stops this run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any

from . import jobfiles
from .exceptions import StorageFull
from .jobroot import JobRoot
from .models import QUEUED, Job, isoformat, new_job_id, parse_time
from .spawners import slurm_schedule as sched
from .spawners import slurm_script as script

DEFINITIONS_DIR = "definitions"
#: SLURM states of a job that is still going
ACTIVE_SLURM_STATES = ("RUNNING", "PENDING", "SUSPENDED", "CONFIGURING", "COMPLETING", "REQUEUED")
#: files of a job directory that are not carried to the next run (everything the run made)
CARRIED = (jobfiles.SPEC, script.SCRIPT)


def log(message: str) -> None:
    print(f"jupyter-jobs schedule: {message}", file=sys.stderr, flush=True)


def read_definition(job_root: str, definition_id: str) -> dict[str, Any] | None:
    data = jobfiles.read_json(
        os.path.join(job_root, DEFINITIONS_DIR, definition_id, "definition.json")
    )
    return data if isinstance(data, dict) and data.get("id") == definition_id else None


def still_current(job_root: str, definition_id: str, revision: Any) -> tuple[bool, str]:
    """(True, "") while the definition is there, active and at ``revision``; else why not."""
    definition = read_definition(job_root, definition_id)
    if definition is None:
        return False, "the schedule was deleted"
    if not definition.get("active"):
        return False, "the schedule was paused"
    if revision is not None and definition.get("revision") != revision:
        return False, "the schedule was changed"
    return True, ""


def _replace_ids(value: Any, old: str, new: str) -> Any:
    """Every string in a JSON value with the old job id (and the 8-character prefix outputs are
    named with) replaced by the new one."""
    if isinstance(value, str):
        return value.replace(old, new).replace(f"-{old[:8]}.", f"-{new[:8]}.")
    if isinstance(value, list):
        return [_replace_ids(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_ids(v, old, new) for k, v in value.items()}
    return value


def _pin_again(job: Job, source_dir: str, dest_dir: str, root_dir: str | None) -> None:
    """The next run's ``input/``: this run's copy, each file replaced by the file as it is now
    when the server's root (``root_dir``) is known and the file is still there."""
    src_input = os.path.join(source_dir, jobfiles.INPUT_DIR)
    if not os.path.isdir(src_input):
        return
    dest_input = os.path.join(dest_dir, jobfiles.INPUT_DIR)
    shutil.copytree(src_input, dest_input)
    if not (root_dir and job.path):
        return
    origin = os.path.join(root_dir, job.path)
    folder = os.path.dirname(origin)
    wanted = {os.path.basename(job.path): origin}
    for rel in job.extra_files or []:
        wanted[rel] = os.path.join(folder, rel)
    for rel, path in wanted.items():
        dest = os.path.join(dest_input, rel)
        if os.path.isfile(path) and os.path.exists(dest):
            try:
                shutil.copyfile(path, dest)
                os.chmod(dest, 0o600)
            except OSError as e:
                log(f"kept the previous copy of {rel}: {e}")


def clone_run(job_dir: str, occurrence: datetime, reason: str, root_dir: str | None) -> Job:
    """The next run: this job's directory under a new id, its record reset to a queued run of
    ``occurrence`` (created whole: ``.new-<id>`` renamed into place)."""
    record = jobfiles.read_json(os.path.join(job_dir, jobfiles.RECORD))
    if not isinstance(record, dict):
        raise OSError(f"no job record in {job_dir}")
    old = str(record["id"])
    new = new_job_id()
    job = Job.from_record(_replace_ids(record, old, new))
    job.id = new
    job.status = QUEUED
    job.exit_code = None
    job.reason = reason
    job.created_at = datetime.now(timezone.utc)
    job.started_at = job.finished_at = None
    job.backend_ref = None
    job.host = None
    job.progress = None
    job.log_size = 0
    job.efficiency = None
    job.results = {}
    job.expected_start = None
    job.scheduled_for = isoformat(occurrence)
    job.attempt = 1
    job.owner = sched.ENGINE_OWNER
    job.state = {k: v for k, v in job.state.items() if k in ("cwd",)}
    job.state[sched.STATE_REASON] = reason
    parent = os.path.dirname(job_dir)
    job.job_dir = os.path.join(parent, new)
    files: dict[str, Any] = {}

    def carry(tmp: str) -> None:  # the batch script (text) and the inputs, this run's ids renamed
        for name in CARRIED:
            path = os.path.join(job_dir, name)
            if os.path.exists(path) and not name.endswith(".json"):
                with open(path, encoding="utf-8") as f:
                    text = f.read().replace(old, new)
                with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                    f.write(text)
        _pin_again(job, job_dir, tmp, root_dir)

    for name in CARRIED:
        path = os.path.join(job_dir, name)
        if os.path.exists(path) and name.endswith(".json"):
            files[name] = _replace_ids(jobfiles.read_json(path), old, new)
    JobRoot(parent).create(job, files, fill=carry)  # created whole, as every job directory is
    return job


def _env() -> dict[str, str]:
    """This process's environment without the SLURM job's own variables (sbatch would read some
    of them as options of the new job); the cluster's configuration stays."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "SBATCH_")) or k == "SLURM_CONF"
    }


def sbatch(job: Job, occurrence: datetime, previous: str | None, overlap: str) -> str:
    path = os.path.join(job.job_dir, script.SCRIPT)
    argv = script.sbatch_argv(
        path,
        job_name=script.sanitize_job_name(job.name or job.id),
        job_dir=job.job_dir,
    )
    argv[-1:-1] = sched.run_options(occurrence, previous, overlap)
    proc = subprocess.run(
        sched.with_utc(argv),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        cwd=job.job_dir,
    )
    if proc.returncode != 0:
        raise OSError(f"sbatch refused the next run: {(proc.stderr or proc.stdout).strip()}")
    return script.parse_sbatch_output(proc.stdout)


def end_without_running(job_dir: str, reason: str) -> None:
    """This run ends ``cancelled`` with ``reason`` (the cancel request makes it a cancel the
    user's side asked for, not SLURM stopping the runner)."""
    jobfiles.request_cancel(job_dir, by="schedule")
    now = isoformat(datetime.now(timezone.utc))
    jobfiles.write_json(
        os.path.join(job_dir, jobfiles.STATUS),
        {
            "state": "cancelled",
            "reason": reason,
            "started_at": now,
            "finished_at": now,
            "host": os.uname().nodename,
        },
    )


def arrange_next(job_dir: str, record: dict[str, Any], definition: dict[str, Any]) -> None:
    job_root = os.path.dirname(job_dir)
    definition_id = definition["id"]
    own = parse_time(record.get("scheduled_for"))
    own_marker = (
        jobfiles.read_json(
            sched.marker_path(os.path.join(job_root, DEFINITIONS_DIR), definition_id, own)
        )
        if own
        else None
    ) or {}
    revision = own_marker.get("revision")
    ok, why = still_current(job_root, definition_id, revision)
    if not ok:
        log(f"no next run: {why}")
        return
    now = datetime.now(timezone.utc)
    nxt = sched.next_occurrence(definition, max(now, own) if own else now)
    if nxt is None:
        return
    marker = sched.marker_path(os.path.join(job_root, DEFINITIONS_DIR), definition_id, nxt)
    slurm_id = os.environ.get("SLURM_JOB_ID")
    content = {
        "by": f"slurm job {slurm_id}",
        "at": isoformat(now),
        "revision": revision,
        "root_dir": own_marker.get("root_dir"),
        "previous": record["id"],
    }
    if not jobfiles.create_exclusive(marker, content):
        log(f"the run of {isoformat(nxt)} is arranged already")
        return
    reason = sched.scheduled_reason(nxt, definition["timezone"])
    try:
        job = clone_run(job_dir, nxt, reason, own_marker.get("root_dir"))
    except (OSError, StorageFull) as e:
        jobfiles.write_json(marker, {**content, "error": f"could not arrange the next run: {e}"})
        raise
    try:
        ref = sbatch(job, nxt, slurm_id, definition.get("overlap") or "skip")
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        job.status = "failed"
        job.reason = f"could not be handed to SLURM: {e}"
        job.finished_at = datetime.now(timezone.utc)
        jobfiles.write_json(os.path.join(job.job_dir, jobfiles.RECORD), job.to_record(), fsync=True)
        jobfiles.write_json(marker, {**content, "job_id": job.id, "error": job.reason})
        raise OSError(job.reason) from e
    job.backend_ref = ref
    job.state["slurm_job_id"] = ref
    if slurm_id:
        job.state[sched.STATE_AFTER] = slurm_id
    jobfiles.write_json(os.path.join(job.job_dir, jobfiles.RECORD), job.to_record(), fsync=True)
    jobfiles.write_json(marker, {**content, "job_id": job.id, "slurm_job_id": ref})
    log(f"the next run {job.id} ({reason}) is SLURM job {ref}")
    ok, why = still_current(job_root, definition_id, revision)
    if not ok:  # paused, edited or deleted while it was being arranged
        subprocess.run(["scancel", ref], capture_output=True, env=_env(), timeout=60)
        job.status = "cancelled"
        job.reason = why
        job.finished_at = datetime.now(timezone.utc)
        jobfiles.request_cancel(job.job_dir, by="schedule")
        jobfiles.write_json(os.path.join(job.job_dir, jobfiles.RECORD), job.to_record(), fsync=True)
        log(f"the next run {job.id} withdrawn: {why}")


def previous_active(job_root: str, record: dict[str, Any]) -> str | None:
    """The previous run of the definition (the one that arranged this one: its id is in this
    run's marker), when it is still active: its runner has not ended and SLURM still has its
    job. Its id, else None."""
    own = parse_time(record.get("scheduled_for"))
    if own is None:
        return None
    marker = (
        jobfiles.read_json(
            sched.marker_path(os.path.join(job_root, DEFINITIONS_DIR), record["definition_id"], own)
        )
        or {}
    )
    previous = marker.get("previous")
    if not isinstance(previous, str) or not previous.isalnum():
        return None  # the first run of a chain (arranged by a server)
    prev_dir = os.path.join(job_root, previous)
    if jobfiles.runner_final(jobfiles.read_status(prev_dir)):
        return None
    prev = jobfiles.read_json(os.path.join(prev_dir, jobfiles.RECORD))
    ref = str(((prev or {}).get("state") or {}).get("slurm_job_id") or "")
    if not ref.isdigit():
        return None
    proc = subprocess.run(
        ["squeue", "-h", "-j", ref, "-o", "%T"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    if proc.returncode == 0 and proc.stdout.strip() in ACTIVE_SLURM_STATES:
        return previous
    return None


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jupyter_jobs.schedule_next JOB_DIR", file=sys.stderr)
        sys.exit(2)
    job_dir = os.path.abspath(args[0])
    job_root = os.path.dirname(job_dir)
    record = jobfiles.read_json(os.path.join(job_dir, jobfiles.RECORD))
    runner = [sys.executable, "-m", "jupyter_jobs.runner", job_dir]
    definition_id = record.get("definition_id") if isinstance(record, dict) else None
    definition = read_definition(job_root, definition_id) if definition_id else None
    if isinstance(record, dict) and definition is not None:
        try:
            arrange_next(job_dir, record, definition)
        except Exception as e:  # never stops this run
            log(f"the next run could not be arranged: {e}")
        if definition.get("overlap") == "skip" and not os.path.exists(
            os.path.join(job_dir, jobfiles.STARTED)
        ):
            previous = previous_active(job_root, record)
            if previous:
                reason = f"skipped: the previous run ({previous[:8]}) was still running"
                log(reason)
                end_without_running(job_dir, reason)
                return
    elif definition_id:
        log("no next run: the schedule was deleted")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(runner[0], runner)


if __name__ == "__main__":
    main()
