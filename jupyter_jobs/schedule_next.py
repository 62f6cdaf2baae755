"""A job definition's run on SLURM, inside the SLURM job (no Jupyter server): at its start,
arrange the run after it and decide the overlap policy; then run the runner; at its end, retry it
when it failed.

    python -m jupyter_jobs.schedule_next JOB_DIR

The batch script of a definition's run starts this instead of ``jupyter_jobs.runner`` (docs/slurm.md,
"Schedules"; docs/CONTRACT.md, "Job definitions"). In order:

1. Re-read the definition (``<job_root>/definitions/<id>/definition.json``). Only when it is still
   there, active, and at the revision this run was made for (its ``fired-<epoch>`` marker says
   which), the next occurrence is arranged — exactly once: the ``fired-<next epoch>`` marker is made
   with ``O_EXCL`` (shared with the servers, so a server and a run never both arrange it). The next
   run's directory is this one's, cloned under a new id (record reset to ``queued``, the input
   pinned again from the file as it is now), handed to ``env TZ=UTC0 sbatch --begin=<UTC>``
   (``--dependency=afterany:<this job>`` for ``overlap: queue``). The definition is read once more
   after the sbatch: changed meanwhile (a pause, an edit, a deletion on a server) → the new run is
   scancelled and ends ``cancelled`` with the reason. A run started with "run now" (no
   ``scheduled_for``) and a retry (``attempt`` > 1) arrange nothing: the first attempt of the
   occurrence did.
2. ``overlap: skip`` and the previous run still active (its runner's status not final and SLURM
   still has it) → this run ends ``cancelled``, "skipped: …", without running. A retry whose
   definition is no longer there, active and at its revision ends ``cancelled`` without running.
3. The runner on this job's directory (which runs the command exactly once), as a child: the
   signals SLURM sends to the batch step (``scancel``, ``scancel --batch --signal=…``, ``--signal``)
   are passed on to it, and this process exits with its exit code.
4. The runner recorded ``failed`` (not cancelled, not skipped, no stop signal came), attempts
   remain (``attempt`` ≤ ``retries``), and the definition is still there, active and at the same
   revision → a retry: this directory cloned again (same ``scheduled_for``, ``attempt`` + 1,
   reason "retry 1 of 3 after run … failed (…)"), ``sbatch --begin=<now + retry_delay>``; exactly
   once: the ``retry-<this job id>`` marker (``O_EXCL``), the one the servers' retries use.

Anything that goes wrong in 1 and 4 is printed to the job's ``slurm.out`` and never changes this
run's end.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timezone
from types import FrameType
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
#: the signals that stop a run (blocked while the runner is started: the runner unblocks them
#: once its handlers are in place, so one sent at that instant reaches it all the same)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: passed on to the runner when this process gets them (SLURM signals the batch step's process)
FORWARDED = (*STOP_SIGNALS, signal.SIGCONT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT)


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


def clone_run(
    job_dir: str,
    occurrence: datetime | None,
    reason: str,
    root_dir: str | None,
    *,
    attempt: int = 1,
    state: dict[str, Any] | None = None,
) -> Job:
    """The next run (or a retry): this job's directory under a new id, its record reset to a
    queued run of ``occurrence`` (None: a "run now" run's retry), ``attempt``, ``state`` added
    (created whole: ``.new-<id>`` renamed into place)."""
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
    job.scheduled_for = isoformat(occurrence) if occurrence is not None else None
    job.attempt = attempt
    job.owner = sched.ENGINE_OWNER
    job.state = {k: v for k, v in job.state.items() if k in ("cwd",)}
    job.state[sched.STATE_REASON] = reason
    job.state.update(state or {})
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


def sbatch(job: Job, options: list[str]) -> str:
    """``env TZ=UTC0 sbatch <options> <the job's batch script>``: its SLURM job id."""
    path = os.path.join(job.job_dir, script.SCRIPT)
    argv = script.sbatch_argv(
        path,
        job_name=script.sanitize_job_name(job.name or job.id),
        job_dir=job.job_dir,
    )
    argv[-1:-1] = options
    proc = subprocess.run(
        sched.with_utc(argv),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        cwd=job.job_dir,
    )
    if proc.returncode != 0:
        raise OSError(f"sbatch refused it: {(proc.stderr or proc.stdout).strip()}")
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
    options = sched.run_options(nxt, slurm_id, definition.get("overlap") or "skip")
    hand_over(job, options, marker, content, after=slurm_id, what="the next run")
    withdraw_if_changed(job, job_root, definition_id, revision, "the next run")


def hand_over(
    job: Job,
    options: list[str],
    marker: str,
    content: dict[str, Any],
    *,
    after: str | None,
    what: str,
) -> None:
    """``sbatch`` the made run (its record then has its SLURM job; the marker names both). A
    refusal: the run ends ``failed`` with why, the marker says so, and OSError."""
    try:
        ref = sbatch(job, options)
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        job.status = "failed"
        job.reason = f"could not be handed to SLURM: {e}"
        job.finished_at = datetime.now(timezone.utc)
        jobfiles.write_json(os.path.join(job.job_dir, jobfiles.RECORD), job.to_record(), fsync=True)
        jobfiles.write_json(marker, {**content, "job_id": job.id, "error": job.reason})
        raise OSError(job.reason) from e
    job.backend_ref = ref
    job.state["slurm_job_id"] = ref
    if after:
        job.state[sched.STATE_AFTER] = after
    jobfiles.write_json(os.path.join(job.job_dir, jobfiles.RECORD), job.to_record(), fsync=True)
    jobfiles.write_json(marker, {**content, "job_id": job.id, "slurm_job_id": ref})
    log(f"{what} {job.id} ({job.reason}) is SLURM job {ref}")


def withdraw_if_changed(
    job: Job, job_root: str, definition_id: str, revision: Any, what: str
) -> None:
    """The definition read once more after the sbatch: paused, edited or deleted while the run
    was being arranged → the run is scancelled and ends ``cancelled`` with why."""
    ok, why = still_current(job_root, definition_id, revision)
    if ok:
        return
    subprocess.run(["scancel", str(job.backend_ref)], capture_output=True, env=_env(), timeout=60)
    job.status = "cancelled"
    job.reason = why
    job.finished_at = datetime.now(timezone.utc)
    jobfiles.request_cancel(job.job_dir, by="schedule")
    jobfiles.write_json(os.path.join(job.job_dir, jobfiles.RECORD), job.to_record(), fsync=True)
    log(f"{what} {job.id} withdrawn: {why}")


def made_for(job_root: str, record: dict[str, Any]) -> dict[str, Any]:
    """The marker this run was made by: ``retry-<failed run>`` for a retry, ``fired-<epoch>`` of
    its occurrence for a scheduled run, ``{}`` for a "run now" run. It names the definition's
    ``revision`` the run was made for and the server's ``root_dir``."""
    definitions = os.path.join(job_root, DEFINITIONS_DIR)
    definition_id = str(record.get("definition_id"))
    retry_of = (record.get("state") or {}).get(sched.STATE_RETRY_OF)
    if int(record.get("attempt") or 1) > 1 and isinstance(retry_of, str) and retry_of.isalnum():
        path = sched.retry_marker_path(definitions, definition_id, retry_of)
    elif (own := parse_time(record.get("scheduled_for"))) is not None:
        path = sched.marker_path(definitions, definition_id, own)
    else:
        return {}
    data = jobfiles.read_json(path)
    return data if isinstance(data, dict) else {}


def arrange_retry(job_dir: str, record: dict[str, Any], stopped: bool) -> None:
    """After the runner: this run failed (its status says ``failed``; no cancel asked for, no
    stop signal came: ``stopped``) and attempts remain → its retry, once (see the module)."""
    status = jobfiles.read_status(job_dir) or {}
    if status.get("state") != "failed" or stopped or jobfiles.cancel_requested(job_dir):
        return
    job_root = os.path.dirname(job_dir)
    definition_id = str(record["definition_id"])
    definition = read_definition(job_root, definition_id)
    retries = int((definition or {}).get("retries") or 0)
    attempt = int(record.get("attempt") or 1)
    if definition is None or attempt > retries:
        if retries:
            log(f"no retry: attempt {attempt} was the last of {retries + 1}")
        return
    own = made_for(job_root, record)
    revision = own.get("revision")
    ok, why = still_current(job_root, definition_id, revision)
    if not ok:
        log(f"no retry: {why}")
        return
    now = datetime.now(timezone.utc)
    failed_at = parse_time(status.get("finished_at")) or now
    begin = sched.retry_begin(max(failed_at, now), float(definition.get("retry_delay") or 0))
    marker = sched.retry_marker_path(
        os.path.join(job_root, DEFINITIONS_DIR), definition_id, str(record["id"])
    )
    slurm_id = os.environ.get("SLURM_JOB_ID")
    content = {
        "by": f"slurm job {slurm_id}" if slurm_id else f"schedule_next on {os.uname().nodename}",
        "at": isoformat(now),
        "revision": revision,
        "root_dir": own.get("root_dir"),
        "failed": record["id"],
        "attempt": attempt + 1,
        "begin": isoformat(begin),
    }
    if not jobfiles.create_exclusive(marker, content):
        log(f"the retry of {record['id']} is arranged already")
        return
    reason = sched.retry_reason(
        attempt,
        retries,
        str(record["id"]),
        status.get("reason"),
        begin,
        str(definition.get("timezone") or "UTC"),
    )
    try:
        job = clone_run(
            job_dir,
            parse_time(record.get("scheduled_for")),
            reason,
            own.get("root_dir"),
            attempt=attempt + 1,
            state={sched.STATE_RETRY_OF: record["id"]},
        )
    except (OSError, StorageFull) as e:
        jobfiles.write_json(marker, {**content, "error": f"could not arrange the retry: {e}"})
        raise
    hand_over(job, [sched.begin_option(begin)], marker, content, after=None, what="the retry")
    withdraw_if_changed(job, job_root, definition_id, revision, "the retry")


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


class RunnerChild:
    """The runner as a child of this process: the signals this process gets are passed on."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None
        self.pending: list[int] = []
        #: a stop signal came (scancel, a time limit, preemption): a failure then is not retried
        self.stopped = False

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum in STOP_SIGNALS:
            self.stopped = True
        if self.proc is None:
            self.pending.append(signum)  # between the fork and the assignment: sent just after
            return
        try:
            self.proc.send_signal(signum)
        except (ProcessLookupError, OSError):
            pass  # it has ended

    def run(self) -> int:
        for s in FORWARDED:
            signal.signal(s, self.on_signal)
        # the stop signals blocked across the start: the child inherits the mask, and the runner
        # unblocks them once its handlers are in place (a cancel at that instant still counts)
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self.proc = subprocess.Popen(self.argv)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        for signum in self.pending:
            self.on_signal(signum, None)
        self.pending.clear()
        while True:
            try:
                code = self.proc.wait()
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries already
                continue
        return code if code >= 0 else 128 - code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jupyter_jobs.schedule_next JOB_DIR", file=sys.stderr)
        return 2
    job_dir = os.path.abspath(args[0])
    job_root = os.path.dirname(job_dir)
    record = jobfiles.read_json(os.path.join(job_dir, jobfiles.RECORD))
    runner = [sys.executable, "-m", "jupyter_jobs.runner", job_dir]
    definition_id = record.get("definition_id") if isinstance(record, dict) else None
    definition = read_definition(job_root, definition_id) if definition_id else None
    started = os.path.exists(os.path.join(job_dir, jobfiles.STARTED))
    if isinstance(record, dict) and definition is not None:
        attempt = int(record.get("attempt") or 1)
        if attempt > 1:
            revision = made_for(job_root, record).get("revision")
            ok, why = still_current(job_root, str(definition_id), revision)
            if not ok and not started:
                log(f"not retried: {why}")
                end_without_running(job_dir, f"not retried: {why}")
                return 0
        elif record.get("scheduled_for"):
            try:
                arrange_next(job_dir, record, definition)
            except Exception as e:  # never stops this run
                log(f"the next run could not be arranged: {e}")
            if definition.get("overlap") == "skip" and not started:
                previous = previous_active(job_root, record)
                if previous:
                    reason = f"skipped: the previous run ({previous[:8]}) was still running"
                    log(reason)
                    end_without_running(job_dir, reason)
                    return 0
    elif definition_id:
        log("no next run: the schedule was deleted")
    sys.stdout.flush()
    sys.stderr.flush()
    child = RunnerChild(runner)
    code = child.run()
    if isinstance(record, dict) and definition_id:
        try:
            arrange_retry(job_dir, record, child.stopped)
        except Exception as e:  # never changes this run's end
            log(f"the retry could not be arranged: {e}")
    return code


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
