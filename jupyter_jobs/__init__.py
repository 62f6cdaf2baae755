"""jupyter-jobs: background jobs, launcher jobs on SLURM and Kubernetes, and remote kernels.

Inside a job or a notebook::

    import jupyter_jobs
    jupyter_jobs.progress(0.5, "half way")          # inside a running job
    jupyter_jobs.record(loss=0.1, acc=0.9)          # inside a run: its results table
    job = jupyter_jobs.submit("train.py", args=["--epochs", "3"])   # from a notebook
    job.wait(); print(job.status, job.log(), job.results())
    daily = jupyter_jobs.schedule("report.ipynb", cron="0 6 * * 1-5", timezone="Europe/Berlin")

This module imports nothing from the server at import time: jobs import it cheaply.
"""

from ._version import __version__
from .progress import progress
from .results import record


def submit(*args, **kwargs):
    """Submit a job to the running Jupyter server; see :func:`jupyter_jobs.client.submit`."""
    from .client import submit as _submit

    return _submit(*args, **kwargs)


def sweep(*args, **kwargs):
    """Submit a sweep (a grid or a list of parameter sets, one run each) to the running Jupyter
    server; see :meth:`jupyter_jobs.client.JobsClient.sweep`."""
    from .client import sweep as _sweep

    return _sweep(*args, **kwargs)


def schedule(*args, **kwargs):
    """Save a job with a schedule (a job definition); see :func:`jupyter_jobs.client.schedule`.
    Returns a :class:`~jupyter_jobs.client.Definition` (``pause``, ``resume``, ``run``,
    ``delete``, ``runs``)."""
    from .client import schedule as _schedule

    return _schedule(*args, **kwargs)


def _jupyter_server_extension_points():
    from .app import JobsApp

    return [{"module": "jupyter_jobs", "app": JobsApp}]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyter-jobs"}]


__all__ = ["__version__", "progress", "record", "schedule", "submit", "sweep"]
