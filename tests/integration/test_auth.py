"""Authorization: every handler of ``default_handlers()`` refuses unauthenticated users and users the
server's authorizer does not allow on resource ``jobs``, websockets too.

The handlers and their methods are enumerated from ``default_handlers()``, so a new handler is covered
without editing this file (a new path parameter needs a sample value in :func:`fill`). Each request
is one that would change something if it got through (create, cancel, rerun, delete), and the tests
check that nothing changed.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import urllib.parse

import pytest
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.decorator import authorized
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketHandler, websocket_connect

from jupyter_jobs.handlers import AUTH_RESOURCE, default_handlers

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head")
SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]


# ---------------------------------------------------------------- authorizers


#: (action, resource) pairs the test authorizers were asked about
ASKED: list[tuple[str, str]] = []


class DenyJobs(Authorizer):
    """Allows everything but resource ``jobs``."""

    def is_authorized(self, handler, user, action, resource):
        ASKED.append((action, resource))
        return resource != "jobs"


class OnlyJobs(Authorizer):
    """Denies everything but resource ``jobs``."""

    def is_authorized(self, handler, user, action, resource):
        ASKED.append((action, resource))
        return resource == "jobs"


#: server settings under which strangers must be refused
SERVER_SETTINGS = {
    # jupyter_server's default: its own pre-handler guard is off (allow_unauthenticated_access),
    # writes still need an XSRF token
    "server-default": {},
    # the server-wide guard refuses unauthenticated requests before any handler runs
    "server-guard-on": {"ServerApp": {"allow_unauthenticated_access": False}},
    # no server-wide guard and no XSRF check: only the handlers' own decorators stand between a
    # stranger and the jobs
    "handlers-only": {
        "ServerApp": {"allow_unauthenticated_access": True, "disable_check_xsrf": True}
    },
}


@pytest.fixture
def jobs_config(request):
    return getattr(request, "param", {})


# ---------------------------------------------------------------- enumerating handlers


def implemented_methods(cls: type) -> list[str]:
    """HTTP verbs a handler class defines in jupyter_jobs (not APIHandler's CORS ``options``)."""
    return sorted(
        {
            m
            for m in HTTP_METHODS
            for klass in cls.__mro__
            if klass.__module__.startswith("jupyter_jobs") and m in vars(klass)
        }
    )


def endpoints() -> list[tuple[str, type, str]]:
    """(route pattern, handler class, method) for everything the extension serves."""
    return [(p, cls, m) for p, cls in default_handlers() for m in implemented_methods(cls)]


def is_websocket(cls: type) -> bool:
    return issubclass(cls, WebSocketHandler)


def fill(pattern: str, job_id: str) -> str:
    """The route with its groups filled: ``jobs/(?P<job_id>[^/]+)`` → ``jobs/<job_id>``."""

    def value(m: re.Match) -> str:
        name = m.group(1)
        # a job definition's id has the shape of a job's: the same sample serves both
        assert name in ("job_id", "definition_id"), f"add a sample value for {name!r} in fill()"
        return job_id

    return re.sub(r"\(\?P<(\w+)>[^)]*\)", value, pattern)


def sample_body(path: str, method: str) -> bytes | None:
    """A body that would do something if the request got through."""
    if method not in ("post", "put", "patch"):
        return None
    if path == "jupyter-jobs/api/jobs":
        return json.dumps({"command": SLEEP, "name": "should never run"}).encode()
    return b"{}"


# ---------------------------------------------------------------- a stranger's client


class Client:
    """Requests every endpoint as a given caller (``token``: the server's, a wrong one, or none)."""

    def __init__(self, http_client, port, base_url, token):
        self.http = http_client
        self.port = port
        self.base_url = base_url
        self.token = token

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://localhost:{self.port}{self.base_url}{urllib.parse.quote(path)}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"} if self.token else {}

    async def http_code(self, path: str, method: str) -> tuple[int, bytes]:
        body = sample_body(path, method)
        if body is None and method == "post":
            body = b""
        headers = self.headers()
        if body:
            headers["Content-Type"] = "application/json"
        r = await self.http.fetch(
            self.url(path),
            method=method.upper(),
            body=body,
            headers=headers,
            raise_error=False,
            follow_redirects=False,
        )
        return r.code, r.body

    async def ws_code(self, path: str) -> int:
        """101 when the websocket opened (then read it to its end, briefly), else the HTTP code."""
        request = HTTPRequest(self.url(path, "ws"), headers=self.headers())
        try:
            ws = await websocket_connect(request)
        except HTTPClientError as e:
            return e.code
        try:
            await asyncio.wait_for(ws.read_message(), 5)
        finally:
            ws.close()
        return 101

    async def code(self, pattern: str, cls: type, method: str, job_id: str) -> tuple[int, bytes]:
        path = fill(pattern, job_id)
        if is_websocket(cls):
            return await self.ws_code(path), b""
        return await self.http_code(path, method)


@pytest.fixture
def client_as(jp_serverapp, http_server_client, jp_http_port, jp_base_url):
    from tornado.httpclient import AsyncHTTPClient

    http = AsyncHTTPClient()

    def make(token: str | None) -> Client:
        return Client(http, jp_http_port, jp_base_url, token)

    return make


@pytest.fixture
def server_token(jp_serverapp) -> str:
    return jp_serverapp.identity_provider.token


async def start_jobs(manager) -> dict[str, str]:
    done = await manager.create({"command": [sys.executable, "-c", "print('done')"]})
    running = await manager.create({"command": SLEEP})
    for _ in range(600):
        if manager.get(done.id).is_final and manager.get(running.id).status == "running":
            break
        await asyncio.sleep(0.05)
    assert manager.get(done.id).status == "completed"
    assert manager.get(running.id).status == "running"
    return {"done": done.id, "running": running.id}


async def cancel_all(manager) -> None:
    for job in list(manager.active.values()):
        try:
            await manager.cancel(job.id)
        except Exception:
            pass  # it ended meanwhile
    for _ in range(600):
        if not manager.active:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"jobs left running after the test: {list(manager.active)}")


@pytest.fixture
def jobs(manager, jp_asyncio_loop):
    """A finished job and a running job, made through the manager (not through the API under
    test); every active job is cancelled at the end (jobs outlive the server)."""
    yield jp_asyncio_loop.run_until_complete(start_jobs(manager))
    jp_asyncio_loop.run_until_complete(cancel_all(manager))


def snapshot(manager) -> list[tuple[str, str]]:
    jobs = manager.list_jobs(limit=1000)["jobs"]
    return sorted((j["id"], j["status"]) for j in jobs)


async def assert_all_refused(client, jobs, manager, allowed_codes):
    before = snapshot(manager)
    answers = {}
    for job_id in (jobs["running"], jobs["done"]):
        for pattern, cls, method in endpoints():
            code, body = await client.code(pattern, cls, method, job_id)
            answers[(pattern, method, job_id)] = code
            assert code in allowed_codes, (
                f"{method.upper()} {fill(pattern, job_id)} answered {code}: {body[:300]!r}"
            )
    assert snapshot(manager) == before, "a refused request changed the jobs"
    return answers


# ---------------------------------------------------------------- the tests


def test_every_handler_method_is_wrapped_by_authorized_on_resource_jobs():
    """Second line of defence: the code says what the live tests below show."""

    @authorized
    def probe(self):
        pass

    authorized_code = probe.__code__
    assert endpoints(), "default_handlers() serves nothing?"
    for pattern, cls, method in endpoints():
        assert getattr(cls, "auth_resource", None) == AUTH_RESOURCE == "jobs", cls
        fn = getattr(cls, method)
        chain = [fn]
        while hasattr(chain[-1], "__wrapped__"):
            chain.append(chain[-1].__wrapped__)
        assert any(f.__code__ is authorized_code for f in chain), (
            f"{cls.__name__}.{method} ({pattern}) is not wrapped by @authorized"
        )


@pytest.mark.parametrize(
    "jobs_config",
    list(SERVER_SETTINGS.values()),
    ids=list(SERVER_SETTINGS),
    indirect=True,
)
@pytest.mark.parametrize("token", [None, "not-the-token"], ids=["no-token", "wrong-token"])
async def test_every_handler_method_refuses_unauthenticated_requests(
    client_as, jobs, manager, token, jobs_config
):
    await assert_all_refused(client_as(token), jobs, manager, allowed_codes={401, 403})


@pytest.mark.parametrize(
    "jobs_config", [{"ServerApp": {"authorizer_class": DenyJobs}}], indirect=True
)
async def test_every_handler_method_refuses_users_not_authorized_on_jobs(
    client_as, server_token, jobs, manager, jobs_config
):
    ASKED.clear()
    await assert_all_refused(client_as(server_token), jobs, manager, allowed_codes={403})
    asked = {resource for _action, resource in ASKED}
    assert asked == {"jobs"}, f"the handlers asked the authorizer about {asked}"


@pytest.mark.parametrize(
    "jobs_config", [{"ServerApp": {"authorizer_class": OnlyJobs}}], indirect=True
)
async def test_an_authorizer_denying_other_resources_lets_jobs_through(
    client_as, server_token, jobs, manager, jobs_config
):
    """Control for the test above: the handlers need resource ``jobs`` and nothing else."""
    client = client_as(server_token)
    for job_id in (jobs["running"], jobs["done"]):
        for pattern, cls, method in endpoints():
            ASKED.clear()
            code, body = await client.code(pattern, cls, method, job_id)
            where = f"{method.upper()} {fill(pattern, job_id)}"
            assert code not in (401, 403) and code < 500, f"{where} answered {code}: {body[:300]!r}"
            assert "jobs" in {r for _a, r in ASKED}, f"{where} did not ask about resource jobs"
    # the requests got through: the running job was cancelled, the finished one deleted
    assert manager.get(jobs["running"]).status in ("cancelling", "cancelled")
    with pytest.raises(Exception, match="no job"):
        manager.get(jobs["done"])
