"""Wiring of remote kernels into the server extension (called from ``JobsApp``).

- :func:`setup` (``initialize_settings``): register the manager for provisioners and put
  ``<job_root>/kernelspecs`` first on the server's kernel-spec path.
- :func:`start` (after the manager started): write the kernel specs of available backends and
  remove stale ones.
- :func:`stop`: forget the manager (the manager itself cancels kernel jobs).
"""

from __future__ import annotations

import os
from typing import Any

from . import set_manager
from .specs import RemoteKernelSpecs, sync_dir

SPECS_DIR = "kernelspecs"


def specs_dir(app: Any) -> str:
    return os.path.join(app.job_root, SPECS_DIR)


def setup(app: Any) -> None:
    set_manager(app.manager)
    ksm = getattr(app.serverapp, "kernel_spec_manager", None)
    dirs = getattr(ksm, "kernel_dirs", None)
    if ksm is None or dirs is None:
        app.log.warning("jupyter-jobs: no kernel spec manager; remote kernel specs not offered")
        return
    d = specs_dir(app)
    os.makedirs(d, exist_ok=True)
    if d not in dirs:
        ksm.kernel_dirs = [d, *dirs]


async def start(app: Any) -> list[str]:
    """Write the specs of every available backend's kernel profiles; returns their names."""
    writer = RemoteKernelSpecs(parent=app, config=app.config)
    available = {}
    for name, spawner in app.manager.spawners.items():
        if name not in writer.backends or not spawner.supports_kernels:
            continue
        try:
            ok, reason = await spawner.check_available()
        except Exception as e:  # a broken backend must not stop the server
            ok, reason = False, str(e)
        if ok:
            available[name] = spawner
        else:
            app.log.info("jupyter-jobs: no %s kernels: %s", name, reason)
    specs = writer.specs(available)
    written, removed = sync_dir(specs_dir(app), specs)
    app.remote_kernel_specs = written  # read by tests and the sessions handler
    if written or removed:
        app.log.info(
            "jupyter-jobs: kernel specs %s%s",
            ", ".join(written) or "none",
            f" (removed {', '.join(removed)})" if removed else "",
        )
    return written


def stop(app: Any) -> None:
    set_manager(None)
