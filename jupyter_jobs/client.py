"""A small synchronous client of the jupyter-jobs REST API, for the CLI and for notebooks.

It finds the running Jupyter server through its runtime files (``jpserver-*.json``), as
``jupyter server list`` does, or takes ``url``/``token`` (``$JUPYTER_JOBS_URL``/``$..._TOKEN``)::

    import jupyter_jobs
    job = jupyter_jobs.submit("train.py", args=["--epochs", "3"], resources={"cpus": 2})
    for text in job.follow():
        print(text, end="")
    print(job.status, job.exit_code)

Only the standard library is used for HTTP (``urllib``); following a log live uses the log
websocket (``tornado``, already a dependency of jupyter_server) and falls back to polling.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shlex
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any, Optional

from ._follow import follow
from .api_paths import API_PREFIX
from .client_errors import RECONNECT_PATIENCE, JobsClientError, JobsTimeout, ServerNotFound
from .client_errors import transient as _transient
from .models import FINAL_STATUSES  # light: models imports nothing from the server
from .results import rows_as_dicts as _rows_as_dicts

LOG_CHUNK = 1 << 20  # bytes per GET jobs/{id}/log
ENV_URL = "JUPYTER_JOBS_URL"
ENV_TOKEN = "JUPYTER_JOBS_TOKEN"
ENV_ROOT = "JUPYTER_JOBS_ROOT_DIR"
Query = Optional[dict[str, Any]]


# ------------------------------------------------------------------------------- discovery


def _is_within(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True


def running_servers(runtime_dir: str | None = None) -> list[dict[str, Any]]:
    """The running Jupyter servers (their ``jpserver-*.json`` runtime files), newest first.

    Reads the files ``jupyter_server.serverapp.list_running_servers`` reads, with the same
    live-pid check, without importing the server (1-2 s): the CLI answers at once. Unlike that
    function it never deletes a stale file; the server that wrote it does that.
    """
    from jupyter_core.paths import jupyter_runtime_dir

    runtime_dir = runtime_dir or jupyter_runtime_dir()
    try:
        names = [n for n in os.listdir(runtime_dir) if re.fullmatch(r"jpserver-.+\.json", n)]
    except OSError:
        return []
    servers = []
    for name in names:
        path = os.path.join(runtime_dir, name)
        try:
            with open(path, encoding="utf-8") as f:
                info = json.load(f)
            mtime = os.stat(path).st_mtime
        except (OSError, ValueError):  # gone, or being written right now
            continue
        if isinstance(info, dict) and isinstance(info.get("pid"), int) and _pid_alive(info["pid"]):
            servers.append((mtime, info))
    servers.sort(key=lambda pair: pair[0], reverse=True)
    return [info for _mtime, info in servers]


def find_server(
    cwd: str | None = None, runtime_dir: str | None = None, *, path: str | None = None
) -> dict[str, Any]:
    """The newest running server whose ``root_dir`` contains ``path`` (a file to run), or else
    ``cwd`` (default: the current dir; its server then says that the file is outside its root);
    with no ``path`` (a command about jobs) and one server running, that server from anywhere.

    The message when none does names only the directory asked about: other servers' folders
    may be other people's (a shared machine) and are no help in finding this one.
    """
    cwd = os.path.realpath(cwd or os.getcwd())
    where = os.path.realpath(os.path.join(cwd, os.path.expanduser(path))) if path else cwd
    servers = [s for s in running_servers(runtime_dir) if s.get("url") and not s.get("sock")]
    if not servers:
        raise ServerNotFound(
            "no running Jupyter server found. Start one (`jupyter lab` or `jupyter server`), or "
            f"give its address with --url/--token (or {ENV_URL}/{ENV_TOKEN})."
        )
    for place in dict.fromkeys([where, cwd]):
        for info in servers:
            root = info.get("root_dir") or info.get("notebook_dir")
            if root and _is_within(place, os.path.realpath(root)):
                return info
    if path is None and len(servers) == 1:
        # no file to run (list, show, logs, cancel ...): your one running server, from anywhere
        return servers[0]
    folder = where if path is None or os.path.isdir(where) else os.path.dirname(where)
    several = (
        f" {len(servers)} servers run, none of them for this directory: run the command in the"
        " root directory of the one you mean, or"
        if path is None
        else ""
    )
    raise ServerNotFound(
        f"no running Jupyter server serves {where}.{several} Start one whose root directory"
        f" contains it (`jupyter lab --notebook-dir={shlex.quote(folder)}`), or give a server's"
        f" address with --url/--token (or {ENV_URL}/{ENV_TOKEN})."
    )


def _split_token(url: str) -> tuple[str, str | None]:
    """``http://h:8888/user/me/lab/tree/x?token=abc`` → (``http://h:8888/user/me/``, ``abc``):
    a URL pasted from the browser works."""
    parts = urllib.parse.urlsplit(url)
    token = urllib.parse.parse_qs(parts.query).get("token", [None])[0]
    segs = parts.path.strip("/").split("/") if parts.path.strip("/") else []
    cut = next(  # JupyterLab: {base}lab, {base}lab/tree/..., {base}lab/workspaces/...
        (i for i, seg in enumerate(segs)
         if seg == "lab" and (segs[i + 1 : i + 2] or ["tree"])[0] in ("tree", "workspaces", "doc")),
        None,
    )  # fmt: skip
    if cut is None:  # the classic UI: {base}tree/..., {base}notebooks/...
        cut = next((i for i, seg in enumerate(segs) if seg in ("tree", "notebooks", "edit")), None)
    path = "/" + "".join(seg + "/" for seg in segs[:cut])
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", "")), token


# ---------------------------------------------------------------------------------- client


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """A request body: the fields that were given (not None)."""
    return {key: value for key, value in fields.items() if value is not None}


class JobsClient:
    """Talks to one Jupyter server's jupyter-jobs API.

    Without ``url``, ``$JUPYTER_JOBS_URL`` is used, else the running server whose root directory
    contains ``path`` (the file about to be submitted), or else the current directory.
    ``root_dir`` (the server's root, for turning local paths into server paths) comes from the
    runtime file; give it (or ``$JUPYTER_JOBS_ROOT_DIR``) together with an explicit URL to submit
    absolute local paths.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        root_dir: str | None = None,
        timeout: float = 30.0,
        path: str | None = None,
    ):
        url = url or os.environ.get(ENV_URL) or None
        token = token if token is not None else os.environ.get(ENV_TOKEN)
        root_dir = root_dir or os.environ.get(ENV_ROOT) or None
        if url:
            url, url_token = _split_token(url)
            token = token if token is not None else url_token
            if root_dir is None:
                root_dir = self._root_for_url(url)
        else:
            info = find_server(path=path)
            url = info["url"]
            token = token if token is not None else info.get("token")
            root_dir = root_dir or info.get("root_dir")
        if not url.endswith("/"):
            url += "/"
        self.url: str = url
        self.token: str | None = token or None
        self.root_dir: str | None = os.path.abspath(root_dir) if root_dir else None
        self.timeout = timeout

    @staticmethod
    def _root_for_url(url: str) -> str | None:
        """The root of a local server with this URL, when a runtime file tells it."""
        try:
            servers = running_servers()
        except Exception:  # discovery is a convenience here, never an error
            return None
        for info in servers:
            if (info.get("url") or "").rstrip("/") == url.rstrip("/"):
                return info.get("root_dir")
        return None

    def __repr__(self) -> str:
        return f"JobsClient({self.url!r}, root_dir={self.root_dir!r})"

    # -- HTTP ------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX + "/"

    def headers(self) -> dict[str, str]:
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"token {self.token}"
        return h

    def request_raw(self, method: str, path: str, *, query: Query = None, body: Any = None):
        """One request to ``{api}/{path}``; answers (status, headers, body) or raises."""
        url = self.api_url + path
        q = {k: v for k, v in (query or {}).items() if v is not None}
        if q:
            url += "?" + urllib.parse.urlencode(q)
        headers = self.headers()
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as e:
            raise self._http_error(e, method, path) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ServerNotFound(
                f"cannot reach the Jupyter server at {self.url}: {reason}. Is it still running?"
            ) from None

    def _http_error(self, e: urllib.error.HTTPError, method: str, path: str) -> JobsClientError:
        try:
            payload = json.loads(e.read() or b"null")
        except ValueError:  # an HTML error page
            payload = None
        payload = payload if isinstance(payload, dict) else {}
        message, field = payload.get("message"), payload.get("field")
        if e.code in (401, 403) and message in (None, "", "Forbidden", "Unauthorized"):
            message = (
                f"the Jupyter server at {self.url} refused the request ({e.code} {e.reason}): "
                f"give its token with --token or {ENV_TOKEN}"
            )
        elif e.code == 404 and not message:
            message = (
                f"the Jupyter server at {self.url} has no jupyter-jobs API; is the extension "
                "enabled? (jupyter server extension enable jupyter_jobs)"
            )
        elif not message:
            message = f"{method} {path}: {e.code} {e.reason}"
        return JobsClientError(str(message), status=e.code, field=field)

    def request(self, method: str, path: str, *, query: Query = None, body: Any = None) -> Any:
        """A JSON request; answers the decoded JSON (None for an empty answer)."""
        _status, _headers, raw = self.request_raw(method, path, query=query, body=body)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise JobsClientError(f"{method} {path}: the server answered something not JSON")

    # -- paths -----------------------------------------------------------------------------

    def server_path(self, local: str, what: str = "path") -> str:
        """A local file path → the same file as a path relative to the server's root_dir.

        Refuses a path outside the root: the server cannot (and must not) reach it.
        """
        if self.root_dir is None:
            if os.path.isabs(local):
                raise JobsClientError(
                    f"{what} {local!r} is absolute but the server's root directory is unknown; "
                    f"give it with --root-dir (or {ENV_ROOT}), or use a path relative to it",
                    field=what,
                )
            return local.replace(os.sep, "/")
        full = os.path.abspath(os.path.join(os.getcwd(), os.path.expanduser(local)))
        # lexically first (keeps a symlink's own name), then resolved; the server checks again
        for path in (full, os.path.realpath(full)):
            for root in (self.root_dir, os.path.realpath(self.root_dir)):
                if _is_within(path, root):
                    rel = os.path.relpath(path, root)
                    return "" if rel == "." else rel.replace(os.sep, "/")
        raise JobsClientError(
            f"{what} {local!r}{'' if full == local else f' ({full})'} is outside the Jupyter"
            f" server's root directory "
            f"{self.root_dir}; the server can only run files under it",
            field=what,
        )

    def default_cwd(self) -> str | None:
        """The current directory as a server path, or None when it is outside the root."""
        try:
            return self.server_path(os.getcwd(), "cwd") if self.root_dir else None
        except JobsClientError:
            return None

    # -- API -------------------------------------------------------------------------------

    def job_ids(self, jobs: Sequence[Job | str] | Job | str | None) -> list[str] | None:
        """Full ids of jobs given as Jobs, ids or unique id prefixes (None: none given)."""
        if jobs is None:
            return None
        if isinstance(jobs, (Job, str)):
            jobs = [jobs]
        out = []
        for j in jobs:
            if isinstance(j, Job):
                out.append(j.id)
            elif isinstance(j, str) and re.fullmatch(r"[0-9a-f]{32}", j.strip()):
                out.append(j.strip())
            elif isinstance(j, str):
                out.append(self.job(j).id)  # a prefix: the one job it names
            else:
                raise JobsClientError(f"after: {j!r} is not a job or a job id", field="after")
        return out

    def what_to_run(
        self,
        path: str | None,
        command: Sequence[str] | None,
        args: Sequence[str],
        cwd: str | None,
    ) -> dict[str, Any]:
        """The ``path``/``command``/``args``/``cwd`` fields of a job, a sweep or a definition:
        exactly one of a path or a command (argv lists), local paths made server paths."""
        if (path is None) == (command is None):
            raise JobsClientError("give either a path or a command", field="path")
        if isinstance(args, str) or isinstance(command, str):
            raise JobsClientError("args and command are lists of strings (argv), not one string")
        return {
            "path": None if path is None else self.server_path(os.fspath(path), "path"),
            "command": None if command is None else [str(c) for c in command],
            "args": [str(a) for a in args] or None,
            "cwd": self.server_path(os.fspath(cwd), "cwd") if cwd else self.default_cwd(),
        }

    def paged_jobs(self, query: dict[str, Any], limit: int | None) -> list[Job]:
        """Jobs matching ``query``, newest first: at most ``limit`` (all when None), following
        ``next_cursor``."""
        out: list[Job] = []
        cursor = None
        while True:
            size = min(1000, limit - len(out)) if limit is not None else 1000  # the server's max
            page = self.request("GET", "jobs", query={**query, "limit": size, "cursor": cursor})
            out.extend(Job(self, d) for d in page.get("jobs", []))
            cursor = page.get("next_cursor")
            if not cursor or (limit is not None and len(out) >= limit):
                return out[:limit] if limit is not None else out

    def backends(self) -> dict[str, Any]:
        """``GET backends``: ``{"backends": [...], "default_backend": name}``."""
        return self.request("GET", "backends")

    def submit(
        self,
        path: str | None = None,
        *,
        command: Sequence[str] | None = None,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        name: str | None = None,
        backend: str | None = None,
        profile: str | None = None,
        resources: dict[str, Any] | None = None,
        parameters: dict[str, Any] | None = None,
        cwd: str | None = None,
        kind: str | None = None,
        after: Sequence[Job | str] | Job | str | None = None,
        when: str | None = None,
        output_formats: Sequence[str] | None = None,
        report: dict[str, Any] | None = None,
        notify: dict[str, Any] | None = None,
        extra_files: Sequence[str] | None = None,
    ) -> Job:
        """Submit a script/notebook (``path``, a local path under the server root) or a command.

        Issue 12: ``output_formats=["ipynb", "html"]`` adds an HTML report to a notebook job
        (``report={"no_input": True}`` hides the code); ``notify={"on": "failure", "email":
        [...], "webhook": "https://..."}``; ``extra_files``: local paths under the root copied
        with the job's file (docs/CONTRACT.md, "Pinned inputs", "Reports", "Notifications").

        ``cwd`` defaults to the current directory (when under the root), as if the command were
        run here; ``parameters`` are injected into a notebook's ``parameters`` cell (papermill).
        ``after``: jobs (or ids, or unique id prefixes) this one waits for; ``when``: how they
        must end for it to start — ``"ok"`` (the default), ``"any"`` or ``"failed"``.
        """
        given = {
            **self.what_to_run(path, command, args, cwd),
            **dict(env=env, name=name, backend=backend, profile=profile, kind=kind),
            **dict(resources=resources, parameters=parameters),
            "after": self.job_ids(after),
            "when": when,
            "output_formats": None if output_formats is None else list(output_formats),
            "report": report,
            "notify": notify,
            "extra_files": None
            if extra_files is None
            else [self.server_path(os.fspath(f), "extra_files") for f in extra_files],
        }
        return Job(self, self.request("POST", "jobs", body=_given(given)))

    def sweep(
        self,
        path: str | None = None,
        *,
        grid: dict[str, Sequence[Any]] | None = None,
        parameter_sets: Sequence[dict[str, Any]] | None = None,
        throttle: int | None = None,
        parameters_as: str | None = None,
        command: Sequence[str] | None = None,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        name: str | None = None,
        backend: str | None = None,
        profile: str | None = None,
        resources: dict[str, Any] | None = None,
        parameters: dict[str, Any] | None = None,
        cwd: str | None = None,
        after: Sequence[Job | str] | Job | str | None = None,
        when: str | None = None,
    ) -> Job:
        """Submit a sweep: one run of ``path`` (or ``command``) per combination of ``grid``
        (``{"alpha": [0.1, 0.5], "seed": [0, 1]}``) or per set of ``parameter_sets``, at most
        ``throttle`` at once. A notebook gets each set in its parameters cell; a script as
        ``--name value`` arguments (``parameters_as="args"``) or ``JJ_PARAM_name`` variables
        (``"env"``). ``after``/``when``: as for :meth:`submit`, the whole sweep waits (no child
        starts before). The answer is the sweep's Job (``data["children"]``; ``results()`` is
        one dict per child)."""
        if (grid is None) == (parameter_sets is None):
            raise JobsClientError("give either a grid or parameter sets", field="grid")
        given = {
            **self.what_to_run(path, command, args, cwd),
            "grid": None if grid is None else {k: list(v) for k, v in grid.items()},
            "parameter_sets": None if parameter_sets is None else [dict(p) for p in parameter_sets],
            **dict(throttle=throttle, parameters_as=parameters_as, env=env, name=name),
            **dict(backend=backend, profile=profile, resources=resources, parameters=parameters),
            "after": self.job_ids(after),
            "when": when,
        }
        return Job(self, self.request("POST", "jobs", body=_given(given)))

    def jobs(self, status: str | None = None, backend: str | None = None, limit: int | None = None):
        """Jobs, newest first: at most ``limit`` (all when None), following ``next_cursor``."""
        return self.paged_jobs({"status": status, "backend": backend}, limit)

    def job(self, job_id: str) -> Job:
        """The job with this id, or with this unique id prefix (``jupyter jobs list`` shows 8)."""
        job_id = job_id.strip()
        if not job_id:
            raise JobsClientError("a job id is needed", field="id")
        try:
            return Job(self, self.request("GET", "jobs/" + urllib.parse.quote(job_id, safe="")))
        except JobsClientError as e:
            if e.status not in (400, 404):
                raise
            # one request: the jobs whose id starts with it (sweep runs included)
            query = urllib.parse.urlencode({"id": job_id, "limit": 6})
            try:
                matches = [Job(self, j) for j in self.request("GET", "jobs?" + query)["jobs"]]
            except JobsClientError as e2:
                if e2.status != 400:  # 400: no job id starts so (letters it cannot have)
                    raise
                matches = []
            if len(matches) == 1:
                return matches[0]
            if matches:
                ids = ", ".join(j.id for j in matches[:5])
                raise JobsClientError(
                    f"job id {job_id!r} is ambiguous: {ids}", status=404, field="id"
                ) from None
            raise JobsClientError(f"no job {job_id!r}", status=404, field="id") from None

    def contents(self, path: str) -> dict[str, Any]:
        """Jupyter's contents API (``GET api/contents/{path}``): a notebook's model with its
        ``content``; ``path`` is a server path (relative to the root)."""
        quoted = urllib.parse.quote(path.strip("/"), safe="/")
        url = f"{self.url}api/contents/{quoted}?type=notebook&content=1"
        req = urllib.request.Request(url, headers=self.headers(), method="GET")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise JobsClientError(
                    f"{path} is not there any more (moved or deleted?)", status=404, field="path"
                ) from None
            raise self._http_error(e, "GET", f"api/contents/{path}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ServerNotFound(
                f"cannot reach the Jupyter server at {self.url}: {reason}. Is it still running?"
            ) from None
        except ValueError:
            raise JobsClientError(f"{path}: the server answered something not JSON") from None

    def read_log(self, job_id: str, offset: int = 0, limit: int = LOG_CHUNK) -> tuple[bytes, int]:
        """Bytes of ``output.log`` from ``offset`` (at most ``limit``) and the log's size."""
        _s, headers, raw = self.request_raw(
            "GET", f"jobs/{job_id}/log", query={"offset": offset, "limit": limit}
        )
        size = {k.lower(): v for k, v in headers.items()}.get("x-log-size")
        return raw, int(size) if size and size.isdigit() else offset + len(raw)


# ------------------------------------------------------------------------------------ job


class Job:
    """A handle on one job. ``status`` asks the server; other attributes show the last answer."""

    def __init__(self, client: JobsClient, data: dict[str, Any]):
        self.client = client
        self.data: dict[str, Any] = data

    def __repr__(self) -> str:
        return f"<Job {self.id[:8]} {self.data.get('name')!r} {self.data.get('status')}>"

    id = property(lambda self: self.data["id"])
    name = property(lambda self: self.data.get("name"))
    kind = property(lambda self: self.data.get("kind"))
    backend = property(lambda self: self.data.get("backend"))
    exit_code = property(lambda self: self.data.get("exit_code"), doc="as of the last refresh")
    reason = property(lambda self: self.data.get("reason"))
    progress = property(lambda self: self.data.get("progress"))

    @property
    def status(self) -> str:
        """The job's status now (asks the server unless the job was already final)."""
        if self.data.get("status") not in FINAL_STATUSES:
            self.refresh()
        return self.data["status"]

    @property
    def outputs(self) -> list[str]:
        """Server paths of the job's outputs (e.g. the executed notebook)."""
        if self.data.get("status") not in FINAL_STATUSES:
            self.refresh()
        return list(self.data.get("outputs") or [])

    def refresh(self) -> Job:
        self.data = self.client.request("GET", f"jobs/{self.id}")
        return self

    def wait(self, timeout: float | None = None, poll: float = 0.5) -> Job:
        """Block until the job is final and return this Job (read ``status``, ``exit_code`` on it);
        raises :class:`JobsTimeout` after ``timeout`` seconds (the job keeps running)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        unreachable_since = None
        while True:
            try:
                if self.status in FINAL_STATUSES:
                    return self
                unreachable_since = None
            except JobsClientError as e:  # ride out a server restart: the job outlives it
                unreachable_since = unreachable_since or time.monotonic()
                if not _transient(e) or time.monotonic() - unreachable_since > RECONNECT_PATIENCE:
                    raise
            if deadline is not None and time.monotonic() >= deadline:
                raise JobsTimeout(f"job {self.id} still {self.data['status']} after {timeout} s")
            left = poll if deadline is None else deadline - time.monotonic()
            time.sleep(max(0.0, min(poll, left)))

    def log(self, offset: int = 0) -> str:
        """The job's output so far (stdout and stderr), from byte ``offset``."""
        chunks = []
        while True:
            data, size = self.client.read_log(self.id, offset)
            chunks.append(data)
            offset += len(data)
            if not data or offset >= size:
                return b"".join(chunks).decode("utf-8", errors="replace")

    def follow_bytes(self, offset: int = 0, poll: float = 0.5) -> Iterator[bytes]:
        """Yield the log as it grows, until the job is final and everything was read."""
        yield from follow(self.client, self, offset, poll)

    def follow(self, offset: int = 0, poll: float = 0.5) -> Iterator[str]:
        """Yield the log as text as it is written, until the job ends (then ``refresh``)."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for chunk in self.follow_bytes(offset, poll):
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def cancel(self) -> Job:
        self.data = self.client.request("POST", f"jobs/{self.id}/cancel")
        return self

    def rerun(self, **overrides: Any) -> Job:
        """Run the same job again (optionally with overrides such as ``resources``); a new Job.
        ``input="current"`` runs the file as it is now instead of the pinned copy the job ran."""
        data = self.client.request("POST", f"jobs/{self.id}/rerun", body=overrides)
        return Job(self.client, data)

    def delete(self) -> None:
        """Delete the job and its files (refused while it is active: cancel it first)."""
        self.client.request("DELETE", f"jobs/{self.id}")

    def usage(self) -> list[dict[str, Any]]:
        return self.client.request("GET", f"jobs/{self.id}/usage").get("samples", [])

    # -- results -------------------------------------------------------------------------

    def results_table(self) -> dict[str, Any]:
        """``GET jobs/{id}/results``: ``{"columns": [...], "rows": [[...]]}`` (one row for a run,
        one per child for a sweep; a running job's values as recorded so far)."""
        return self.client.request("GET", f"jobs/{self.id}/results")

    def results(self) -> dict[str, Any] | list[dict[str, Any]]:
        """What the run recorded with ``jupyter_jobs.record(...)``: ``{name: value}``.

        For a sweep, one dict per child (``index``, ``id``, ``status``, ``duration_seconds``, its
        parameters and its values). While the job runs, the values recorded so far::

            job = jupyter_jobs.submit("train.py"); job.wait(); job.results()["loss"]
        """
        if self.kind == "sweep":
            return _rows_as_dicts(self.results_table())
        if self.status in FINAL_STATUSES:  # asks the server unless it knew the job final
            return dict(self.data.get("results") or {})
        rows = _rows_as_dicts(self.results_table())
        if not rows:
            return {}
        # one run: the recorded values are the columns after id, status, duration, parameters
        items = list(rows[0].items())
        skip = 3 + len(self.data.get("parameters") or {})
        earlier = {name for name, _ in items[:skip]}
        return {
            name[len("result.") :]
            if name.startswith("result.") and name[len("result.") :] in earlier
            else name: value
            for name, value in items[skip:]
        }

    def results_frame(self) -> Any:
        """The results table as a pandas DataFrame (one row; a sweep: one row per child).

        pandas is not a dependency of jupyter-jobs: install it (``pip install pandas``) to use
        this; :meth:`results` gives the same as plain dicts."""
        try:
            import pandas
        except ImportError as e:
            raise ImportError(
                "Job.results_frame() needs pandas, which is not installed here: pip install pandas"
                " (or use job.results(), which gives the same values as plain dicts)"
            ) from e
        table = self.results_table()
        return pandas.DataFrame(table.get("rows") or [], columns=table.get("columns") or [])

    def notebook(self) -> Any:
        """The executed notebook of a notebook job, as an ``nbformat`` NotebookNode (read through
        the server's contents API; while the job runs, the cells executed so far)."""
        if self.kind != "notebook":
            raise JobsClientError(
                f"job {self.id[:8]} is a {self.kind} job; only notebook jobs have an executed"
                " notebook",
                field="id",
            )
        outputs = [p for p in self.outputs if p.endswith(".ipynb")]
        nothing = JobsClientError(
            f"job {self.id[:8]} has no executed notebook"
            f" ({self.data.get('status')}: {self.data.get('reason') or 'nothing was written'})",
            status=404,
            field="id",
        )
        if not outputs:
            raise nothing
        import nbformat

        try:
            model = self.client.contents(outputs[0])
        except JobsClientError as e:
            if e.status != 404 or self.data.get("status") == "completed":
                raise
            raise nothing from None  # it ended (or waits) before writing one
        content = model.get("content")
        if not isinstance(content, dict):
            raise JobsClientError(f"{outputs[0]}: the server did not answer a notebook")
        return nbformat.from_dict(content)


# ------------------------------------------------------------------------- module helpers

_default: JobsClient | None = None


def default_client() -> JobsClient:
    """One client per process, found on first use."""
    global _default
    if _default is None:
        _default = JobsClient()
    return _default


def sweep(path: str | None = None, **kwargs: Any) -> Job:
    """Submit a sweep to the running Jupyter server; see :meth:`JobsClient.sweep`."""
    return default_client().sweep(path, **kwargs)


def submit(
    path: str | None = None,
    *,
    command: Sequence[str] | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    name: str | None = None,
    backend: str | None = None,
    profile: str | None = None,
    resources: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    cwd: str | None = None,
    kind: str | None = None,
    after: Sequence[Job | str] | Job | str | None = None,
    when: str | None = None,
    output_formats: Sequence[str] | None = None,
    report: dict[str, Any] | None = None,
    notify: dict[str, Any] | None = None,
    extra_files: Sequence[str] | None = None,
) -> Job:
    """Submit a job to the running Jupyter server; see :meth:`JobsClient.submit`. ``after``:
    jobs (or ids) to wait for; ``when``: ``"ok"`` (default), ``"any"`` or ``"failed"``."""
    return default_client().submit(
        path,
        command=command,
        args=args,
        env=env,
        name=name,
        backend=backend,
        profile=profile,
        resources=resources,
        parameters=parameters,
        cwd=cwd,
        kind=kind,
        after=after,
        when=when,
        output_formats=output_formats,
        report=report,
        notify=notify,
        extra_files=extra_files,
    )


def get(job_id: str) -> Job:
    """The job with this id (or unique id prefix)."""
    return default_client().job(job_id)


def list_jobs(status: str | None = None, limit: int | None = None) -> list[Job]:
    return default_client().jobs(status=status, limit=limit)


# ------------------------------------------------------------------ job definitions (issue 12)


class Definition:
    """A handle on one job definition (a saved job with a schedule; docs/cli.md)."""

    def __init__(self, client: JobsClient, data: dict[str, Any]):
        self.client = client
        self.data: dict[str, Any] = data

    def __repr__(self) -> str:
        state = "active" if self.data.get("active") else "paused"
        return (
            f"<Definition {self.id[:8]} {self.data.get('name')!r}"
            f" {self.data.get('schedule')!r} {self.data.get('timezone')} {state}>"
        )

    id = property(lambda self: self.data["id"])
    name = property(lambda self: self.data.get("name"))
    schedule = property(lambda self: self.data.get("schedule"))
    description = property(lambda self: self.data.get("schedule_description"))
    active = property(lambda self: bool(self.data.get("active")))
    next_run_at = property(lambda self: self.data.get("next_run_at"), doc="ISO UTC, or None")

    def _url(self, *more: str) -> str:
        return "/".join(["job-definitions", urllib.parse.quote(self.id, safe=""), *more])

    def refresh(self) -> Definition:
        self.data = self.client.request("GET", self._url())
        return self

    def update(self, **fields: Any) -> Definition:
        """Change fields (``schedule=``, ``timezone=``, ``overlap=``, job fields, ...)."""
        self.data = self.client.request("PATCH", self._url(), body=fields)
        return self

    def pause(self) -> Definition:
        return self.update(active=False)

    def resume(self) -> Definition:
        return self.update(active=True)

    def run(self) -> Job:
        """One run now, whatever the schedule says."""
        return Job(self.client, self.client.request("POST", self._url("run")))

    def delete(self) -> None:
        """Delete the definition (its runs stay)."""
        self.client.request("DELETE", self._url())

    def runs(self, limit: int | None = None) -> list[Job]:
        """The definition's runs, newest first."""
        return self.client.paged_jobs({"definition": self.id}, limit)


def schedule(
    path: str | None = None,
    *,
    cron: str,
    timezone: str | None = None,
    command: Sequence[str] | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    name: str | None = None,
    backend: str | None = None,
    profile: str | None = None,
    resources: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    cwd: str | None = None,
    kind: str | None = None,
    active: bool | None = None,
    overlap: str | None = None,
    retries: int | None = None,
    retry_delay: int | None = None,
    max_history: int | None = None,
    client: JobsClient | None = None,
) -> Definition:
    """Save a job (a path or a command, as :meth:`JobsClient.submit` takes it) with a schedule:
    ``cron`` (5 fields, ``"0 6 * * 1-5"``) read in ``timezone`` (IANA; default UTC)."""
    client = client or default_client()
    given = {
        **client.what_to_run(path, command, args, cwd),
        **dict(env=env, name=name, backend=backend, profile=profile, kind=kind),
        **dict(resources=resources, parameters=parameters),
        **dict(schedule=cron, timezone=timezone, active=active, overlap=overlap),
        **dict(retries=retries, retry_delay=retry_delay, max_history=max_history),
    }
    return Definition(client, client.request("POST", "job-definitions", body=_given(given)))


def definitions(client: JobsClient | None = None) -> list[Definition]:
    """Every job definition of the server's job root, newest first."""
    client = client or default_client()
    return [Definition(client, d) for d in client.request("GET", "job-definitions")["definitions"]]


def definition(definition_id: str, client: JobsClient | None = None) -> Definition:
    """The definition with this id or unique id prefix."""
    client = client or default_client()
    wanted = definition_id.strip()
    if not wanted:
        raise JobsClientError("a definition id is needed", field="id")
    matches = [d for d in definitions(client) if d.id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(d.id for d in matches[:5])
        raise JobsClientError(
            f"definition id {wanted!r} is ambiguous: {ids}", status=404, field="id"
        )
    raise JobsClientError(f"no job definition {wanted!r}", status=404, field="id")
