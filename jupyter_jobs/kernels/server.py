"""Wiring of remote kernels into the server extension (called from ``JobsApp``).

- :func:`setup` (``initialize_settings``): register the manager for provisioners and put
  ``<job_root>/kernelspecs/<host>`` first on the server's kernel-spec path. One folder per host:
  servers of one job root on hosts that see different backends (a laptop and a login node sharing
  a home) would otherwise remove each other's specs every few seconds.
- :func:`start` (after the manager started): write the kernel specs of available backends, remove
  stale ones, and start the loop that keeps them following the backends
  (:class:`SpecsRefresher`, every :attr:`~.specs.RemoteKernelSpecs.refresh_interval` seconds).
- :func:`stop`: stop that loop and forget the manager (the manager itself cancels kernel jobs).
- A kernel of ours whose spec went with its backend (slurmctld down, credentials gone) is refused
  in the user's words with a 503 (:class:`RemoteKernelUnavailable`), from ``POST api/kernels``
  and from ``POST``/``PATCH api/sessions`` (whose handler would answer a generic 501, rewritten
  by :class:`_UnavailableSessions`) — never a bare 500 ``NoSuchKernel``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from typing import Any

from jupyter_client.kernelspec import NoSuchKernel
from tornado import web

from .. import events
from ..ownership import host_id
from ..spawners.base import Spawner
from . import set_manager
from .specs import NAME_PREFIX, RemoteKernelSpecs, kernel_name, sync_dir

SPECS_DIR = "kernelspecs"
#: longest a backend's availability check may take before it counts as unavailable for this round
CHECK_TIMEOUT = 60.0


def specs_dir(app: Any) -> str:
    """``<job_root>/kernelspecs/<host>``: the specs this host's servers offer."""
    host = re.sub(r"[^A-Za-z0-9._-]+", "_", host_id()).strip(".") or "host"
    return os.path.join(app.job_root, SPECS_DIR, host)


def setup(app: Any) -> None:
    set_manager(app.manager)
    ksm = getattr(app.serverapp, "kernel_spec_manager", None)
    dirs = getattr(ksm, "kernel_dirs", None)
    if ksm is None or dirs is None:
        app.log.warning("jupyter-jobs: no kernel spec manager; remote kernel specs not offered")
        return
    d = specs_dir(app)
    os.makedirs(d, exist_ok=True)
    try:  # our specs of the older layout, straight in <job_root>/kernelspecs (host folders stay)
        sync_dir(os.path.dirname(d), {})
    except OSError as e:
        app.log.debug("jupyter-jobs: old kernel specs not removed: %s", e)
    if d not in dirs:
        ksm.kernel_dirs = [d, *dirs]
    _explain_missing_specs(app, ksm)


class RemoteKernelUnavailable(NoSuchKernel, web.HTTPError):
    """One of our kernels whose spec is gone (its backend went away): a 503 that says why.

    Still a ``NoSuchKernel`` for jupyter_client and jupyter_server code that looks for one (the
    kernel spec API answers 404 for it, as for any missing spec)."""

    def __init__(self, name: str, message: str):
        web.HTTPError.__init__(self, 503, message, reason="Remote kernel unavailable")
        self.name = name
        self.message = message

    def __str__(self) -> str:
        return self.message


def unavailable_message(app: Any, name: str) -> str | None:
    """Why our kernel ``name`` has no spec now, in the user's words (None: not ours)."""
    if not name.startswith(NAME_PREFIX):
        return None
    manager = getattr(app, "manager", None)
    spawners = getattr(manager, "spawners", {}) or {}
    refresher = getattr(app, "jupyter_jobs_specs_refresher", None)
    reasons = getattr(refresher, "unavailable", {}) or {}
    for backend, spawner in spawners.items():
        if not spawner.supports_kernels or not name.startswith(kernel_name(backend, "") + "-"):
            continue
        label = spawner.display_name or backend
        why = reasons.get(backend)
        if why:
            return (
                f"The remote kernel {name} cannot start now: the {label} backend is not"
                f" available ({why}). Its kernels come back by themselves when it is; pick"
                " another kernel or try again later."
            )
        return (
            f"The remote kernel {name} is not offered (any more): no {label} profile with kernels"
            " has that name. Pick another kernel."
        )
    return (
        f"The remote kernel {name} cannot start: its backend is not enabled on this server."
        " Pick another kernel."
    )


def _explain_missing_specs(app: Any, ksm: Any) -> None:
    """Refuse our vanished kernels with :class:`RemoteKernelUnavailable`, in the user's words."""
    original = ksm.get_kernel_spec

    def get_kernel_spec(kernel_name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(kernel_name, *args, **kwargs)
        except NoSuchKernel:
            message = unavailable_message(app, kernel_name)
            if message is None:
                raise
            _UnavailableSessions.messages[kernel_name] = message
            raise RemoteKernelUnavailable(kernel_name, message) from None

    ksm.get_kernel_spec = get_kernel_spec
    web_app = getattr(app.serverapp, "web_app", None)
    transforms = getattr(web_app, "transforms", None)
    if transforms is not None and _UnavailableSessions not in transforms:
        transforms.append(_UnavailableSessions)


class _UnavailableSessions(web.OutputTransform):
    """jupyter_server's sessions handler answers a missing kernel spec with its own generic 501;
    for one of our kernels, answer 503 with why (:func:`unavailable_message`) instead."""

    #: kernel name → the message given when its spec was found missing
    messages: dict[str, str] = {}

    def __init__(self, request: Any):
        super().__init__(request)
        self.request = request

    def transform_first_chunk(
        self, status_code: int, headers: Any, chunk: bytes, finishing: bool
    ) -> tuple[int, Any, bytes]:
        if (
            status_code != 501
            or self.request.method not in ("POST", "PATCH")
            or "/api/sessions" not in self.request.path
            or not finishing
        ):
            return status_code, headers, chunk
        try:
            body = json.loads(chunk)
            short = str(body.get("short_message") or "")
        except (ValueError, AttributeError):
            return status_code, headers, chunk
        for name, message in list(self.messages.items()):
            if short in (f"{name} not found", f"Error starting kernel {name}"):
                new = json.dumps({"message": message, "reason": "Remote kernel unavailable"})
                chunk = new.encode()
                if "Content-Length" in headers:
                    headers["Content-Length"] = str(len(chunk))
                return 503, headers, chunk
        return status_code, headers, chunk


class SpecsRefresher:
    """Keeps ``<job_root>/kernelspecs/<host>`` (and ``app.remote_kernel_specs``) equal to the specs of the
    backends that are available now; tells browsers when that set changes."""

    def __init__(self, app: Any):
        self.app = app
        self.log = app.log
        self.writer = RemoteKernelSpecs(parent=app, config=app.config)
        #: backend → why it is unavailable (None: available), as of the last check
        self.unavailable: dict[str, str | None] = {}
        self.specs: dict[str, dict[str, Any]] | None = None
        self.task: asyncio.Task | None = None

    def kernel_backends(self) -> dict[str, Spawner]:
        return {
            name: spawner
            for name, spawner in self.app.manager.spawners.items()
            if name in self.writer.backends and spawner.supports_kernels
        }

    async def _check(self, name: str, spawner: Spawner) -> tuple[bool, str | None]:
        try:
            ok, reason = await asyncio.wait_for(spawner.check_available(), CHECK_TIMEOUT)
        except asyncio.TimeoutError:
            return False, f"no answer within {CHECK_TIMEOUT:g} s"
        except Exception as e:  # a broken backend must not stop the server or the loop
            return False, f"{type(e).__name__}: {e}"
        return bool(ok), reason

    async def refresh(self) -> list[str]:
        """Check every kernel backend, sync the specs directory; the kernel names now offered."""
        backends = self.kernel_backends()
        answers = await asyncio.gather(*(self._check(n, s) for n, s in backends.items()))
        available = {}
        for (name, spawner), (ok, reason) in zip(backends.items(), answers):
            if ok:
                available[name] = spawner
            if name not in self.unavailable or (self.unavailable[name] is None) != ok:
                if ok:
                    if name in self.unavailable:
                        self.log.info("jupyter-jobs: %s is available now", name)
                else:
                    self.log.info("jupyter-jobs: no %s kernels: %s", name, reason)
            self.unavailable[name] = None if ok else (reason or "unavailable")
        try:
            specs = self.writer.specs(available)
        except Exception as e:  # e.g. a profile hook that raises: keep what we offered
            self.log.warning("jupyter-jobs: kernel specs not rebuilt: %s", e)
            return list(self.app.remote_kernel_specs)
        written, removed = sync_dir(specs_dir(self.app), specs)
        self.app.remote_kernel_specs = written  # read by tests and the sessions handler
        before = self.specs
        self.specs = specs
        if removed or (specs != before if before is not None else bool(specs)):
            added = sorted(set(specs) - set(before or {}))
            gone = sorted(set(removed) | (set(before or {}) - set(specs)))
            if added or gone or before is None:
                self.log.info(
                    "jupyter-jobs: kernel specs %s%s",
                    ", ".join(written) or "none",
                    f" (removed {', '.join(gone)})" if gone else "",
                )
            self.emit(written, added, gone)
        return written

    def emit(self, names: list[str], added: list[str], removed: list[str]) -> None:
        event_logger = getattr(self.app.serverapp, "event_logger", None)
        if event_logger is None:
            return
        try:
            events.emit_kernelspecs(event_logger, names, added, removed)
        except Exception as e:  # the specs are written; a browser still sees them on reload
            self.log.warning("jupyter-jobs: kernelspecs event not sent: %s", e)

    async def run(self) -> None:
        interval = self.writer.refresh_interval
        last_error = ""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # never let one bad round end the loop (e.g. a full disk)
                if str(e) != last_error:  # once per distinct error, not every few seconds
                    self.log.exception("jupyter-jobs: kernel spec refresh failed")
                last_error = str(e)
            else:
                last_error = ""

    def start(self) -> None:
        if self.writer.refresh_interval > 0 and self.task is None:
            self.task = asyncio.ensure_future(self.run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None


async def start(app: Any) -> list[str]:
    """Write the specs of every available backend's kernel profiles, then keep them following the
    backends; returns the names written now."""
    _stop_refresher(app)
    refresher = SpecsRefresher(app)
    app.remote_kernel_specs = []
    try:
        written = await refresher.refresh()
    except Exception:  # e.g. an unwritable job root: the server runs on, the loop tries again
        app.log.exception("jupyter-jobs: kernel specs not written")
        written = []
    app.jupyter_jobs_specs_refresher = refresher
    refresher.start()
    return written


def _stop_refresher(app: Any) -> None:
    refresher = getattr(app, "jupyter_jobs_specs_refresher", None)
    if refresher is not None:
        refresher.stop()
        app.jupyter_jobs_specs_refresher = None


def stop(app: Any) -> None:
    _stop_refresher(app)
    set_manager(None)
