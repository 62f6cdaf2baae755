"""Remote kernels: Jupyter kernels that run as jobs (inside a SLURM allocation, …).

- :mod:`.provisioner` — the kernel provisioner (entry point ``jupyter-jobs-provisioner`` under
  ``jupyter_client.kernel_provisioners``) that starts a kernel as a job of kind ``kernel``.
- :mod:`.specs` — kernel specs, one per profile that offers kernels, following the backends.
- :mod:`.cli` — ``jupyter jobs kernelspec install|list|remove``.
- :mod:`.sessions` — the rows of ``GET jupyter-jobs/api/remote-sessions`` (each remote kernel with
  its job); the handler is in :mod:`jupyter_jobs.handlers.sessions`.

The provisioner is created by jupyter_client, not by us, so it finds the server's
:class:`~jupyter_jobs.manager.JobManager` through the kernel manager's parents (the ServerApp's
settings) or, failing that, through the registry below, filled by the server extension at start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..manager import JobManager

_manager: JobManager | None = None
#: kernel id → job id of the job that runs it now (filled by the provisioner)
job_of_kernel: dict[str, str] = {}
#: kernel id → job id of a kernel being taken up again after a server restart (:mod:`.resume`)
resuming: dict[str, str] = {}


def set_manager(manager: JobManager | None) -> None:
    """Called by the server extension at start (and with None at stop)."""
    global _manager
    _manager = manager
    if manager is None:
        job_of_kernel.clear()


def get_manager() -> JobManager | None:
    return _manager
