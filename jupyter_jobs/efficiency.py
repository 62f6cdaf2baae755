"""What an ended job used against what it asked for: its efficiency summary (as SLURM's ``seff``).

Computed once, by the job's owner, when the job ends (:meth:`JobManager.apply_update`), from what
the runner recorded wherever the job ran (this host, a SLURM node, a pod): the CPU time of the
whole process tree (``cpu_seconds`` in ``status.json``, from ``getrusage`` of the runner's reaped
children; else the integral of the usage samples' ``cpu_percent``), the peak memory (the largest
sample of the tree's summed RSS, or the largest single process's ``max_rss_bytes`` if larger) and
the wall time (``started_at`` to ``finished_at``). Kept in the job record as ``efficiency``:

``{"cpu": {"used_core_seconds", "cores", "wall_seconds", "ratio"},
"memory": {"peak_bytes", "requested_bytes", "ratio"},
"time": {"used_seconds", "limit_seconds", "ratio"}, "hints": [str]}``

— any part, or key inside a part, absent when unknown; hints (for a job that completed) when a
request was far larger than what was used, with a suggestion rounded up with headroom.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from .models import COMPLETED, Job, parse_time
from .units import format_bytes, format_duration

MiB = 1024**2
GiB = 1024**3
#: a hint when a request was used to less than this share
WASTE = 0.25
#: the suggestion's headroom over what was used
MEMORY_HEADROOM = 2.0
CPU_HEADROOM = 1.25
TIME_HEADROOM = 2.0
#: the smallest memory suggested (an interpreter alone takes tens of MB)
MIN_MEMORY = 256 * MiB
#: time limits suggested: 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h, then whole days
TIME_STEPS = (900, 1800, 3600, 7200, 14400, 28800, 43200)


def _seconds_between(start: datetime | str | None, end: datetime | str | None) -> float | None:
    a = parse_time(start) if isinstance(start, str) else start
    b = parse_time(end) if isinstance(end, str) else end
    if a is None or b is None:
        return None
    return max(0.0, (b - a).total_seconds())


def integrate_cpu(samples: list[dict[str, Any]], started: float | None) -> float | None:
    """Core-seconds from usage samples (``t`` epoch seconds, ``cpu_percent`` of one CPU since
    the previous sample)."""
    total, last, seen = 0.0, started, False
    for s in samples:
        t, cpu = s.get("t"), s.get("cpu_percent")
        if not isinstance(t, (int, float)) or not isinstance(cpu, (int, float)):
            continue
        if last is not None and t > last:
            total += cpu / 100.0 * (t - last)
        last, seen = t, True
    return total if seen else None


def nice_memory(n: float) -> int:
    """The next of 256M, 512M, 1G, 2G, 4G, … at or above ``n``."""
    size = MIN_MEMORY
    while size < n:
        size *= 2
    return size


def nice_time(seconds: float) -> int:
    for step in TIME_STEPS:
        if seconds <= step:
            return step
    return int(math.ceil(seconds / 86400) * 86400)


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3)


def summary(
    job: Job,
    samples: list[dict[str, Any]],
    status: dict[str, Any] | None,
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The efficiency of the ended ``job`` (None when nothing is known: it never ran).

    ``samples``: its ``usage.jsonl``; ``status``: its runner's ``status.json``;
    ``defaults``: what the backend gives a job for what it does not ask for (SLURM: 1 CPU,
    the partition's default time limit)."""
    status = status or {}
    resources = job.resources or {}
    defaults = defaults or {}
    started = status.get("started_at") or job.started_at
    finished = status.get("finished_at") or job.finished_at
    wall = _seconds_between(started, finished)
    if wall is None:
        return None
    out: dict[str, Any] = {}
    hints: list[str] = []
    hinted = job.status == COMPLETED and wall > 0

    used = status.get("cpu_seconds")
    if not isinstance(used, (int, float)):
        start = parse_time(started) if isinstance(started, str) else started
        used = integrate_cpu(samples, start.timestamp() if start else None)
    asked_cpus = resources.get("cpus")
    cores = asked_cpus or defaults.get("cpus")
    if used is not None:
        cpu: dict[str, Any] = {"used_core_seconds": round(float(used), 3)}
        if cores:
            cpu["cores"] = int(cores)
        cpu["wall_seconds"] = round(wall, 3)
        if cores and wall > 0:
            cpu["ratio"] = _ratio(used, cores * wall)
            average = used / wall
            suggest = max(1, math.ceil(average * CPU_HEADROOM))
            if hinted and asked_cpus and asked_cpus >= 2 and suggest <= asked_cpus * WASTE * 2:
                hints.append(
                    f"used {average:.1f} of {asked_cpus} CPUs on average:"
                    f" {suggest} would do next time"
                )
        out["cpu"] = cpu

    peaks: list[int] = [
        s["rss_bytes"]
        for s in samples
        if isinstance(s.get("rss_bytes"), int) and s["rss_bytes"] >= 0
    ]
    single = status.get("max_rss_bytes")
    if isinstance(single, int) and single > 0:
        peaks.append(single)
    requested = resources.get("memory")
    if peaks:
        peak = max(peaks)
        memory: dict[str, Any] = {"peak_bytes": peak}
        if requested:
            memory["requested_bytes"] = int(requested)
            memory["ratio"] = _ratio(peak, requested)
            suggest_mem = nice_memory(peak * MEMORY_HEADROOM)
            if hinted and peak < requested * WASTE and suggest_mem <= requested / 2:
                hints.append(
                    f"used {format_bytes(peak)} of {format_bytes(int(requested))} of"
                    f" memory: next time ask for {format_bytes(suggest_mem)}"
                )
        out["memory"] = memory

    limit = resources.get("time_limit") or defaults.get("time_limit")
    time_part: dict[str, Any] = {"used_seconds": round(wall, 3)}
    if limit:
        time_part["limit_seconds"] = int(limit)
        time_part["ratio"] = _ratio(wall, limit)
        suggest_time = nice_time(wall * TIME_HEADROOM)
        if hinted and wall < limit * WASTE and suggest_time <= limit / 2:
            hints.append(
                f"used {format_duration(int(wall))} of a {format_duration(int(limit))} time"
                f" limit: {format_duration(suggest_time)} would do"
            )
    out["time"] = time_part
    out["hints"] = hints
    return out
