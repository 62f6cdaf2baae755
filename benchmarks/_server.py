"""Helpers shared by the benchmarks: a real ``jupyter server`` subprocess and small async clients.

:class:`ServerProcess` starts ``python -m jupyter_server`` with the jupyter_jobs extension on a free
port, in a temporary root and job root (or given ones), with its own Jupyter config/data/runtime
directories so nothing leaks into the user's. Extra traitlets config is a plain dict, e.g.
``{"LocalSpawner": {"poll_interval": 0.5}}`` or ``{"JobManager": {"enabled_backends": ["slurm"]}}``,
so the SLURM and Kubernetes benchmarks can reuse it.

The clients use tornado (a jupyter_server dependency): :func:`request` for REST calls and
:class:`EventStream` for jupyter_server's ``/api/events/subscribe`` websocket, which timestamps each
frame the moment it arrives. :class:`RssSampler` follows a process's memory from a thread.
:class:`Row` and :func:`print_table` print the table every benchmark ends with: metric, ours,
baseline, ratio, added, target, met?.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable

import psutil
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

JOB_SCHEMA = "https://events.jupyter.org/jupyter_jobs/job/v1"
FINAL = frozenset({"completed", "failed", "cancelled", "lost"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class ServerError(RuntimeError):
    pass


class ServerProcess:
    """A real Jupyter server with jupyter_jobs in a subprocess; a context manager.

    ``python`` is the interpreter that runs it (another virtualenv's, to compare with another
    extension) and ``extensions`` the server extensions it enables (default: jupyter_jobs).

    ``workdir`` holds ``root/`` (the server's root_dir unless ``root_dir`` is given), ``job-root/``,
    the Jupyter dirs and ``server.log``; a temporary one is made (and removed) when not given.
    """

    def __init__(
        self,
        *,
        config: dict[str, dict[str, Any]] | None = None,
        root_dir: str | None = None,
        job_root: str | None = None,
        workdir: str | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
        python: str = sys.executable,
        extensions: dict[str, bool] | None = None,
    ):
        self._own_workdir = workdir is None
        self.workdir = os.path.abspath(workdir or tempfile.mkdtemp(prefix="jupyter-jobs-bench-"))
        self.root_dir = os.path.abspath(root_dir or os.path.join(self.workdir, "root"))
        self.job_root = os.path.abspath(job_root or os.path.join(self.workdir, "job-root"))
        self.config = config or {}
        self.extra_env = env or {}
        self.startup_timeout = startup_timeout
        self.python = python
        self.extensions = {"jupyter_jobs": True} if extensions is None else extensions
        self.token = uuid.uuid4().hex
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(self.workdir, "server.log")

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def http_url(self, path: str) -> str:
        return self.url + path.lstrip("/")

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}/" + path.lstrip("/")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def rss(self) -> int:
        """Resident memory of the server process, in bytes."""
        return int(psutil.Process(self.pid).memory_info().rss)

    # ------------------------------------------------------------------ lifecycle

    def _write_config(self, config_dir: str) -> None:
        config: dict[str, dict[str, Any]] = {
            "ServerApp": {
                "jpserver_extensions": dict(self.extensions),
                "root_dir": self.root_dir,
                "open_browser": False,
                "allow_root": True,
                "ip": "127.0.0.1",
                "port_retries": 0,
            },
            "IdentityProvider": {"token": self.token},
            "JobsApp": {"job_root": self.job_root},
        }
        for section, values in self.config.items():
            config.setdefault(section, {}).update(values)
        with open(os.path.join(config_dir, "jupyter_server_config.json"), "w") as f:
            json.dump(config, f, indent=1)

    def start(self) -> ServerProcess:
        for d in ("config", "data", "runtime"):
            os.makedirs(os.path.join(self.workdir, d), exist_ok=True)
        os.makedirs(self.root_dir, exist_ok=True)
        os.makedirs(self.job_root, mode=0o700, exist_ok=True)
        self._write_config(os.path.join(self.workdir, "config"))
        env = dict(os.environ)
        env.update(
            {
                "JUPYTER_CONFIG_DIR": os.path.join(self.workdir, "config"),
                "JUPYTER_DATA_DIR": os.path.join(self.workdir, "data"),
                "JUPYTER_RUNTIME_DIR": os.path.join(self.workdir, "runtime"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        for attempt in range(3):  # the free port may be taken between bind and listen
            self.port = free_port()
            argv = [self.python, "-m", "jupyter_server", f"--ServerApp.port={self.port}"]
            log = open(self.log_path, "ab")
            try:
                self.proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.root_dir,
                    env=env,
                    start_new_session=True,
                )
            finally:
                log.close()
            try:
                self._wait_ready()
                return self
            except ServerError:
                self._terminate()
                if attempt == 2 or "already in use" not in self.log_tail():
                    raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        req = urllib.request.Request(self.http_url("api/status"), headers=self.headers)
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise ServerError(
                    f"jupyter server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise ServerError(
            f"jupyter server not ready after {self.startup_timeout}s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def _terminate(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        self._terminate()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# ---------------------------------------------------------------------- clients


async def request(
    server: ServerProcess, method: str, path: str, body: Any = None, *, expect: int | None = None
) -> tuple[int, Any, dict[str, str]]:
    """One REST call; returns (status code, decoded JSON body or text or None, headers)."""
    payload = None
    headers = dict(server.headers)
    if body is not None:
        payload = body if isinstance(body, (str, bytes)) else json.dumps(body)
        headers["Content-Type"] = "application/json"
    elif method in ("POST", "PUT", "PATCH"):
        payload = b""
    req = HTTPRequest(
        server.http_url(path),
        method=method,
        body=payload,
        headers=headers,
        request_timeout=120,
    )
    try:
        r = await AsyncHTTPClient().fetch(req, raise_error=False)
    except HTTPClientError as e:  # pragma: no cover - raise_error=False covers HTTP errors
        raise ServerError(str(e)) from e
    text = r.body.decode("utf-8", "replace") if r.body else ""
    data: Any = None
    if "json" in r.headers.get("Content-Type", ""):
        data = json.loads(text) if text else None
    elif text:
        data = text
    if expect is not None and r.code != expect:
        raise ServerError(f"{method} {path}: expected {expect}, got {r.code}: {text[:500]}")
    return r.code, data, dict(r.headers)


async def ws_connect(
    server: ServerProcess,
    path: str,
    on_message: Callable[[str | bytes | None], None] | None = None,
    max_message_size: int = 64 << 20,
) -> WebSocketClientConnection:
    req = HTTPRequest(server.ws_url(path), headers=server.headers)
    return await websocket_connect(
        req, on_message_callback=on_message, max_message_size=max_message_size
    )


def kernel_request(msg_type: str, content: dict[str, Any]) -> tuple[str, str]:
    """(msg_id, JSON text frame) of a shell request on a kernel websocket (jupyter_server's
    JSON protocol)."""
    msg_id = uuid.uuid4().hex
    frame = {
        "header": {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "username": "bench",
            "session": uuid.uuid4().hex,
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": "shell",
    }
    return msg_id, json.dumps(frame)


async def ws_execute(
    server: ServerProcess, kernel_id: str, code: str, timeout: float = 60.0
) -> str:
    """Run ``code`` in a kernel through the server's kernel websocket (as JupyterLab does);
    returns what it printed plus its result (``text/plain``). Retries the request while the kernel
    does not answer yet (just started or just taken up again)."""
    ws = await ws_connect(server, f"api/kernels/{kernel_id}/channels")
    try:
        deadline = time.monotonic() + timeout
        while True:
            msg_id, frame = kernel_request(
                "execute_request",
                {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                 "allow_stdin": False},
            )  # fmt: skip
            await ws.write_message(frame)
            out: list[str] = []
            try:
                while True:
                    raw = await asyncio.wait_for(ws.read_message(), 5.0)
                    if raw is None:
                        raise ServerError("the kernel websocket closed")
                    msg = json.loads(raw)
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    kind, content = msg.get("msg_type"), msg.get("content", {})
                    if kind == "stream":
                        out.append(content["text"])
                    elif kind == "execute_result":
                        out.append(content["data"]["text/plain"])
                    elif kind == "error":
                        out.append(f"{content['ename']}: {content['evalue']}")
                    elif kind == "status" and content.get("execution_state") == "idle":
                        return "".join(out)
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    raise
    finally:
        ws.close()


class EventStream:
    """Job events from ``/api/events/subscribe``, each stamped with ``time.monotonic()`` on arrival.

    jupyter_server sends each event as one JSON text frame: ``{"schema_id": ..., **data}`` (the
    event data flattened next to ``schema_id``; a ``data`` object is accepted too).
    """

    def __init__(self, server: ServerProcess):
        self.server = server
        self.conn: WebSocketClientConnection | None = None
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future]] = []

    async def __aenter__(self) -> EventStream:
        self.conn = await ws_connect(self.server, "api/events/subscribe", self._on_message)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.conn is not None:
            self.conn.close()

    def _on_message(self, message: str | bytes | None) -> None:
        t = time.monotonic()
        if message is None:
            for _, fut in self._waiters:
                if not fut.done():
                    fut.set_exception(ServerError("the events websocket closed"))
            return
        frame = json.loads(message)
        if frame.get("schema_id") != JOB_SCHEMA:
            return
        data = frame["data"] if isinstance(frame.get("data"), dict) else frame
        self.events.append((t, data))
        for match, fut in list(self._waiters):
            if not fut.done() and match(data):
                fut.set_result((t, data))
                self._waiters.remove((match, fut))

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 120.0
    ) -> tuple[float, dict[str, Any]]:
        """(arrival time, event data) of the first event — already received or coming — that
        ``match`` accepts."""
        for t, data in self.events:
            if match(data):
                return t, data
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append((match, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise ServerError(f"no matching job event within {timeout}s") from None

    async def wait_final(self, job_id: str, timeout: float = 120.0) -> tuple[float, dict[str, Any]]:
        """The ``updated`` event that brings ``job_id`` to a final status."""
        return await self.wait_for(
            lambda d: (
                d.get("job_id") == job_id
                and d.get("action") == "updated"
                and d.get("status") in FINAL
            ),
            timeout,
        )

    def forget(self, job_id: str) -> None:
        """Drop the kept events of a job (long runs would keep them all)."""
        self.events = [(t, d) for t, d in self.events if d.get("job_id") != job_id]


class RssSampler:
    """Samples a process's RSS every ``interval`` s in a thread (so a busy event loop cannot hide a
    peak); a context manager. ``peak - first`` is the growth while it ran."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.process = psutil.Process(pid)
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(int(self.process.memory_info().rss))
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.samples.append(int(self.process.memory_info().rss))
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(psutil.Error):
            self.samples.append(int(self.process.memory_info().rss))

    @property
    def first(self) -> int:
        return self.samples[0]

    @property
    def peak(self) -> int:
        return max(self.samples)

    @property
    def growth(self) -> int:
        return self.peak - self.first


# ---------------------------------------------------------------------- report


@dataclasses.dataclass
class Row:
    """One line of the result table (lower is better); ``target`` bounds the ``checked`` figure."""

    key: str
    metric: str
    ours: float
    baseline: float
    unit: str
    target: float | None  # None: compared, not targeted
    checked: str  # "ours" or "added": which figure the target bounds
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def added(self) -> float:
        return self.ours - self.baseline

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        value = self.added if self.checked == "added" else self.ours
        return value <= self.target

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["target_applies_to"] = d.pop("checked")
        return {**d, "added": self.added, "ratio": self.ratio, "met": self.met}


def fmt(value: float, unit: str) -> str:
    return f"{value:.1f} {unit}"


def report(rows: list[Row], json_path: str | None = None) -> None:
    """Print the result table; also write the rows as JSON to ``json_path`` when given."""
    print_table(rows)
    if json_path:
        with open(json_path, "w") as f:
            json.dump([r.as_dict() for r in rows], f, indent=1)


def print_table(rows: list[Row], out=sys.stdout) -> None:
    header = ["", "metric", "ours", "baseline", "ratio", "added", "target", "met?"]
    lines = [header]
    for r in rows:
        target = "-"
        if r.target is not None:
            target = f"{'added' if r.checked == 'added' else 'ours'} <= {r.target:g} {r.unit}"
        lines.append(
            [
                f"({r.key})",
                r.metric,
                fmt(r.ours, r.unit),
                fmt(r.baseline, r.unit),
                f"{r.ratio:.2f}x",
                f"{r.added:+.1f} {r.unit}",
                target,
                {True: "yes", False: "NO", None: "-"}[r.met],
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    sep = "+".join("-" * (w + 2) for w in widths)
    for n, line in enumerate(lines):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |", file=out)
        if n == 0:
            print("|" + sep + "|", file=out)
    for r in rows:
        for note in r.notes:
            print(f"  ({r.key}) {note}", file=out)
