"""JobKernelProvisioner: a Jupyter kernel started as a job (SLURM, …) through the JobManager.

Pull, not push: the server writes ``conn.json`` with all ports 0 and its own key into a private
(0700) directory under the job root, which compute nodes share; the job runs
``python -m ipykernel_launcher -f conn.json``; ipykernel binds free ports and rewrites the file with
them; the provisioner reads the file and connects to the node (or through an SSH tunnel). No
connect-back to the server, no port race.

The kernel binds ``kernel_ip`` (default ``0.0.0.0``: the server on another host must reach it;
every message is signed with the key, which only the owner's 0700 directory holds). The address
the server connects to is the job's node, resolved here.

Lifecycle: ``poll``/``wait`` read the job (and the runner's ``status.json``, which is final as soon
as the kernel exits, before the batch system notices); ``kill``/``terminate`` cancel the job; a
failed start raises with the job's log tail; a job still queued after ``launch_timeout`` is
cancelled and the error gives the queue reason. Interrupts go as messages
(``interrupt_mode: "message"`` in the kernel spec).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import time
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Callable, cast

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from tornado import web
from traitlets import Bool, Float, Integer, List, Unicode

from .. import jobfiles
from ..exceptions import Conflict, JobsError, NotFound
from ..models import CANCELLING, FINAL_STATUSES, RUNNING, normalize_resources
from . import get_manager, job_of_kernel, k8s, resuming
from . import tunnel as tunnels
from .host import Host, standalone_host

if TYPE_CHECKING:
    from ..manager import JobManager
    from ..models import Job

CONN_DIR = ".kernels"
PORTS = tunnels.PORT_NAMES


class KernelLaunchError(web.HTTPError):
    """The kernel job could not start; the message says why (with the log tail).

    An HTTPError so that jupyter_server answers ``POST api/kernels`` with this message (any other
    exception becomes "Unhandled error") and JupyterLab shows it in its "Error Starting Kernel"
    dialog: 503 when the job did not get resources in time, 502 when it started and failed.
    """

    def __init__(self, message: str, status_code: int = 502):
        super().__init__(status_code, message, reason="Remote kernel did not start")
        self.message = message

    def __str__(self) -> str:
        return self.message


def ports_ready(info: Any) -> bool:
    return isinstance(info, dict) and all(
        isinstance(info.get(p), int) and info[p] > 0 for p in PORTS
    )


def find_manager(obj: Any) -> JobManager | None:
    """The server's JobManager: through the parents' web_app settings, else the registry."""
    seen = 0
    while obj is not None and seen < 10:
        web_app = getattr(obj, "web_app", None)
        settings = getattr(web_app, "settings", None) or {}
        if "jupyter_jobs_manager" in settings:
            return settings["jupyter_jobs_manager"]
        obj = getattr(obj, "parent", None)
        seen += 1
    return get_manager()


class JobKernelProvisioner(KernelProvisionerBase):  # type: ignore[misc]
    """Starts the kernel as a job of kind ``kernel`` on a jupyter-jobs backend.

    The kernel spec says where: ``metadata.kernel_provisioner.config = {"backend": "slurm",
    "profile": "gpu"}`` (written by :mod:`jupyter_jobs.kernels.specs`).
    """

    backend = Unicode("slurm", help="jupyter-jobs backend that runs the kernel.").tag(config=True)
    profile = Unicode(
        "", help="Profile of that backend (must offer kernels); empty: its first profile."
    ).tag(config=True)

    launch_timeout = Float(
        300.0,
        help="""Seconds a kernel job may wait (queued, then starting) for its kernel to come up.
        After that the job is cancelled and the start fails with the queue reason. Example:
        ``c.JobKernelProvisioner.launch_timeout = 600``.""",
    ).tag(config=True)

    default_time_limit = Integer(
        8 * 3600,
        help="""Time limit in seconds of kernel jobs whose profile sets none: no allocation
        burns hours unseen. Example: ``c.JobKernelProvisioner.default_time_limit = 4 * 3600``.""",
    ).tag(config=True)

    kernel_ip = Unicode(
        "0.0.0.0",
        help="""Address the kernel binds on its node. ``0.0.0.0`` (default): reachable from the
        server on another host; messages are signed with a key only the owner can read. Use
        ``127.0.0.1`` with ``ssh_gateway`` when the node must not listen on the network (the
        tunnel then forwards to ``127.0.0.1`` on the node).""",
    ).tag(config=True)

    ssh_gateway = Unicode(
        "",
        help="""Reach kernels through an SSH tunnel via this host (``[user@]host[:port]``), for
        a server that cannot connect to compute nodes directly; empty (default): connect
        directly. Example: ``c.JobKernelProvisioner.ssh_gateway = 'me@login01'``.""",
    ).tag(config=True)

    ssh_options = List(
        Unicode(),
        help="Extra ``ssh`` options for the tunnel, e.g. ``['-i', '/home/me/.ssh/id_hpc']``.",
    ).tag(config=True)

    tunnel_via_node = Bool(
        False,
        help="""With ``ssh_gateway``: forward to ``127.0.0.1`` as seen from the gateway (True: the
        gateway *is* the node, e.g. ``ssh_gateway`` set per node) instead of the node's address.""",
    ).tag(config=True)

    poll_interval = Float(
        0.1, help="Seconds between two looks at the connection file while the kernel starts."
    ).tag(config=True)

    server_grace = Float(
        600.0,
        help="""Seconds a kernel job keeps running while no Jupyter server (or standalone client)
        holds it: its server restarting has this long to come back and take the kernel up again.
        After that the job ends itself (the runner in the job watches), so no allocation burns
        unseen even when no server ever comes back. 0: never. Example:
        ``c.JobKernelProvisioner.server_grace = 300``.""",
    ).tag(config=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.job_id: str | None = None
        self._host: Host | None = None
        #: a restart inside the same job is under way: the kernel generation it restarts from
        self._restart_from: int | None = None
        self.conn_dir: str | None = None
        self._exit_code: int | None = None
        self._tunnel: asyncio.subprocess.Process | None = None

    # ------------------------------------------------------------------ helpers

    async def host(self) -> Host:
        """The server's JobManager, or this process's own when no server runs here (nbclient,
        papermill, ``jupyter console``, …: see :mod:`jupyter_jobs.kernels.host`)."""
        if self._host is None:
            manager = find_manager(self.parent)
            self._host = Host(manager) if manager is not None else await standalone_host()
        return self._host

    async def _job(self) -> Job | None:
        if not self.job_id:
            return None
        try:
            host = await self.host()
            return cast("Job", await host.call(host.manager.get, self.job_id))
        except NotFound:
            return None
        except Exception as e:  # the extension stopped before the kernels (server shutdown)
            self.log.debug("jupyter-jobs: job %s unreadable: %s", self.job_id, e)
            return None

    def _runner_status(self, job: Job) -> dict[str, Any]:
        return jobfiles.read_status(job.job_dir) or {}

    def _exit_of(self, job: Job | None) -> int | None:
        """The kernel's exit code once it is over (the runner knows first), else None."""
        if job is None:
            return self._exit_code if self._exit_code is not None else (1 if self.job_id else 0)
        if job.status in FINAL_STATUSES:
            return job.exit_code if job.exit_code is not None else 1
        status = self._runner_status(job)
        if status.get("state") in ("completed", "failed", "cancelled"):
            code = status.get("exit_code")
            return code if isinstance(code, int) else 1
        return None

    # ------------------------------------------------------------------ the provisioner API

    @property
    def has_process(self) -> bool:
        return self.job_id is not None

    async def poll(self) -> int | None:
        if self.job_id is None:
            return self._exit_code if self._exit_code is not None else 0
        job = await self._job()
        if self._restart_from is not None and job is not None and not job.is_final:
            # restarting inside the job: the old kernel is gone once the next generation runs
            generation = int(self._runner_status(job).get("generation") or 0)
            return 0 if generation > self._restart_from else None
        return self._exit_of(job)

    async def wait(self) -> int | None:
        while True:
            code = await self.poll()
            if code is not None:
                self._forget_job(code)
                return code
            await asyncio.sleep(0.1)

    async def send_signal(self, signum: int) -> None:
        """Signals cannot cross to the node one by one: 0 is a liveness check, and SIGTERM or
        SIGKILL end the job; interrupts go as messages (``interrupt_mode: "message"``)."""
        if signum in (signal.SIGTERM, signal.SIGKILL):
            await self.kill()
        elif signum != 0:
            self.log.warning("jupyter-jobs: signal %s not sent to a remote kernel", signum)

    async def shutdown_requested(self, restart: bool = False) -> None:
        """A restart keeps the allocation: the runner starts the kernel again in the same job,
        on the same node and ports, so every client (also one outside a server, which holds the
        ports) reconnects as to a local kernel."""
        job = await self._job()
        if not restart or job is None or job.is_final:
            return
        host = await self.host()
        spawner = await host.call(host.manager.get_spawner, job.backend)
        if k8s.addresses_kernels(spawner):
            return  # a pod's kernel restarts in a new pod
        self._restart_from = int(self._runner_status(job).get("generation") or 0)
        jobfiles.write_json(os.path.join(job.job_dir, jobfiles.RESTART), {"mode": "restart"})

    async def kill(self, restart: bool = False) -> None:
        job = await self._job()
        if self._restart_from is not None and job is not None and not job.is_final:
            # the kernel did not exit by itself: the runner stops it now and starts it again
            jobfiles.write_json(os.path.join(job.job_dir, jobfiles.RESTART), {"mode": "kill"})
            return
        await self._cancel()

    async def terminate(self, restart: bool = False) -> None:
        await self.kill(restart)

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        # the manager waits half of this for the kernel to exit, then cancels the job; a restart
        # inside the job waits for the runner to start the next kernel (over a shared filesystem)
        return max(recommended, 10.0) if self._restart_from is not None else min(recommended, 3.0)

    def get_stable_start_time(self, recommended: float = 10.0) -> float:
        return max(recommended, self.launch_timeout)

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Write ``conn.json`` (ports 0, our key) and build the argv with its path."""
        km = self.parent
        host = await self.host()
        resumed = await self._resumed_job()
        if resumed is not None:
            # taken up again after a server restart: the kernel runs; reach it as before
            self.job_id = resumed.id
            conn_file = str((resumed.state.get("kernel") or {}).get("conn_file"))
            self.conn_dir = os.path.dirname(conn_file)
            kwargs = await super().pre_launch(cmd=list(resumed.argv), **kwargs)
            kwargs["conn_file"] = conn_file
            kwargs["resumed"] = True
            return kwargs
        if self._restart_from is not None and self.conn_dir:
            # a restart inside the job: the kernel binds the ports it wrote into conn.json
            conn_file = os.path.join(self.conn_dir, "conn.json")
            kwargs.pop("extra_arguments", None)
            cmd = [a.replace("{connection_file}", conn_file) for a in self.kernel_spec.argv]
            kwargs = await super().pre_launch(cmd=cmd, **kwargs)
            kwargs["conn_file"] = conn_file
            return kwargs
        self.conn_dir = os.path.join(host.manager.job_root, CONN_DIR, uuid.uuid4().hex)
        os.makedirs(os.path.dirname(self.conn_dir), mode=0o700, exist_ok=True)
        os.makedirs(self.conn_dir, mode=0o700)
        conn_file = os.path.join(self.conn_dir, "conn.json")
        key = km.session.key if km is not None else uuid.uuid4().hex.encode()
        info = {
            "transport": "tcp",
            "ip": self.kernel_ip,
            "key": key.decode() if isinstance(key, bytes) else key,
            "signature_scheme": km.session.signature_scheme if km is not None else "hmac-sha256",
            "kernel_name": getattr(km, "kernel_name", ""),
            **{p: 0 for p in PORTS},
        }
        old = os.umask(0o077)
        try:
            jobfiles.write_json(conn_file, info)
        finally:
            os.umask(old)
        kwargs.pop("extra_arguments", None)
        cmd = [a.replace("{connection_file}", conn_file) for a in self.kernel_spec.argv]
        kwargs = await super().pre_launch(cmd=cmd, **kwargs)
        kwargs["conn_file"] = conn_file
        return kwargs

    def _kernel_env(self, env: dict[str, str]) -> dict[str, str]:
        """Only what the kernel needs; the batch system passes the rest of the environment."""
        out = {k: str(v) for k, v in (self.kernel_spec.env or {}).items()}
        if env.get("JPY_SESSION_NAME"):
            out["JPY_SESSION_NAME"] = env["JPY_SESSION_NAME"]
        return out

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        host = await self.host()
        conn_file = kwargs["conn_file"]
        if kwargs.get("resumed"):
            return await self._reconnect(conn_file)
        if self._restart_from is not None and self.job_id:
            return await self._relaunched(conn_file)
        spawner = await host.call(host.manager.get_spawner, self.backend)
        profile = await host.call(spawner.resolve_profile, self.profile or None)
        resources: dict[str, Any] = {}
        if "time_limit" not in normalize_resources(profile.get("resources") or {}):
            resources["time_limit"] = self.default_time_limit
        name = f"kernel {self.kernel_spec.display_name}"[:100]
        job = await host.call(
            host.manager.create_kernel_job,
            backend=self.backend,
            profile=profile["name"],
            argv=list(cmd),
            name=name,
            env=self._kernel_env(kwargs.get("env") or {}),
            resources=resources,
            cwd=kwargs.get("cwd") or None,
            client=host.client,
            server_grace=self.server_grace,
        )
        self.job_id = job.id
        self._exit_code = None
        if self.kernel_id:
            job_of_kernel[self.kernel_id] = job.id
            await host.call(
                host.manager.note_kernel,
                job.id,
                id=self.kernel_id,
                name=getattr(self.parent, "kernel_name", ""),
                conn_file=conn_file,
                resumable=True,  # SLURM: ports in conn.json; a pod: its IP from the watch
            )
        self.log.info("jupyter-jobs: kernel %s runs as job %s", self.kernel_id, job.id)
        try:
            if k8s.addresses_kernels(spawner):
                # a pod: fixed ports, the key in a Secret, the IP from the spawner's watch
                probe = k8s.PodProbe(spawner)
                info = await self._wait_until_up(probe, lambda: probe.waiting_for)
                info["signature_scheme"] = self._scheme(conn_file)
                self.connection_info = await self._connection_info(info, str(info["ip"]))
            else:
                info = await self._wait_until_up(_ConnFileProbe(conn_file), lambda: None)
                self.connection_info = await self._connection_info(info)
        except BaseException:
            await self._cancel()
            await self._release_pod()
            raise
        return self.connection_info

    async def _resumed_job(self) -> Job | None:
        """The running job of the kernel this provisioner takes up again, if it is one."""
        job_id = resuming.get(self.kernel_id or "")
        if not job_id:
            return None
        host = await self.host()
        try:
            job = cast("Job", await host.call(host.manager.get, job_id))
        except NotFound:
            return None
        return None if job.is_final else job

    async def _reconnect(self, conn_file: str) -> KernelConnectionInfo:
        """Connect to a kernel that kept running while no server held it: through the ports in
        its connection file (SLURM), or, in a pod, through the pod's IP as the spawner's watch
        sees it and the fixed ports (the key is in the connection file either way)."""
        saved = jobfiles.read_json(conn_file)
        if not isinstance(saved, dict) or not saved.get("key"):
            raise KernelLaunchError("the kernel's connection file is gone or incomplete")
        km = self.parent
        if km is not None:  # the kernel signs with the key it was started with
            km.session.key = str(saved["key"]).encode()
        if self.kernel_id:
            job_of_kernel[self.kernel_id] = str(self.job_id)
        spawner = await self._spawner_of_job()
        if spawner is not None and k8s.addresses_kernels(spawner):
            probe = k8s.PodProbe(spawner)
            info = await self._wait_until_up(probe, lambda: probe.waiting_for)
            info["signature_scheme"] = saved.get("signature_scheme") or "hmac-sha256"
            self.connection_info = await self._connection_info(info, str(info["ip"]))
        else:
            if not ports_ready(saved):
                raise KernelLaunchError("the kernel's connection file is gone or incomplete")
            self.connection_info = await self._connection_info(saved)
        if km is not None:
            # a killed server left the kernel's connection file in the runtime dir: the kernel
            # manager takes this information as it is, whatever that file says
            km.load_connection_info(self.connection_info)
        return self.connection_info

    async def _spawner_of_job(self) -> Any:
        job = await self._job()
        if job is None:
            return None
        host = await self.host()
        return await host.call(host.manager.get_spawner, job.backend)

    async def _relaunched(self, conn_file: str) -> KernelConnectionInfo:
        """The kernel restarted inside its job: the same ports answer again."""
        try:
            info = await self._wait_until_up(
                _ConnFileProbe(conn_file, restarted=True), lambda: None
            )
            self.connection_info = await self._connection_info(info)
        except BaseException:
            self._restart_from = None
            await self._cancel()
            raise
        self._restart_from = None
        self.log.info(
            "jupyter-jobs: kernel %s restarted inside job %s", self.kernel_id, self.job_id
        )
        return self.connection_info

    @staticmethod
    def _scheme(conn_file: str) -> str:
        info = jobfiles.read_json(conn_file)
        return str((info or {}).get("signature_scheme") or "hmac-sha256")

    async def _wait_until_up(
        self, probe: Callable[[Job | None], Awaitable[dict[str, Any] | None]], waiting: Any
    ) -> dict[str, Any]:
        """Wait until ``probe`` finds the kernel listening; fail with the log tail, or after
        ``launch_timeout`` cancel the job and say why (the queue reason, what was awaited)."""
        start = time.monotonic()
        while True:
            job = await self._job()
            info = await probe(job)
            if info is not None:
                return info
            job = await self._job()
            if job is None or job.is_final or self._exit_of(job) is not None:
                raise KernelLaunchError(self._failure_message(job))
            if time.monotonic() - start > self.launch_timeout:
                reason = job.reason or job.status
                ref = f" {job.backend_ref}" if job.backend_ref else ""
                detail = waiting() if job.status == RUNNING else None
                await self._cancel()
                raise KernelLaunchError(
                    f"the remote kernel's job{ref} did not start within {self.launch_timeout:g} s"
                    f" ({job.status}: {reason}{'; waiting for ' + detail if detail else ''});"
                    " it was cancelled. Try a smaller profile or try again later.",
                    503,
                )
            await asyncio.sleep(self.poll_interval)

    def _failure_message(self, job: Job | None) -> str:
        if job is None:
            return "the remote kernel's job disappeared before the kernel started"
        status = self._runner_status(job)
        why = job.reason or status.get("reason") or job.status
        tail = jobfiles.log_tail(job.job_dir)
        msg = (
            f"the remote kernel's job {job.backend_ref or job.id} ended before the kernel"
            f" started: {why}"
        )
        if tail:
            msg += f"\n--- last lines of the job's log ---\n{tail}"
        return msg

    async def _node_address(self) -> str:
        """Where the kernel listens: the job's node, resolved (SLURM names nodes)."""
        host = ""
        for _ in range(50):  # the runner writes its host before it starts the kernel
            job = await self._job()
            if job is not None:
                host = self._runner_status(job).get("host") or job.host or ""
            if host:
                break
            await asyncio.sleep(0.1)
        if not host:
            raise KernelLaunchError("the node of the remote kernel's job is unknown")
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, family=socket.AF_INET, type=socket.SOCK_STREAM
            )
        except OSError:
            return host  # zmq resolves names too
        return str(infos[0][4][0]) if infos else host

    async def _connection_info(
        self, info: dict[str, Any], address: str | None = None
    ) -> KernelConnectionInfo:
        """Where the server connects: the kernel's ``address`` (a pod IP) or its job's node,
        directly or through the SSH tunnel."""
        km = self.parent
        key = km.session.key if km is not None else str(info.get("key", "")).encode()
        conn: dict[str, Any] = {
            "transport": "tcp",
            "signature_scheme": info.get("signature_scheme", "hmac-sha256"),
            "key": key,
            **{p: int(info[p]) for p in PORTS},
        }
        bound = str(info.get("ip") or self.kernel_ip)
        node = address or await self._node_address()
        if not self.ssh_gateway:
            conn["ip"] = node if bound in ("0.0.0.0", "*", "") else bound
            return cast(KernelConnectionInfo, conn)
        remote = "127.0.0.1" if self.tunnel_via_node else node
        local_ports = tunnels.free_local_ports(len(PORTS))
        forwards, local = tunnels.plan_forwards(conn, remote, local_ports)
        argv = tunnels.tunnel_argv(self.ssh_gateway, forwards, options=list(self.ssh_options))
        self._tunnel = await tunnels.start_tunnel(argv, local_ports)
        return cast(KernelConnectionInfo, local)

    async def _cancel(self) -> None:
        job = await self._job()
        if job is None or job.is_final or job.status == CANCELLING:
            return
        if jobfiles.runner_final(self._runner_status(job)):
            return  # the kernel exited: the job ends by itself (scancel would be refused)
        try:
            host = await self.host()
            await host.call(host.manager.cancel, job.id)  # at any instant: it ends cancelled
        except Conflict:
            return  # already final
        except JobsError as e:
            self.log.warning("jupyter-jobs: cancelling kernel job %s: %s", job.id, e.message)
        except Exception as e:  # the extension stopped first; it cancelled kernel jobs
            self.log.debug("jupyter-jobs: cancelling kernel job %s: %s", job.id, e)

    async def _release_pod(self) -> None:
        job = await self._job()
        if job is None or not job.is_final:
            return
        try:
            host = await self.host()
            spawner = await host.call(host.manager.get_spawner, job.backend)
            if k8s.addresses_kernels(spawner):
                await host.call(spawner.cleanup, job)
        except Exception as e:  # the Job's TTL removes it later
            self.log.warning("jupyter-jobs: removing kernel job %s: %s", job.id, e)

    def _forget_job(self, code: int | None) -> None:
        self._exit_code = code

    async def cleanup(self, restart: bool = False) -> None:
        """Cancel the job if it still runs, stop the tunnel, remove the connection directory.

        A pod's Job is deleted even when the kernel ended by itself: its Secret holds the key.
        """
        if self._restart_from is None:
            await self._cancel()
            await self._release_pod()
        if self._tunnel is not None and self._tunnel.returncode is None:
            self._tunnel.kill()
            await self._tunnel.wait()
        self._tunnel = None
        if self._restart_from is not None:
            return  # the job, its connection file and our record of it stay for the restart
        if self.conn_dir:
            shutil.rmtree(self.conn_dir, ignore_errors=True)
            self.conn_dir = None
        if self.kernel_id and job_of_kernel.get(self.kernel_id) == self.job_id:
            if not restart:
                job_of_kernel.pop(self.kernel_id, None)
        self.job_id = None

    async def get_provisioner_info(self) -> dict[str, Any]:
        info = await super().get_provisioner_info()
        conn = dict(info.get("connection_info") or {})
        if isinstance(conn.get("key"), bytes):
            conn["key"] = conn["key"].decode()
        info["connection_info"] = conn
        info.update({"job_id": self.job_id, "backend": self.backend, "profile": self.profile})
        return info

    async def load_provisioner_info(self, provisioner_info: dict) -> None:
        info = dict(provisioner_info)
        conn = dict(info.get("connection_info") or {})
        if isinstance(conn.get("key"), str):
            conn["key"] = conn["key"].encode()
        info["connection_info"] = conn
        await super().load_provisioner_info(info)
        self.job_id = info.get("job_id")
        self.backend = info.get("backend") or self.backend
        self.profile = info.get("profile") or self.profile


class _ConnFileProbe:
    """Pull: ipykernel wrote its ports into the shared ``conn.json`` (SLURM). ``restarted``: the
    ports are known already; the kernel is up when they accept connections on its node."""

    def __init__(self, conn_file: str, restarted: bool = False):
        self.conn_file = conn_file
        self.restarted = restarted

    async def __call__(self, job: Job | None) -> dict[str, Any] | None:
        info = jobfiles.read_json(self.conn_file)
        if not ports_ready(info):
            return None
        if self.restarted:
            status = jobfiles.read_status(job.job_dir) if job is not None else None
            host = (status or {}).get("host") or (job.host if job else None)
            if not host or not await k8s.ports_open(str(host), [int(info[p]) for p in PORTS]):
                return None
        return info
