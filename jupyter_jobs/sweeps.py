"""Sweeps: one job of kind ``sweep`` whose children run one parameter set each
(docs/CONTRACT.md, "Sweeps").

A request with ``grid`` (``{name: [values]}``, the cartesian product in key order) or
``parameter_sets`` (``[{name: value}]``) is a sweep. The sweep's record holds the children's ids,
what was asked, the throttle and the children's counts by status; its status is the children's,
aggregated (:func:`aggregate`). Each child is an ordinary job (its own directory, log, status,
usage and results) with ``sweep_id`` and ``index``.

How a child gets its parameter set: a notebook's in its ``parameters`` cell (over the request's
parameters); a script's or a command's as arguments after the request's (``parameters_as:
"args"``, the default: ``--alpha 0.1 --seed 0``) or as environment variables
(``parameters_as: "env"``: ``JJ_PARAM_alpha=0.1``); either way also ``JJ_PARAMETERS``, the set
as JSON.

The pure parts (checking, expansion, formatting, aggregation, SLURM array ranges) are here; the
manager (:meth:`jupyter_jobs.manager.JobManager.submit_sweep`) stores and starts the children.
"""

from __future__ import annotations

import itertools
import json
import keyword
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .exceptions import BadRequest
from .wire import label, show

#: the most children a sweep may have when the administrator set no other limit
#: (``c.JobManager.max_sweep_children``)
DEFAULT_MAX_CHILDREN = 10_000
#: what the request check refuses whatever the limit (the product is counted before it is made)
HARD_MAX_CHILDREN = 1_000_000
PARAMETERS_AS = ("args", "env")
#: the environment variable of a parameter (``parameters_as: env``) and of the whole set
ENV_PREFIX = "JJ_PARAM_"
ENV_SET = "JJ_PARAMETERS"
#: the file in a sweep's directory that array tasks read (``children[i]``)
SWEEP_FILE = "sweep.json"
MAX_VALUES_PER_NAME = 10_000
MAX_STRING = 1000
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_name(name: Any, fld: str) -> str:
    if (
        not isinstance(name, str)
        or not _NAME_RE.fullmatch(name)
        or keyword.iskeyword(name)
        or len(name) > 100
    ):
        raise BadRequest(
            f"{label(fld)}: {show(name)} is not a parameter name (ASCII letters, digits and _,"
            " not starting with a digit, not a Python keyword)",
            field=fld,
        )
    return name


def _check_value(name: str, value: Any, fld: str) -> Any:
    if isinstance(value, bool) or value is None:
        if value is None:
            raise BadRequest(
                f"{label(fld)}: {name} has a null value; give numbers, text or true/false",
                field=fld,
            )
        return value
    if isinstance(value, int):
        if abs(value) > 2**63 - 1:
            raise BadRequest(f"{label(fld)}: {name}={value} is too large a number", field=fld)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadRequest(f"{label(fld)}: {name}={value!r} is not a finite number", field=fld)
        return value
    if isinstance(value, str):
        if "\x00" in value or len(value) > MAX_STRING:
            raise BadRequest(
                f"{label(fld)}: a value of {name} is too long or holds a NUL character"
                f" (at most {MAX_STRING} characters)",
                field=fld,
            )
        return value
    raise BadRequest(
        f"{label(fld)}: the values of {name} must be numbers, text or true/false, not"
        f" {type(value).__name__}",
        field=fld,
    )


def check_grid(grid: Any) -> dict[str, list[Any]]:
    """``grid``: names (parameter names) → non-empty lists of scalars."""
    if not isinstance(grid, dict) or not grid:
        raise BadRequest(
            f"{label('grid')} must be parameter names and lists of values, e.g."
            ' {"alpha": [0.1, 0.5], "seed": [0, 1]}',
            field="grid",
        )
    out: dict[str, list[Any]] = {}
    count = 1
    for name, values in grid.items():
        _check_name(name, "grid")
        if not isinstance(values, list) or not values:
            raise BadRequest(
                f"{label('grid')}: {name} must have a list of at least one value", field="grid"
            )
        if len(values) > MAX_VALUES_PER_NAME:
            raise BadRequest(
                f"{label('grid')}: {name} has {len(values)} values (at most {MAX_VALUES_PER_NAME})",
                field="grid",
            )
        out[name] = [_check_value(name, v, "grid") for v in values]
        count *= len(values)
        if count > HARD_MAX_CHILDREN:
            raise BadRequest(
                f"{label('grid')}: more than {HARD_MAX_CHILDREN:,} combinations; sweep fewer values",
                field="grid",
            )
    return out


def check_parameter_sets(sets: Any) -> list[dict[str, Any]]:
    """``parameter_sets``: a non-empty list of ``{name: scalar}``."""
    if not isinstance(sets, list) or not sets:
        raise BadRequest(
            f"{label('parameter_sets')} must be a list of parameter sets, e.g."
            ' [{"alpha": 0.1}, {"alpha": 0.5}]',
            field="parameter_sets",
        )
    if len(sets) > HARD_MAX_CHILDREN:
        raise BadRequest(
            f"{label('parameter_sets')}: more than {HARD_MAX_CHILDREN:,} sets",
            field="parameter_sets",
        )
    out = []
    for n, one in enumerate(sets, 1):
        if not isinstance(one, dict):
            raise BadRequest(
                f"{label('parameter_sets')}: set {n} must be names and values",
                field="parameter_sets",
            )
        out.append(
            {
                _check_name(k, "parameter_sets"): _check_value(k, v, "parameter_sets")
                for k, v in one.items()
            }
        )
    return out


def check_throttle(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(
            f"{label('throttle')} must be a whole number of children that run at once, not"
            f" {show(value)}",
            field="throttle",
        )
    if value < 1:
        raise BadRequest(f"{label('throttle')} must be at least 1", field="throttle")
    if value > HARD_MAX_CHILDREN:
        raise BadRequest(f"{label('throttle')} is too large", field="throttle")
    return value


def check_parameters_as(value: Any, kind: str) -> str | None:
    if value is None:
        return None if kind == "notebook" else "args"
    if value not in PARAMETERS_AS:
        raise BadRequest(
            f"{label('parameters_as')}: {show(value)} is not a choice; use args (--name value)"
            " or env (JJ_PARAM_name=value)",
            field="parameters_as",
        )
    if kind == "notebook":
        raise BadRequest(
            f"{label('parameters_as')}: a notebook gets its parameters in its parameters cell;"
            " leave this out",
            field="parameters_as",
        )
    return str(value)


def expand(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product in key order (the last name varies fastest)."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def count(grid: Mapping[str, Sequence[Any]]) -> int:
    return math.prod(len(v) for v in grid.values())


def format_value(value: Any) -> str:
    """A parameter as an argument or variable: text as it is, numbers and booleans as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def as_args(params: Mapping[str, Any]) -> list[str]:
    """``--alpha 0.1 --seed 0``."""
    out: list[str] = []
    for name, value in params.items():
        out += [f"--{name}", format_value(value)]
    return out


def as_env(params: Mapping[str, Any], *, each: bool) -> dict[str, str]:
    """``JJ_PARAMETERS`` (the set as JSON) and, with ``each``, ``JJ_PARAM_<name>``."""
    env = {ENV_SET: json.dumps(dict(params))}
    if each:
        env.update({f"{ENV_PREFIX}{name}": format_value(v) for name, v in params.items()})
    return env


def child_name(sweep_name: str, index: int, params: Mapping[str, Any]) -> str:
    shown = " ".join(f"{k}={format_value(v)}" for k, v in params.items())
    return f"{sweep_name} [{index}] {shown}"[:200]


def counts(statuses: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in statuses:
        out[s] = out.get(s, 0) + 1
    return out


def aggregate(child_counts: Mapping[str, int], total: int) -> str:
    """The sweep's status from its children's: queued until one starts, running while any runs
    (or is cancelling), then failed if any failed or was lost, cancelled if any was cancelled
    (and none failed), completed if all completed."""
    n = dict(child_counts)
    active = sum(n.get(s, 0) for s in ("pending", "queued", "running", "cancelling"))
    if n.get("running", 0):
        return "running"
    if n.get("cancelling", 0):
        return "cancelling"
    if active:
        started = total - active
        return "running" if started else "queued"
    if n.get("failed", 0) or n.get("lost", 0):
        return "failed"
    if n.get("cancelled", 0):
        return "cancelled"
    return "completed"


# ------------------------------------------------------------------ SLURM array ids


def array_spec(n: int, throttle: int | None) -> str:
    """``--array`` of ``n`` tasks, ``throttle`` at once: ``0-11%2``."""
    spec = f"0-{n - 1}" if n > 1 else "0"
    return f"{spec}%{throttle}" if throttle else spec


_TASKS_RE = re.compile(r"^(?P<array>[0-9]+)_(?:(?P<one>[0-9]+)|\[(?P<list>[^\]]*)\])$")


def parse_array_id(job_id: str) -> tuple[str, list[int]] | None:
    """squeue's ``%i`` of array tasks: ``123_4`` → (``123``, [4]); the pending rest
    ``123_[2-11%2]`` or ``123_[1,3,5-7]`` → (``123``, [2..11]); anything else None."""
    m = _TASKS_RE.match(job_id.strip())
    if not m:
        return None
    if m.group("one") is not None:
        return m.group("array"), [int(m.group("one"))]
    body = m.group("list").split("%", 1)[0]
    tasks: list[int] = []
    for part in body.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            return None
        if sep:
            a, b = int(lo), int(hi)
            if b < a or b - a > HARD_MAX_CHILDREN:
                return None
            tasks.extend(range(a, b + 1))
        else:
            tasks.append(int(lo))
    return m.group("array"), tasks


# ------------------------------------------------------------------ the manager's side
# (called from jupyter_jobs.manager.JobManager; ``manager`` is that JobManager)

TERMINAL_FOR_RERUN = ("failed", "cancelled", "lost")


def child_request(req: Any, params: dict[str, Any]) -> Any:
    """The request of one child: the sweep's request with this parameter set in place."""
    import dataclasses

    env = {**req.env, **as_env(params, each=req.parameters_as == "env")}
    changes: dict[str, Any] = {
        "env": env,
        "grid": None,
        "parameter_sets": [],
        "throttle": None,
        "parameters_as": None,
    }
    if req.kind == "notebook":
        changes["parameters"] = {**req.parameters, **params}
    elif req.parameters_as != "env":
        if req.kind == "command":
            changes["command"] = [*req.command, *as_args(params)]
        else:
            changes["args"] = [*req.args, *as_args(params)]
    return dataclasses.replace(req, **changes)


async def submit_sweep(manager: Any, req: Any, **run_fields: Any) -> Any:
    """Store a sweep and its children (each a job directory), then start them: one array for a
    backend that has them (SLURM's array job, Kubernetes' Indexed Job), else through the
    manager's queue (at most the throttle and the backend's ``max_concurrent`` at once). A
    sweep with ``after`` waits for its parents
    first (:mod:`jupyter_jobs.dependencies`): it stands in the queue itself and is started by
    :func:`release`. Nothing is left when a step fails."""
    from . import dependencies, jobfiles
    from .models import PENDING, QUEUED, Job, new_job_id

    sets = list(req.parameter_sets)
    limit = manager.max_sweep_children
    if len(sets) > limit:
        fld = "grid" if req.grid is not None else "parameter_sets"
        raise BadRequest(
            f"{label(fld)}: {len(sets):,} runs is more than a sweep may have here ({limit:,});"
            " sweep fewer values",
            field=fld,
        )
    spawner = await manager.checked_spawner(req.backend)
    profile = spawner.resolve_profile(req.profile)
    resources = spawner.validate_resources(profile, req.resources)
    throttle = req.throttle or _int_or_none(profile.get("throttle"))
    await spawner.check_request(resources)
    # 400/409 before anything is made
    dependencies.check_parents(manager, req.after, req.when, what="this sweep")
    sweep = Job(
        id=new_job_id(),
        name=req.name,
        kind="sweep",
        backend=spawner.name,
        profile=profile["name"],
        path=req.path,
        command=list(req.command),
        args=list(req.args),
        env=dict(req.env),
        cwd=req.cwd,
        resources=resources,
        parameters=dict(req.parameters),
        status=QUEUED,
        grid=req.grid,
        parameter_sets=sets,
        throttle=throttle,
        parameters_as=req.parameters_as,
        child_counts={PENDING: len(sets)},
        after=list(req.after),
        when=req.when,
        **run_fields,
    )
    sweep.job_dir = manager.root.job_dir(sweep.id)
    sweep.owner = manager.server_id
    sweep.state = {"cwd": req.abs_cwd}
    if sweep.after:
        sweep.state[dependencies.SWEEP_HELD] = True
    sweep.reason = f"{len(sets)} runs" + (f", at most {throttle} at once" if throttle else "")
    children: list[Job] = []
    try:
        manager.root.create(sweep, {SWEEP_FILE: {"children": [], "parameter_sets": sets}})
        manager._index(sweep)
        for index, params in enumerate(sets):
            child = await manager.build_child(
                child_request(req, params), spawner, profile, resources, sweep, index, params
            )
            children.append(child)
        sweep.children = [c.id for c in children]
        jobfiles.write_json(
            os.path.join(sweep.job_dir, SWEEP_FILE),
            {"children": sweep.children, "parameter_sets": sets},
            fsync=True,
        )
        manager.active[sweep.id] = sweep
        manager._persist(sweep)
    except BaseException:
        for child in children:
            manager._forget(child)
        manager.active.pop(sweep.id, None)
        manager._known.discard(sweep.id)
        manager.store.delete(sweep.id)
        manager.root.remove(sweep.id)
        raise
    manager._emit("created", sweep)
    for child in children:
        manager.active[child.id] = child
        manager._emit("created", child)
    if sweep.after:  # held, handed over or cancelled by the look at the queue (release)
        manager._enqueue(sweep)
        await manager._start_waiting(spawner.name)
        return manager.get(sweep.id)
    try:
        queued = await _hand_over(manager, spawner, sweep, children)
    except BaseException:
        _forget_sweep(manager, sweep, children)
        raise
    if queued:
        await manager._start_waiting(spawner.name)
    return manager.get(sweep.id)


def _forget_sweep(manager: Any, sweep: Any, children: list[Any]) -> None:
    for child in children:
        manager._forget(child)
    manager._forget(sweep)


async def _hand_over(manager: Any, spawner: Any, sweep: Any, children: list[Any]) -> bool:
    """Give a sweep's children to their backend: one array (SLURM, with the ``--dependency``
    its parents ask, if any; Kubernetes' Indexed Job), else each to the manager's queue (True:
    the caller looks at it)."""
    from . import dependencies
    from .models import PENDING, JobUpdate

    dependency = sweep.state.get(dependencies.SLURM_DEPENDENCY)
    waiting = sweep.state.get(dependencies.WAITING_FOR) if dependency else None
    updates = None
    if getattr(spawner, "supports_arrays", False):
        extra = {"dependency": dependency} if dependency else {}
        updates = await spawner.submit_array(sweep, children, sweep.throttle, **extra)
    if updates is None:  # no arrays here, or not for this sweep (a Kubernetes image without
        # jupyter-jobs): one job per child
        for child in children:
            if child.is_final:
                continue
            if child.status != PENDING:  # held with its sweep: new again for the queue
                manager.apply_update(child.id, JobUpdate(status=PENDING, clear_reason=True))
            manager._enqueue(child)
        return True
    array_id = updates.pop("", None)
    if array_id is not None:
        sweep.state["array_id"] = array_id.backend_ref
        # the backend's own words (Kubernetes), else SLURM's array job
        shown = array_id.reason or f"SLURM array job {array_id.backend_ref}"
        sweep.reason = f"{sweep.reason}; {shown}"
        manager._persist(sweep)
    for child_id, update in updates.items():
        if waiting:  # the engine holds it: "waiting for <name> (<id>)"
            update.reason = waiting
            update.state = {**(update.state or {}), dependencies.WAITING_FOR: waiting}
        manager.apply_update(child_id, update)
    settle(manager, sweep)
    manager._persist(sweep)
    manager._emit("updated", sweep)
    return False


def held(manager: Any, child: Any) -> bool:
    """A child of a sweep that still waits for its parents (the sweep starts it)."""
    from . import dependencies

    sweep = manager.active.get(child.sweep_id) if child.sweep_id else None
    return bool(sweep is not None and sweep.state.get(dependencies.SWEEP_HELD))


async def release(manager: Any, backend: str, held_ids: set[str]) -> None:
    """The sweeps in ``backend``'s start queue that :func:`jupyter_jobs.dependencies.settle`
    let go (their parents ended the right way, or SLURM holds them now): out of the queue,
    their children handed over (an array, or the queue, which the caller goes through next).
    A refusal at the submit itself (every child still ``pending``) is the submitter's 4xx and
    leaves nothing; a later one fails the children with the reason."""
    from . import dependencies, jobfiles
    from .exceptions import EngineUnavailable, JobsError
    from .models import PENDING

    queue = manager.waiting.get(backend)
    if not queue:
        return
    spawner = manager.spawners[backend]
    for job_id in list(queue):
        sweep = manager.active.get(job_id)
        if sweep is None or sweep.kind != "sweep" or job_id in held_ids:
            continue
        queue.remove(job_id)
        if (
            sweep.is_final
            or not manager.mine(sweep)
            or not sweep.state.get(dependencies.SWEEP_HELD)
        ):
            continue
        if sweep.job_dir and jobfiles.cancel_requested(sweep.job_dir):
            continue  # being cancelled: its children follow the cancel
        sweep.state.pop(dependencies.SWEEP_HELD, None)
        # every child, in index order: an array has a task for each (one cancelled while the
        # sweep waited finds its cancel request and ends at once; news of it is ignored)
        children = [manager.active.get(c) or manager.get(c) for c in sweep.children]
        try:
            await _hand_over(manager, spawner, sweep, children)
        except JobsError as e:
            fresh = all(c.status == PENDING for c in children)
            if fresh and isinstance(e, (BadRequest, EngineUnavailable)):
                _forget_sweep(manager, sweep, children)
                raise
            _fail(manager, children, f"could not start: {e.message}")
        except Exception as e:
            manager.log.exception("jupyter-jobs: starting sweep %s failed", sweep.id)
            _fail(manager, children, f"could not start: {e}")
        manager._persist(sweep)


def _fail(manager: Any, children: list[Any], reason: str) -> None:
    from .models import FAILED, JobUpdate

    for child in children:
        manager.apply_update(child.id, JobUpdate(status=FAILED, reason=reason))


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def child_changed(manager: Any, child: Any, before: str) -> None:
    """A child's status changed from ``before``: the sweep's counts and status follow."""
    from .models import FINAL_STATUSES, RUNNING, utcnow

    sweep = manager.active.get(child.sweep_id)
    if sweep is None or not manager.mine(sweep):
        return
    n = sweep.child_counts
    if n.get(before, 0) > 0:
        n[before] -= 1
        if not n[before]:
            del n[before]
    n[child.status] = n.get(child.status, 0) + 1
    if sweep.started_at is None and child.started_at is not None:
        sweep.started_at = child.started_at  # its first child's start
    settle(manager, sweep)
    if sweep.status == RUNNING and sweep.started_at is None and not sweep.after:
        sweep.started_at = utcnow()
    if sweep.status in FINAL_STATUSES:
        manager.active.pop(sweep.id, None)
    manager._persist(sweep)
    manager._emit("updated", sweep)


def settle(manager: Any, sweep: Any) -> None:
    """The sweep's status and reason from its counts. A sweep that waits for other jobs and
    none of whose children started says what it waits for (``queued``); one cancelled for a
    parent that ended the wrong way says which."""
    from . import dependencies
    from .models import CANCELLED, FINAL_STATUSES, QUEUED, utcnow

    total = len(sweep.children) or sum(sweep.child_counts.values())
    status = aggregate(sweep.child_counts, total)
    waiting = sweep.state.get(dependencies.WAITING_FOR) if sweep.after else None
    if waiting and status not in FINAL_STATUSES and sweep.started_at is None:
        sweep.status = QUEUED
        sweep.reason = str(waiting)
        return
    sweep.status = status
    if status == CANCELLED and sweep.after and sweep.started_at is None:
        why = dependencies.cancelled_for(manager, sweep)
        if why:
            sweep.finished_at = sweep.finished_at or utcnow()
            sweep.reason = why
            return
    if status in FINAL_STATUSES:
        sweep.finished_at = sweep.finished_at or utcnow()
        done = sweep.child_counts.get("completed", 0)
        parts = [f"{done} of {total} completed"]
        for s in ("failed", "lost", "cancelled"):
            if sweep.child_counts.get(s):
                parts.append(f"{sweep.child_counts[s]} {s}")
        sweep.reason = ", ".join(parts)
    else:
        running = sweep.child_counts.get("running", 0)
        sweep.reason = f"{running} of {total} running" + (
            f" (at most {sweep.throttle} at once)" if sweep.throttle else ""
        )


def recount(manager: Any, sweep: Any) -> None:
    """Counts from the children's records (a sweep taken over, or loaded at start)."""
    statuses = []
    for child_id in sweep.children:
        try:
            statuses.append(manager.get(child_id).status)
        except Exception:
            continue
    sweep.child_counts = counts(statuses)
    settle(manager, sweep)


def throttled(job: Any, sweep: Any, running: Mapping[str, int]) -> bool:
    return bool(
        sweep is not None and sweep.throttle and running.get(job.sweep_id, 0) >= sweep.throttle
    )


async def cancel_sweep(manager: Any, sweep: Any) -> None:
    """Every active child is cancelled: on SLURM one ``scancel`` of the array job, on Kubernetes
    one delete of the Indexed Job."""
    from . import jobfiles
    from .models import CANCELLING, JobUpdate

    children = [manager.active.get(c) for c in sweep.children]
    mine = [c for c in children if c is not None and not c.is_final and manager.mine(c)]
    spawner = manager.spawners.get(sweep.backend)
    array_id = sweep.state.get("array_id")
    if array_id and spawner is not None and getattr(spawner, "supports_arrays", False):
        done = await spawner.cancel_array(str(array_id))
        for child in mine:
            jobfiles.request_cancel(child.job_dir, by=manager.server_id)
            manager.apply_update(
                child.id,
                JobUpdate(
                    status=CANCELLING, state={"cancel_requested": True, "scancel_done": done}
                ),
            )
        return
    for child in mine:
        jobfiles.request_cancel(child.job_dir, by=manager.server_id)
        await manager._cancel_own(child)


def rerun_sets(manager: Any, sweep: Any, only: Any) -> list[dict[str, Any]]:
    """The parameter sets a rerun of ``sweep`` runs: all, or (``only: failed``) those of the
    children that failed, were cancelled or were lost."""
    if only is None:
        return list(sweep.parameter_sets)
    if only != "failed":
        raise BadRequest(
            f"{label('only')}: {show(only)} is not a choice; use failed (rerun the children that"
            " failed, were cancelled or lost)",
            field="only",
        )
    out = []
    for child_id in sweep.children:
        try:
            child = manager.get(child_id)
        except Exception:
            continue
        if child.status in TERMINAL_FOR_RERUN and child.index is not None:
            out.append(sweep.parameter_sets[child.index])
    if not out:
        raise BadRequest(
            f"no child of sweep {sweep.id} failed, was cancelled or lost: nothing to rerun",
            field="only",
        )
    return out
