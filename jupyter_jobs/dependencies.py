"""Jobs that wait for other jobs (docs/CONTRACT.md, "Dependencies").

A job with ``after: [ids]`` starts when those jobs (its *parents*) have ended the way ``when``
asks: ``ok`` (every parent completed), ``any`` (every parent ended, however) or ``failed``
(every parent ended without completing: failed, cancelled or lost — SLURM's ``afternotok``). A
parent that ends the other way ends the job as ``cancelled`` with the reason, and so on down
the chain. A sweep is a parent like any job: its status is its children's, aggregated.

Who holds a waiting job:

- SLURM, when every parent is a SLURM job of the same backend that SLURM still has (it has an
  engine id and has not ended here): the job is submitted at once with
  ``--dependency=afterok:<id>:<id>`` (``afterany``, ``afternotok``) and
  ``--kill-on-invalid-dep=yes``, so that it starts with no Jupyter server running and SLURM
  cancels it when a parent ends the wrong way;
- the job's owner otherwise (Kubernetes, local, a mix of backends, a parent already ended): the
  job stays in the owner's start queue as ``queued`` — "waiting for <name> (<id>)" — and is
  handed to its backend once the parents ended the right way. The owner looks at every waiting
  job each time it looks at its queue (at each sync, and when one of its jobs ends), so holding
  survives a restart (the job is queued again from its record) and parents owned by other
  servers of the job root count (their records are read at each sync).

Everything here is called by :class:`jupyter_jobs.manager.JobManager` at three points: a submit
(:func:`check_parents`), a look at the start queue (:func:`settle`), and a job that ended
cancelled (:func:`explain_cancel`).

A sweep may wait too. Its children carry its ``after`` and ``when`` (each waits for the same
parents), but they start together, as the sweep starts (:func:`jupyter_jobs.sweeps.release`):

- SLURM holds the whole array when it can (the same rule as for one job): the one
  ``sbatch --array`` of the sweep gets the ``--dependency``;
- otherwise the sweep itself (not its children) stands in its owner's start queue, marked
  :data:`SWEEP_HELD`; :func:`settle` holds it (the sweep and its children ``queued``, "waiting
  for …"), cancels it (every child ``cancelled`` with the reason, so the sweep ends cancelled),
  or lets it go: then its children are handed over as a sweep's children are (one array, or the
  queue under the throttle).
"""

from __future__ import annotations

from typing import Any

from .exceptions import BadRequest, Conflict, NotFound
from .models import CANCELLED, COMPLETED, FAILED, LOST, QUEUED, Job, JobUpdate, utcnow
from .wire import label

#: the :class:`jupyter_jobs.manager.JobManager` (not imported: the manager imports this module)
JobManager = Any

#: SLURM's dependency type for each ``when``
SLURM_TYPES = {"ok": "afterok", "any": "afterany", "failed": "afternotok"}
#: ``job.state`` keys: the ``--dependency`` value a SLURM job was submitted with, and the
#: reason it shows while SLURM holds it
SLURM_DEPENDENCY = "slurm_dependency"
WAITING_FOR = "waiting_for"

#: ``sweep.state`` key: the sweep waits for its parents and its children were not handed to
#: their backend yet (it stands in its owner's start queue, children not)
SWEEP_HELD = "held_for_parents"

WAIT, GO, CANCEL = "wait", "go", "cancel"


def short(job: Job) -> str:
    """``name (1a2b3c4d)``: a job as a user names it."""
    return f"{job.name or 'job'} ({job.id[:8]})"


def _ended(parent: Job) -> str:
    """How a parent ended, in words: "failed", "was cancelled: <why>"…"""
    if parent.status == COMPLETED:
        return "completed"
    if parent.status == FAILED:
        return "failed"
    if parent.status == LOST:
        return "was lost"
    if parent.after and parent.reason:  # cancelled down a chain: say why
        return f"was cancelled: {parent.reason}"
    return "was cancelled"


def waiting_reason(parents: list[Job]) -> str:
    return "waiting for " + ", ".join(short(p) for p in parents)


def verdict(when: str, parents: list[Job]) -> tuple[str, str]:
    """(WAIT, reason), (GO, "") or (CANCEL, reason) for a job waiting for ``parents``."""
    for p in parents:
        if not p.is_final:
            continue
        if when == "ok" and p.status != COMPLETED:
            return CANCEL, f"{short(p)} {_ended(p)}"
        if when == "failed" and p.status == COMPLETED:
            return CANCEL, f"{short(p)} completed; this job was to run only if it did not"
    pending = [p for p in parents if not p.is_final]
    if pending:
        return WAIT, waiting_reason(pending)
    return GO, ""


def check_parents(
    manager: JobManager, after: list[str], when: str, *, what: str = "this job"
) -> list[Job]:
    """At submit: every job waited for exists in this job root (400 naming the one that does
    not) and has not already ended the wrong way (409: the job — ``what`` — could never
    start)."""
    parents = []
    for job_id in after:
        try:
            parents.append(manager.get(job_id))
        except NotFound:
            raise BadRequest(
                f"{label('after')}: there is no job {job_id} (give the full id of an existing job)",
                field="after",
            ) from None
    outcome, reason = verdict(when, parents)
    if outcome == CANCEL:
        raise Conflict(f"{label('after')}: {reason}, so {what} would never start", field="after")
    return parents


def _parents(manager: JobManager, job: Job, seen: dict[str, Job] | None = None) -> list[Job] | str:
    """The job's parents as this server sees them now, or why one cannot be found (``seen``:
    the parents already read in this look at the queue, by id: a sweep's children share
    theirs)."""
    out = []
    for job_id in job.after:
        parent = seen.get(job_id) if seen is not None else None
        if parent is None:
            try:
                parent = manager.get(job_id)
            except NotFound:
                return f"job {job_id[:8]} it waited for was deleted"
            if seen is not None:
                seen[job_id] = parent
        out.append(parent)
    return out


def settle(manager: JobManager, backend: str) -> set[str]:
    """Go through the start queue of ``backend``: a waiting job (or sweep) whose parents ended
    the wrong way is cancelled, one whose parents are not done stays (its id is in the answer:
    the queue skips it) — unless its engine can hold it (SLURM), one whose parents are done is
    left to start."""
    held: set[str] = set()
    queue = manager.waiting.get(backend)
    if not queue:
        return held
    spawner = manager.spawners.get(backend)
    seen: dict[str, Job] = {}
    for job_id in list(queue):
        job = manager.active.get(job_id)
        if job is None or not job.after or job.is_final or not manager.mine(job):
            continue
        parents = _parents(manager, job, seen)
        if isinstance(parents, str):
            outcome, reason = CANCEL, parents
        else:
            outcome, reason = verdict(job.when, parents)
        if outcome == CANCEL:
            queue.remove(job_id)
            if job.kind == "sweep":
                _cancel_sweep(manager, job, reason)
            else:
                manager.apply_update(job_id, JobUpdate(status=CANCELLED, reason=reason))
            continue
        if outcome == GO:
            job.state.pop(WAITING_FOR, None)
            job.state.pop(SLURM_DEPENDENCY, None)
            continue
        assert not isinstance(parents, str)
        dependency = engine_dependency(spawner, job, parents)
        if dependency is not None:  # submitted now: SLURM holds it
            job.state[SLURM_DEPENDENCY] = dependency
            job.state[WAITING_FOR] = reason
            continue
        held.add(job_id)
        if job.kind == "sweep":
            _hold_sweep(manager, job, reason)
        elif job.status != QUEUED or job.reason != reason:
            manager.apply_update(job_id, JobUpdate(status=QUEUED, reason=reason))
    return held


def _hold_sweep(manager: JobManager, sweep: Job, reason: str) -> None:
    """A sweep its owner holds: it and its children ``queued``, "waiting for …"."""
    if sweep.state.get(WAITING_FOR) == reason and sweep.reason == reason:
        return
    sweep.state[WAITING_FOR] = reason
    for child_id in sweep.children:
        child = manager.active.get(child_id)
        if child is not None and not child.is_final and child.reason != reason:
            manager.apply_update(child_id, JobUpdate(status=QUEUED, reason=reason))
    sweep.reason = reason  # the children's counts keep it (jupyter_jobs.sweeps.settle)
    manager._persist(sweep)
    manager._emit("updated", sweep)


def _cancel_sweep(manager: JobManager, sweep: Job, reason: str) -> None:
    """A held sweep whose parents ended the wrong way: every child ``cancelled`` with the
    reason; the sweep, its children's aggregate, ends ``cancelled`` with it too."""
    sweep.state.pop(SWEEP_HELD, None)
    for child_id in sweep.children:
        child = manager.active.get(child_id)
        if child is not None and not child.is_final:
            manager.apply_update(child_id, JobUpdate(status=CANCELLED, reason=reason))
    sweep.state.pop(WAITING_FOR, None)  # kept until now: the sweep stayed "queued" meanwhile
    if not sweep.is_final:  # no child in view (each ended elsewhere): the sweep itself
        sweep.status = CANCELLED
        sweep.reason = reason
        sweep.finished_at = sweep.finished_at or utcnow()
        manager.active.pop(sweep.id, None)
        manager._emit("updated", sweep)
    manager._persist(sweep)


def engine_dependency(spawner: Any, job: Job, parents: list[Job]) -> str | None:
    """``afterok:<id>:<id>`` when the job's engine can hold it: a spawner with
    ``engine_dependencies`` (SLURM) and every parent a job of the same backend that the engine
    still has (an engine id, not ended here; a sweep: its array job). None otherwise."""
    if spawner is None or not getattr(spawner, "engine_dependencies", False):
        return None
    refs = []
    for p in parents:
        ref = p.state.get("array_id") if p.kind == "sweep" else p.backend_ref
        if p.backend != job.backend or p.is_final or not ref:
            return None
        refs.append(str(ref))
    return SLURM_TYPES[job.when] + "".join(f":{r}" for r in refs)


def cancelled_for(manager: JobManager, job: Job) -> str | None:
    """Why a job (or sweep) that waited for others and never started ended ``cancelled``,
    nobody having asked: the parent that ended the wrong way, or None (it was asked, it
    started, it waits for nothing, or its parents say nothing against it)."""
    if not job.after or job.started_at is not None or job.state.get("cancel_requested"):
        return None
    from . import jobfiles

    if job.job_dir and jobfiles.cancel_requested(job.job_dir):
        return None
    parents = _parents(manager, job)
    if isinstance(parents, str):
        return parents
    outcome, reason = verdict(job.when, parents)
    return reason if outcome == CANCEL else None


def explain_cancel(manager: JobManager, job: Job) -> None:
    """A job that waited for others ended ``cancelled`` before it started, nobody having asked:
    its engine cancelled it for a parent that ended the wrong way (SLURM's
    ``--kill-on-invalid-dep``). Say which parent, as the owner does for the jobs it holds."""
    if not job.after or job.started_at is not None or job.state.get("cancel_requested"):
        return
    from . import jobfiles

    if job.job_dir and jobfiles.cancel_requested(job.job_dir):
        return
    reason = cancelled_for(manager, job)
    job.reason = reason or "SLURM cancelled it: a job it waited for did not end as it asked"


def blocking_delete(manager: JobManager, job: Job) -> None:
    """Deleting a job that an active job waits for: a 409 naming that job (cancel or delete it
    first). Once every dependant ended, the job may go."""
    for other in manager.active.values():
        if job.id in other.after and not other.is_final:
            raise Conflict(
                f"job {short(job)} cannot be deleted: {short(other)} waits for it; cancel that"
                " job first"
            )


def dependants(manager: JobManager, job_id: str) -> list[Job]:
    """The active jobs that wait for ``job_id``."""
    return [j for j in manager.active.values() if job_id in j.after]


def release_after(manager: JobManager, job: Job) -> set[str]:
    """When ``job`` ended: the backends whose start queues hold one of its dependants (looked at
    now rather than at the next sync)."""
    return {
        d.backend
        for d in dependants(manager, job.id)
        if manager.mine(d) and d.id in manager.waiting.get(d.backend, ())
    }
