"""The jupyter-jobs server extension."""

from __future__ import annotations

import os

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Integer, Unicode, default

from . import events
from ._version import __version__
from .handlers import default_handlers
from .kernels import resume as kernels_resume
from .kernels import server as kernels_server
from .manager import JobManager
from .ownership import filesystem_type, index_location
from .store import JobStore


class JobsApp(ExtensionApp):
    """Background jobs, launcher jobs (SLURM, Kubernetes) and remote kernels for Jupyter."""

    name = "jupyter_jobs"
    version = __version__
    description = __doc__
    load_other_extensions = True

    job_root = Unicode(
        help="""Directory that holds one directory per job (spec, log, status, usage) and the job
        database ``jobs.db``. Default: ``<jupyter data dir>/jobs``. On a cluster it must be on a
        filesystem the compute nodes share, e.g. ``c.JobsApp.job_root = '/home/me/.jupyter-jobs'``.""",
    ).tag(config=True)

    @default("job_root")
    def _default_job_root(self) -> str:
        return os.path.join(jupyter_data_dir(), "jobs")

    db_path = Unicode(
        "",
        help="""The job index (SQLite). The jobs themselves are in the job root's directories; the
        index lists and filters them and is rebuilt from them when lost. Empty: ``<job_root>/jobs.db``
        when the job root is on a local disk, and a file on this host's local disk
        (``/var/tmp/jupyter-jobs-<uid>/``) when it is on a network filesystem (NFS, Lustre, GPFS,
        sshfs…), where SQLite's locking and WAL cannot be trusted.""",
    ).tag(config=True)

    max_body_size = Integer(
        1 << 20,
        help="Largest accepted request body, in bytes (bigger bodies get 413). Default 1 MiB.",
    ).tag(config=True)

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        os.makedirs(self.job_root, mode=0o700, exist_ok=True)
        path, network = index_location(self.job_root, self.db_path)
        if network:
            self.log.warning(
                "jupyter-jobs: the job index %s is on a network filesystem (%s); keep it on local"
                " disk (leave JobsApp.db_path empty) if several hosts share the job root",
                path,
                filesystem_type(path),
            )
        self.store = JobStore(path, network=network)
        event_logger = self.serverapp.event_logger
        events.register(event_logger)
        self.manager = JobManager(
            parent=self,
            config=self.config,
            store=self.store,
            job_root=self.job_root,
            root_dir=self.serverapp.root_dir,
            emit=events.make_emitter(event_logger),
        )
        self.manager.load_spawners()
        kernels_server.setup(self)
        self.settings.update(
            {"jupyter_jobs_manager": self.manager, "jupyter_jobs_max_body": self.max_body_size}
        )
        self.log.info(
            "jupyter-jobs %s: job root %s (%s), index %s, server %s",
            __version__,
            self.job_root,
            filesystem_type(self.job_root) or "unknown filesystem",
            path,
            self.manager.server_id,
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(default_handlers())

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        await self.manager.start()
        await kernels_server.start(self)
        kernels_resume.start(self)  # takes up remote kernels left running by the last server

    async def stop_extension(self) -> None:
        await kernels_resume.stop(self)  # remote kernels stay running for the next server
        await self.manager.stop()
        kernels_server.stop(self)
        self.store.close()
