"""jupyter-jobs: background jobs, launcher jobs on SLURM and Kubernetes, and remote kernels.

Inside a job or a notebook::

    import jupyter_jobs
    jupyter_jobs.progress(0.5, "half way")          # inside a running job
    jupyter_jobs.record(loss=0.1, acc=0.9)          # inside a run: its results table
    job = jupyter_jobs.submit("train.py", args=["--epochs", "3"])   # from a notebook
    job.wait(); print(job.status, job.log(), job.results())

This module imports nothing from the server at import time: jobs import it cheaply.
"""

from ._version import __version__
from .progress import progress
from .results import record


def submit(*args, **kwargs):
    """Submit a job to the running Jupyter server; see :func:`jupyter_jobs.client.submit`."""
    from .client import submit as _submit

    return _submit(*args, **kwargs)


def _jupyter_server_extension_points():
    from .app import JobsApp

    return [{"module": "jupyter_jobs", "app": JobsApp}]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyter-jobs"}]


__all__ = ["__version__", "progress", "record", "submit"]
