"""Where a remote kernel's JobManager runs: inside the Jupyter server, or standalone.

Inside a Jupyter server with the jupyter_jobs extension the provisioner uses the server's
JobManager, so its kernel jobs are the server's (sidebar, events, ownership).

Anywhere else — nbclient, papermill, ``jupyter nbconvert --execute``, ``jupyter console``,
``jupyter kernel``, VS Code, plain ``KernelManager(kernel_name=...)`` — the provisioner starts a
JobManager of its own, configured from the same files the server reads (``jupyter_server_config``
in the Jupyter config path: ``JobsApp.job_root``, ``SlurmSpawner.profiles``, …). It runs on a thread
with its own event loop, so it keeps its lease and polls while the client is busy or idle, whatever
the client does with its own loop. It is a server of the job root like any other: its kernel jobs
are recorded in the job root (every server's sidebar shows them), and when the process ends its
lease goes and its kernel jobs are cancelled (or, if it was killed, ended by whoever takes them
over, and by the runner itself after ``JobKernelProvisioner.server_grace``).
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import os
import threading
from typing import TYPE_CHECKING, Any, Callable

from .. import serverconfig
from ..ownership import index_location
from ..store import JobStore

if TYPE_CHECKING:
    from ..manager import JobManager

#: how kernel jobs record who started them (``job.state["client"]``)
IN_SERVER, STANDALONE = "server", "standalone"


class Host:
    """Calls into a JobManager on the loop it runs on."""

    def __init__(self, manager: JobManager, loop: asyncio.AbstractEventLoop | None = None):
        self.manager = manager
        self.loop = loop  # None: the caller's own loop (inside the server)

    @property
    def client(self) -> str:
        return IN_SERVER if self.loop is None else STANDALONE

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` (awaited when it is a coroutine) on the manager's loop."""

        async def run() -> Any:
            result = fn(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        if self.loop is None:
            return await run()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self.loop))


_lock = threading.Lock()
_standalone: Host | None = None


async def standalone_host() -> Host:
    """The process's standalone JobManager, started at the first call."""
    global _standalone
    with _lock:
        if _standalone is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="jupyter-jobs", daemon=True).start()
            future = asyncio.run_coroutine_threadsafe(_start_manager(), loop)
            manager = await asyncio.wrap_future(future)
            _standalone = Host(manager, loop)
            atexit.register(_stop_standalone)
        return _standalone


async def _start_manager() -> JobManager:
    from ..app import JobsApp  # the server's defaults for the job root and the index
    from ..manager import JobManager

    config = serverconfig.load()
    jobs_app = JobsApp(config=config)
    job_root = jobs_app.job_root
    os.makedirs(job_root, mode=0o700, exist_ok=True)
    path, network = index_location(job_root, jobs_app.db_path)
    root_dir = config.get("ServerApp", {}).get("root_dir") or os.getcwd()
    manager = JobManager(
        config=config,
        store=JobStore(path, network=network),
        job_root=job_root,
        root_dir=str(root_dir),
        emit=None,
    )
    manager.takes_over = False  # a short-lived client: the job root's servers take jobs over
    manager.fires_definitions = False  # schedules are fired by the job root's servers
    manager.load_spawners()
    await manager.start()
    manager.log.info(
        "jupyter-jobs: standalone remote kernels (pid %d), job root %s", os.getpid(), job_root
    )
    return manager


def _stop_standalone() -> None:
    """At exit: cancel what is left of our kernel jobs, give the lease back."""
    host = _standalone
    if host is None or host.loop is None or not host.loop.is_running():
        return
    try:
        asyncio.run_coroutine_threadsafe(host.manager.stop(), host.loop).result(30)
    except Exception as e:  # the process is ending: say it, do not raise
        host.manager.log.warning("jupyter-jobs: stopping the standalone job manager: %s", e)
    host.loop.call_soon_threadsafe(host.loop.stop)
