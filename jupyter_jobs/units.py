"""Sizes and durations for people: one spelling each, the one a user also types.

- :func:`format_bytes` — ``4G``, ``23.5G``, ``512M``, ``100 bytes``: the units of a memory
  request (binary, as SLURM and the run dialog use them), so what a message shows can be asked for;
- :func:`format_duration` — ``00:10:00``, ``1-02:00:00``: SLURM's ``[D-]HH:MM:SS``, the form a
  time limit is given in (and what ``sbatch --time`` takes).

Standard library only: the runner imports this on compute nodes.
"""

from __future__ import annotations

_BYTE_UNITS = (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024))


def format_bytes(n: float) -> str:
    """Bytes for people: whole in the largest unit that fits (``4G``), else one decimal
    (``23.5G``, ``1.0G`` for a byte short of it); below 1K, exactly: ``n bytes``."""
    n = max(0, int(n))
    for unit, size in _BYTE_UNITS:
        if n % size == 0 and n >= size:
            return f"{n // size}{unit}"
        if n >= size or (unit != "K" and round(n / size, 1) >= 1):  # never "1024.0M"
            return f"{n / size:.1f}{unit}"
    return f"{n} bytes" if n != 1 else "1 byte"


def format_duration(seconds: float) -> str:
    """Seconds as ``[D-]HH:MM:SS`` (whole seconds, never negative)."""
    d, rem = divmod(max(0, int(seconds)), 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    core = f"{h:02d}:{m:02d}:{s:02d}"
    return f"{d}-{core}" if d else core
