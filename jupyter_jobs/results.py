"""Results of runs: ``jupyter_jobs.record(name=value, ...)`` inside a run, and the results table.

Inside a job (a script, a notebook's kernel, a command that runs Python; local, SLURM, or a
Kubernetes pod that runs the runner)::

    import jupyter_jobs
    jupyter_jobs.record(loss=0.1, acc=0.9, label="baseline")

merges the values into ``<job_dir>/results.json`` (:data:`jupyter_jobs.jobfiles.RESULTS`) with
an atomic replace (temp file + rename, as ``status.json`` is written: safe on NFS and sshfs).
The job dir comes from ``JUPYTER_JOBS_DIR``, which the runner sets for the job's processes (and
a notebook's kernel inherits). Outside a job (and in a remote kernel, whose notebook is an
interactive session) ``record()`` warns once and records nothing, so the same notebook runs
interactively too.

Values are scalars: ``int``, ``float`` (finite), ``bool``, ``str``, ``None`` (NumPy scalars are
taken as their Python value). Names are Python identifiers of at most :data:`MAX_NAME`
characters. The job's owner reads the file when the job ends and keeps the values in the job's
record (``results``); ``GET jobs/{id}/results`` reads it live while the job runs.

:func:`table` builds ``{"columns": [...], "rows": [[...]]}`` for one run or for a sweep's
children (one row each). This module imports nothing from the server: jobs import it cheaply.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Union

from .jobfiles import RECORD, RESULTS, read_json, read_results, write_json
from .progress import ENV_JOB_DIR

if TYPE_CHECKING:
    from .models import Job

#: the longest name of a recorded value
MAX_NAME = 100
#: the most values one run may record
MAX_VALUES = 1000
#: the longest string value (characters)
MAX_STRING = 10_000
#: the largest ``results.json`` (bytes): a results table, not a data store
MAX_FILE_BYTES = 1 << 20
#: whole numbers beyond 64 bits lose precision in JSON readers (JavaScript, pandas)
MAX_INT = 2**63 - 1

#: the columns before the parameters in a run's table, and in a sweep's
RUN_COLUMNS = ("id", "status", "duration_seconds")
SWEEP_COLUMNS = ("index", "id", "status", "duration_seconds")

_warned_outside = False

Scalar = Union[int, float, bool, str, None]


def _scalar(name: str, value: Any) -> Scalar:
    """``value`` as a storable scalar, or a TypeError/ValueError naming it."""
    if value is None or isinstance(value, (bool, str)):
        pass
    elif isinstance(value, int):
        if not -MAX_INT - 1 <= value <= MAX_INT:
            raise ValueError(
                f"jupyter_jobs.record: {name}={value} is too large a whole number to record"
                " (at most 64 bits); record it as a float or a string"
            )
        value = int(value)  # an IntEnum or another int subclass: its number
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(
                f"jupyter_jobs.record: {name}={value!r} is not a finite number; record a number,"
                " or None for no value"
            )
        value = float(value)  # numpy.float64 is a float: plain
    elif type(value).__module__.split(".")[0] == "numpy" and getattr(value, "ndim", None) == 0:
        return _scalar(name, value.item())  # numpy.int64, numpy.bool_, a 0-d array
    else:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise TypeError(
            f"jupyter_jobs.record: {name}={shown} is a {type(value).__name__}; record takes"
            " numbers, strings, True/False or None (record each value of a list by its own name)"
        )
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise ValueError(
            f"jupyter_jobs.record: {name} is a text of {len(value)} characters; at most"
            f" {MAX_STRING} (write longer output to a file)"
        )
    return value


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise TypeError(
            f"jupyter_jobs.record: {name!r} is not a valid name (letters, digits and _, not"
            " starting with a digit)"
        )
    if len(name) > MAX_NAME:
        raise ValueError(
            f"jupyter_jobs.record: the name {name[:20]}... is {len(name)} characters long;"
            f" at most {MAX_NAME}"
        )
    return name


def check_values(values: Mapping[str, Any]) -> dict[str, Scalar]:
    """The values to record, checked (all of them before anything is written)."""
    return {check_name(name): _scalar(name, value) for name, value in values.items()}


_kinds: dict[str, Any] = {}


def _is_kernel_job(job_dir: str) -> bool:
    """Whether ``job_dir`` is a remote kernel's job (its record says kind ``kernel``)."""
    if job_dir not in _kinds:
        data = read_json(os.path.join(job_dir, RECORD))
        _kinds[job_dir] = data.get("kind") if isinstance(data, dict) else None
    return _kinds[job_dir] == "kernel"


def record(**values: Any) -> bool:
    """Record named results of this run: ``record(loss=0.1, acc=0.9, label="x")``.

    Values are numbers, strings, True/False or None; a later call with the same name replaces
    the value. They appear with the job (``results``), in ``jupyter jobs results ID``, in a
    sweep's results table, and from Python as ``job.results()``.

    Returns True when recorded; outside a job it warns once and returns False, so a notebook
    that records its results also runs interactively. A value that cannot be recorded raises
    (TypeError or ValueError, naming it) and records nothing of this call.
    """
    checked = check_values(values)
    job_dir = os.environ.get(ENV_JOB_DIR)
    if not job_dir or not os.path.isdir(job_dir) or _is_kernel_job(job_dir):
        # a remote kernel runs as a job too, but its notebook is an interactive session
        global _warned_outside
        if not _warned_outside:
            _warned_outside = True
            warnings.warn(
                "jupyter_jobs.record: not running as a job, so nothing is recorded"
                " (the values are kept when this runs as a job)",
                stacklevel=2,
            )
        return False
    if not checked:
        return True
    merged: dict[str, Any] = dict(read_results(job_dir) or {})
    merged.update(checked)
    if len(merged) > MAX_VALUES:
        raise ValueError(
            f"jupyter_jobs.record: a run records at most {MAX_VALUES} values; this one would"
            f" have {len(merged)}"
        )
    size = len(json.dumps(merged).encode())
    if size > MAX_FILE_BYTES:
        raise ValueError(
            f"jupyter_jobs.record: the results would take {size} bytes; at most"
            f" {MAX_FILE_BYTES} (write large output to a file)"
        )
    write_json(os.path.join(job_dir, RESULTS), merged)
    return True


# ---------------------------------------------------------------------- the results table


def duration_seconds(job: Job, now: datetime | None = None) -> float | None:
    """Seconds from start to end (to now while it runs); None before it started."""
    if job.started_at is None:
        return None
    end = job.finished_at or now or datetime.now(timezone.utc)
    return round(max(0.0, (end - job.started_at).total_seconds()), 3)


def _unique(name: str, taken: set[str], prefix: str) -> str:
    """``name``, or ``<prefix>.<name>`` when an earlier column has it already."""
    out = name if name not in taken else f"{prefix}.{name}"
    while out in taken:
        out = f"{prefix}.{out}"
    return out


def table(
    jobs: Sequence[Job],
    *,
    sweep: bool = False,
    results_of: Callable[[Job], Mapping[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """The results table: ``{"columns": [str], "rows": [[value]]}``, one row per job.

    One run: columns ``id, status, duration_seconds``; a sweep (``jobs`` are its children, in
    order): ``index, id, status, duration_seconds``. Then each parameter, then each recorded
    value, by name in first-seen order; a cell a job has no value for is None. A parameter or
    result whose name is taken by an earlier column is ``parameter.<name>`` / ``result.<name>``.
    ``results_of`` gives a job's results (default: ``job.results``; the manager reads a running
    job's file live).
    """
    get_results = results_of or (lambda j: getattr(j, "results", None))
    fixed = SWEEP_COLUMNS if sweep else RUN_COLUMNS
    now = datetime.now(timezone.utc)
    params: dict[str, None] = {}
    names: dict[str, None] = {}
    per_job: list[tuple[Job, Mapping[str, Any], Mapping[str, Any]]] = []
    for job in jobs:
        p = job.parameters or {}
        r = get_results(job) or {}
        params.update(dict.fromkeys(p))
        names.update(dict.fromkeys(r))
        per_job.append((job, p, r))
    taken = set(fixed)
    param_cols = []
    for name in params:
        param_cols.append(_unique(name, taken, "parameter"))
        taken.add(param_cols[-1])
    result_cols = []
    for name in names:
        result_cols.append(_unique(name, taken, "result"))
        taken.add(result_cols[-1])
    rows = []
    for position, (job, job_params, job_results) in enumerate(per_job):
        head: list[Any] = [job.id, job.status, duration_seconds(job, now)]
        if sweep:
            index = getattr(job, "index", None)
            head.insert(0, position if index is None else index)
        cells = [*(job_params.get(n) for n in params), *(job_results.get(n) for n in names)]
        rows.append([*head, *cells])
    return {"columns": [*fixed, *param_cols, *result_cols], "rows": rows}


def rows_as_dicts(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A table answer as one dict per row (column name → value)."""
    columns = list(answer.get("columns") or [])
    return [dict(zip(columns, row)) for row in answer.get("rows") or []]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def format_text(answer: Mapping[str, Any], *, id_width: int = 8) -> str:
    """The table for people: aligned columns, numbers to the right, ids shortened, ``-`` for
    no value."""
    columns = list(answer.get("columns") or [])
    rows = [list(r) for r in answer.get("rows") or []]
    shown: list[list[str]] = []
    for row in rows:
        cells = []
        for col, value in zip(columns, row):
            text = "-" if value is None else _cell(value)
            if col == "id" and isinstance(value, str):
                text = value[:id_width]
            cells.append(text.replace("\n", " "))
        shown.append(cells)
    numeric = [
        all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) and bool(rows)
        for i in range(len(columns))
    ]
    widths = [max(len(c) for c in [col, *(r[i] for r in shown)]) for i, col in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(columns), *(line(r) for r in shown)])


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return value  # floats as repr writes them: 0.1, not 0.1000000000000000055
    return json.dumps(value)


def format_csv(answer: Mapping[str, Any]) -> str:
    """The table as CSV (RFC 4180; empty for no value; numbers as Python writes them)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(answer.get("columns") or [])
    for row in answer.get("rows") or []:
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue()


__all__ = ["record", "table", "rows_as_dicts", "format_text", "format_csv"]
