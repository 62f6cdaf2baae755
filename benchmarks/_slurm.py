"""Helpers shared by the SLURM benchmarks (``slurm_polling.py``, ``sweeps.py``)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys


def find_cluster() -> None:
    """Point ``SLURM_CONF`` at ``$JUPYTER_JOBS_SLURM_BASE`` (when not set) and exit with a hint
    when no cluster answers ``scontrol ping``."""
    base = os.environ.get("JUPYTER_JOBS_SLURM_BASE")
    if not os.environ.get("SLURM_CONF") and base:
        os.environ["SLURM_CONF"] = os.path.join(base, "etc", "slurm.conf")
    r = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    if r.returncode != 0 or " is UP" not in r.stdout:
        sys.exit(
            "no SLURM cluster answers: run scripts/slurm-up.sh BASE and set "
            "JUPYTER_JOBS_SLURM_BASE=BASE"
        )


async def run(argv: list[str]) -> str:
    """A SLURM command's stdout (stderr dropped)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await proc.communicate()
    return out.decode()
