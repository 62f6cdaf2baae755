"""``jupyter_jobs.progress()``: report progress from inside a job (like ``rstudioapi::jobSetProgress``)."""

from __future__ import annotations

import os
import time

from .jobfiles import PROGRESS, write_json

ENV_JOB_DIR = "JUPYTER_JOBS_DIR"
ENV_JOB_ID = "JUPYTER_JOBS_JOB_ID"


def progress(fraction: float, message: str | None = None) -> bool:
    """Set the job's progress: ``fraction`` from 0 to 1, and an optional short message.

    Shown live in the Jobs sidebar and by ``jupyter jobs show``. Outside a job it does nothing and
    returns False, so scripts can call it unconditionally::

        import jupyter_jobs
        for i, batch in enumerate(batches):
            train(batch)
            jupyter_jobs.progress((i + 1) / len(batches), f"batch {i + 1}/{len(batches)}")
    """
    job_dir = os.environ.get(ENV_JOB_DIR)
    if not job_dir or not os.path.isdir(job_dir):
        return False
    fraction = min(1.0, max(0.0, float(fraction)))
    data = {"fraction": fraction, "message": message, "source": "api", "t": time.time()}
    write_json(os.path.join(job_dir, PROGRESS), data)
    return True
