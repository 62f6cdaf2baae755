"""The OpenAPI document (jupyter_jobs/openapi.json) against the implementation.

1. The document's (path, method) pairs are exactly those the handlers of ``default_handlers()``
   implement.
2. Every operation is exercised against a real server with real jobs, and every answer (status,
   content type, required headers, body; websocket frames too) is validated against the document.
   Each test declares the answers it produces (``@covers``); a fixture checks it produced exactly
   those, and a static test checks that together they cover every documented answer.
3. The served ``GET jupyter-jobs/api/openapi.json`` is the file.
"""

from __future__ import annotations

import json
import re
import sys

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from tornado.httpclient import HTTPClientError

from jupyter_jobs.handlers import default_handlers
from jupyter_jobs.handlers.openapi import OPENAPI_PATH

SPEC = json.loads(OPENAPI_PATH.read_text())
SPEC_URI = "urn:jupyter-jobs:openapi"
REGISTRY = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(SPEC))
PREFIX = "jupyter-jobs/api"
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head")
#: answers that need an unreachable or failing engine, or a full disk (tests/multi fills a tmpfs);
#: the local backend on a healthy disk never gives them
NOT_REACHABLE_LOCALLY = {"502", "503", "507"}
NO_SUCH_JOB = "0000nosuchjob"


# ---------------------------------------------------------------- reading the document


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def resolve(obj: dict, pointer: str) -> tuple[dict, str]:
    """Follow a local ``$ref`` (responses, headers, parameters): (target, its JSON pointer)."""
    while "$ref" in obj:
        ref = obj["$ref"]
        assert ref.startswith("#/"), ref
        pointer = ref[1:]
        obj = SPEC
        for token in pointer.split("/")[1:]:
            obj = obj[token.replace("~1", "/").replace("~0", "~")]
    return obj, pointer


def schema_validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{pointer}"},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def assert_valid(pointer: str, instance, what: str) -> None:
    errors = sorted(schema_validator(pointer).iter_errors(instance), key=lambda e: e.path)
    assert not errors, (
        f"{what} does not match {pointer}:\n"
        + "\n".join(
            f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in errors[:10]
        )
        + f"\nanswer: {json.dumps(instance)[:2000]}"
    )


def operation_id(template: str, method: str) -> str:
    return SPEC["paths"][template][method]["operationId"]


def operations() -> dict[str, tuple[str, str]]:
    """operationId → (path template, method), from the document."""
    return {
        op["operationId"]: (path, method)
        for path, item in SPEC["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }


# ---------------------------------------------------------------- reading the handlers


def route_to_template(pattern: str) -> str:
    """``jupyter-jobs/api/jobs/(?P<job_id>[^/]+)/log`` → ``/jobs/{job_id}/log``."""
    assert pattern.startswith(PREFIX + "/"), f"{pattern} is not under {PREFIX}"
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern[len(PREFIX) :])


def implemented_methods(cls: type) -> set[str]:
    """HTTP verbs a handler class defines itself (in jupyter_jobs, not inherited from
    jupyter_server/tornado, e.g. APIHandler's unauthenticated CORS ``options``)."""
    return {
        m
        for m in HTTP_METHODS
        for klass in cls.__mro__
        if klass.__module__.startswith("jupyter_jobs") and m in vars(klass)
    }


def implemented_operations() -> set[tuple[str, str]]:
    return {
        (route_to_template(pattern), method)
        for pattern, cls in default_handlers()
        for method in implemented_methods(cls)
    }


# ---------------------------------------------------------------- checking answers


def check_answer(template: str, method: str, code: int, headers, body: bytes | None) -> None:
    """Validate one HTTP answer against the document."""
    op = SPEC["paths"][template][method]
    op_ptr = f"/paths/{escape(template)}/{method}"
    documented = op["responses"]
    assert str(code) in documented, (
        f"{method.upper()} {template} answered {code}, which the document does not list"
        f" ({', '.join(documented)}); body: {body[:500] if body else body!r}"
    )
    response, ptr = resolve(documented[str(code)], f"{op_ptr}/responses/{code}")
    for name, header in response.get("headers", {}).items():
        header, header_ptr = resolve(header, f"{ptr}/headers/{escape(name)}")
        value = headers.get(name)
        if header.get("required"):
            assert value is not None, f"{method.upper()} {template} {code}: no {name} header"
        if value is not None:
            typed = int(value) if header["schema"].get("type") == "integer" else value
            assert_valid(f"{header_ptr}/schema", typed, f"header {name}")
    content = response.get("content")
    if not content:
        assert not body, f"{method.upper()} {template} {code} should have no body: {body[:200]!r}"
        return
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
    assert ctype in content, f"{method.upper()} {template} {code}: Content-Type {ctype!r}"
    schema_ptr = f"{ptr}/content/{escape(ctype)}/schema"
    if ctype == "application/json":
        instance = json.loads(body)
    else:
        instance = body.decode("utf-8", "replace")
    assert_valid(schema_ptr, instance, f"the {code} answer of {method.upper()} {template}")


def check_request(template: str, method: str, query: dict, body, accepted: bool) -> None:
    """The request's query parameters are documented; values and a body the server accepts
    match the document."""
    item = SPEC["paths"][template]
    ptr = f"/paths/{escape(template)}"
    documented = {}
    for where, params in (
        (ptr, item.get("parameters", [])),
        (f"{ptr}/{method}", item[method].get("parameters", [])),
    ):
        for i, param in enumerate(params):
            param, param_ptr = resolve(param, f"{where}/parameters/{i}")
            if param["in"] == "query":
                documented[param["name"]] = (param, param_ptr)
    for name, value in query.items():
        assert name in documented, f"{method.upper()} {template}: query {name!r} is undocumented"
        param, param_ptr = documented[name]
        if accepted and param["schema"].get("type") == "integer":
            assert_valid(f"{param_ptr}/schema", int(value), f"query {name}")
    if accepted and isinstance(body, dict):
        assert_valid(
            f"{ptr}/{method}/requestBody/content/application~1json/schema", body, "request body"
        )


def covers(operation: str, *codes: int):
    """Declare that a test produces exactly these answers of ``operation`` (checked at teardown)."""

    def mark(fn):
        fn.__dict__.setdefault("covers", {}).setdefault(operation, set()).update(map(str, codes))
        return fn

    return mark


class Contract:
    """Sends requests through the ``jobs_api`` helper and checks every answer on the way."""

    def __init__(self, api, ws_fetch, auth_header):
        self.api = api
        self.ws_fetch = ws_fetch
        self.auth_header = auth_header
        self.seen: dict[str, set[str]] = {}

    def record(self, template: str, method: str, code: int) -> None:
        self.seen.setdefault(operation_id(template, method), set()).add(str(code))

    async def call(
        self, method, template, expect, *, body=None, anonymous=False, headers=None, **params
    ):
        """One request: ``template`` with ``{job_id}`` filled from ``params``."""
        path = template.format(**params)
        for key in re.findall(r"{(\w+)}", template):
            params.pop(key)
        check_request(template, method, params, body, accepted=expect < 300)
        kwargs = {"method": method.upper(), "raise_error": False}
        headers = dict(headers or {})
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        elif method == "post":
            kwargs["body"] = ""
        if params:
            kwargs["params"] = params
        if anonymous:
            headers["Authorization"] = ""
        kwargs["headers"] = headers
        r = await self.api.fetch(PREFIX, *path.strip("/").split("/"), **kwargs)
        assert r.code == expect, f"{method.upper()} {path} answered {r.code}: {r.body[:500]!r}"
        check_answer(template, method, r.code, r.headers, r.body)
        self.record(template, method, r.code)
        if r.body and r.headers.get("Content-Type", "").startswith("application/json"):
            return json.loads(r.body)
        return r

    async def handshake(self, job_id, expect, headers):
        """A plain HTTP request to the log-follow URL (a handshake the server refuses)."""
        template = "/jobs/{job_id}/log/follow"
        r = await self.api.fetch(
            PREFIX, "jobs", job_id, "log", "follow", headers=headers, raise_error=False
        )
        assert r.code == expect, f"follow answered {r.code}: {r.body[:300]!r}"
        check_answer(template, "get", r.code, r.headers, r.body)
        self.record(template, "get", r.code)
        return json.loads(r.body)

    async def follow(self, job_id, expect=101, **params):
        """Open the log-follow websocket; validate every frame. Returns the frames."""
        template = "/jobs/{job_id}/log/follow"
        op = SPEC["paths"][template]["get"]
        try:
            ws = await self.ws_fetch(PREFIX, "jobs", job_id, "log", "follow", params=params)
        except HTTPClientError as e:
            assert e.code == expect, f"follow answered {e.code}, expected {expect}"
            assert str(e.code) in op["responses"], f"follow answered undocumented {e.code}"
            self.record(template, "get", e.code)
            return None
        assert expect == 101, "the websocket opened"
        assert "101" in op["responses"]
        self.record(template, "get", 101)
        frame_ptr = resolve(
            op["x-websocket-messages"]["server-to-client"],
            f"/paths/{escape(template)}/get/x-websocket-messages/server-to-client",
        )[1]
        frames = []
        try:
            while (msg := await ws.read_message()) is not None:
                frame = json.loads(msg)
                assert_valid(frame_ptr, frame, "a log-follow frame")
                frames.append(frame)
        finally:
            ws.close()
        return frames


@pytest.fixture
def contract(request, jobs_api, jp_ws_fetch, jp_auth_header):
    c = Contract(jobs_api, jp_ws_fetch, jp_auth_header)
    failed_before = request.session.testsfailed
    yield c
    if request.session.testsfailed > failed_before:
        return  # the test failed on its own: do not pile a coverage error on top
    declared = getattr(request.function, "covers", {})
    assert c.seen == declared, f"the test declared {declared} but produced {c.seen}"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def finished_job(contract, code="print('héllo ✓')", **extra) -> dict:
    job = await contract.api.submit({"command": python(code), **extra})
    return await contract.api.wait(job["id"])


class Sleeper:
    """A running job for the length of a ``with`` block (cancelled after: jobs outlive servers)."""

    def __init__(self, contract):
        self.contract = contract

    async def __aenter__(self) -> dict:
        self.job = await self.contract.api.submit(
            {"command": python("import time; time.sleep(120)")}
        )
        return await self.contract.api.wait(self.job["id"], statuses=("running",))

    async def __aexit__(self, *exc):
        await self.contract.api.request("POST", f"jobs/{self.job['id']}/cancel")
        await self.contract.api.wait(self.job["id"])


# ---------------------------------------------------------------- 1. document vs handlers


def test_document_is_valid_openapi_3_1():
    assert SPEC["openapi"].startswith("3.1.")
    validate_openapi(SPEC)


def test_document_operations_equal_the_handlers_operations():
    documented = {
        (path, method)
        for path, item in SPEC["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    implemented = implemented_operations()
    assert documented - implemented == set(), "documented but not implemented"
    assert implemented - documented == set(), "implemented but not documented"


def test_every_documented_answer_is_exercised_by_a_test():
    declared: dict[str, set[str]] = {}
    for fn in list(globals().values()):
        for op, codes in getattr(fn, "covers", {}).items():
            declared.setdefault(op, set()).update(codes)
    for op, (path, method) in operations().items():
        documented = set(SPEC["paths"][path][method]["responses"]) - NOT_REACHABLE_LOCALLY
        assert declared.get(op, set()) == documented, f"{op}: tests cover {declared.get(op)}"


# ---------------------------------------------------------------- 2. every operation, live


@covers("listBackends", 200)
async def test_list_backends_answers_as_documented(contract):
    data = await contract.call("get", "/backends", 200)
    local = [b for b in data["backends"] if b["name"] == "local"]
    assert local and local[0]["available"] and local[0]["profiles"], data


@covers("createJob", 201, 400, 404, 413)
@covers("getJob", 200, 404)
async def test_create_and_get_job_answer_as_documented(contract, jp_root_dir):
    (jp_root_dir / "hello.py").write_text(
        "import time, jupyter_jobs\njupyter_jobs.progress(0.5, 'half')\nprint('héllo ✓')\n"
        "time.sleep(1)\n"
    )
    job = await contract.call(
        "post",
        "/jobs",
        201,
        body={
            "path": "hello.py",
            "name": "contract",
            "args": ["a"],
            "env": {"X": "1"},
            "resources": {"cpus": 1, "memory": "1G", "time_limit": "00:05:00"},
        },
    )
    await contract.api.wait(job["id"])
    done = await contract.call("get", "/jobs/{job_id}", 200, job_id=job["id"])
    assert done["status"] == "completed" and done["progress"] is not None, done
    assert done["resources"] == {"cpus": 1, "memory": 1 << 30, "time_limit": 300}
    await contract.call("get", "/jobs/{job_id}", 404, job_id=NO_SUCH_JOB)

    bad_requests = [
        "{not json",
        [],
        {},
        {"command": python("pass"), "colour": "red"},
        {"command": "python -c pass"},
        {"path": "../outside.py"},
        {"path": "/etc/passwd"},
        {"command": python("pass"), "backend": "nonesuch"},
        {"command": python("pass"), "profile": "nonesuch"},
        {"command": python("pass"), "resources": {"cpus": "many"}},
        {"command": python("pass"), "resources": {"partition": "gpu"}},
        {"command": python("pass"), "resources": {"memory": "1P"}},
        {"command": python("pass"), "env": {"1BAD": "x"}},
    ]
    for body in bad_requests:
        error = await contract.call("post", "/jobs", 400, body=body)
        assert error["message"], body
    error = await contract.call("post", "/jobs", 404, body={"path": "missing.py"})
    assert error["field"] == "path"
    big = {"command": python("pass"), "name": "x" * (1 << 20)}
    await contract.call("post", "/jobs", 413, body=big)


@covers("listJobs", 200, 400)
async def test_list_jobs_answers_as_documented(contract):
    first = await finished_job(contract)
    second = await finished_job(contract, code="import sys; sys.exit(3)")
    page = await contract.call("get", "/jobs", 200, limit="1")
    assert [j["id"] for j in page["jobs"]] == [second["id"]] and page["next_cursor"]
    rest = await contract.call("get", "/jobs", 200, limit="1", cursor=page["next_cursor"])
    assert [j["id"] for j in rest["jobs"]] == [first["id"]]
    failed = await contract.call("get", "/jobs", 200, status="failed,cancelled", backend="local")
    assert [j["id"] for j in failed["jobs"]] == [second["id"]]
    assert failed["total"] == 1 and failed["counts"]["failed"] == 1 and page["total"] == 2
    named = await contract.call("get", "/jobs", 200, q=second["name"].upper())
    assert second["id"] in [j["id"] for j in named["jobs"]]
    changes = await contract.call("get", "/jobs", 200, changed_since=page["change_token"])
    assert changes["jobs"] == [] and changes["deleted"] == [] and changes["reload"] is False
    bad = (
        {"status": "sleeping"},
        {"limit": "0"},
        {"limit": "many"},
        {"cursor": "x"},
        {"q": "a\nb"},
        {"changed_since": "soon"},
    )
    for params in bad:
        error = await contract.call("get", "/jobs", 400, **params)
        assert error.get("field") == next(iter(params)), error


@covers("cancelJob", 202, 404, 409)
@covers("deleteJob", 204, 404, 409)
async def test_cancel_and_delete_answer_as_documented(contract):
    async with Sleeper(contract) as running:
        await contract.call("delete", "/jobs/{job_id}", 409, job_id=running["id"])
        cancelled = await contract.call("post", "/jobs/{job_id}/cancel", 202, job_id=running["id"])
        assert cancelled["status"] in ("cancelling", "cancelled")
    await contract.call("post", "/jobs/{job_id}/cancel", 409, job_id=running["id"])
    await contract.call("post", "/jobs/{job_id}/cancel", 404, job_id=NO_SUCH_JOB)
    await contract.call("delete", "/jobs/{job_id}", 204, job_id=running["id"])
    await contract.call("delete", "/jobs/{job_id}", 404, job_id=running["id"])


@covers("rerunJob", 201, 400, 404, 413)
async def test_rerun_answers_as_documented(contract):
    old = await finished_job(contract)
    new = await contract.call("post", "/jobs/{job_id}/rerun", 201, job_id=old["id"])
    assert new["id"] != old["id"] and new["command"] == old["command"]
    renamed = await contract.call(
        "post", "/jobs/{job_id}/rerun", 201, job_id=old["id"], body={"name": "again"}
    )
    assert renamed["name"] == "again"
    for body in ("[1, 2]", "{oops", {"resources": {"gpus": 1}}):
        await contract.call("post", "/jobs/{job_id}/rerun", 400, job_id=old["id"], body=body)
    await contract.call("post", "/jobs/{job_id}/rerun", 404, job_id=NO_SUCH_JOB)
    big = {"name": "x" * (1 << 20)}
    await contract.call("post", "/jobs/{job_id}/rerun", 413, job_id=old["id"], body=big)
    for job in (new, renamed):
        await contract.api.wait(job["id"])


@covers("readJobLog", 200, 400, 404)
@covers("getJobUsage", 200, 404)
async def test_log_and_usage_answer_as_documented(contract):
    job = await finished_job(contract, code="import time; print('héllo ✓'); time.sleep(1.2)")
    r = await contract.call("get", "/jobs/{job_id}/log", 200, job_id=job["id"])
    assert r.body.decode() == "héllo ✓\n" and r.headers["X-Log-Size"] == str(len(r.body))
    tail = await contract.call(
        "get", "/jobs/{job_id}/log", 200, job_id=job["id"], offset="1", limit="2"
    )
    assert tail.body == "héllo".encode()[1:3] and tail.headers["X-Log-Offset"] == "1"
    for params in ({"offset": "-1"}, {"offset": "x"}, {"limit": "0"}):
        await contract.call("get", "/jobs/{job_id}/log", 400, job_id=job["id"], **params)
    await contract.call("get", "/jobs/{job_id}/log", 404, job_id=NO_SUCH_JOB)

    usage = await contract.call("get", "/jobs/{job_id}/usage", 200, job_id=job["id"])
    assert usage["samples"], "a job that ran over a second has usage samples"
    await contract.call("get", "/jobs/{job_id}/usage", 404, job_id=NO_SUCH_JOB)


@covers("getJobResults", 200, 404)
async def test_results_answer_as_documented(contract):
    code = "import jupyter_jobs; jupyter_jobs.record(loss=0.25, label='x', ok=True, none=None)"
    job = await finished_job(contract, code=code)
    assert job["status"] == "completed", job
    assert job["results"] == {"loss": 0.25, "label": "x", "ok": True, "none": None}
    table = await contract.call("get", "/jobs/{job_id}/results", 200, job_id=job["id"])
    assert table["columns"] == ["id", "status", "duration_seconds", "loss", "label", "ok", "none"]
    assert table["rows"][0][:2] == [job["id"], "completed"]
    assert table["rows"][0][3:] == [0.25, "x", True, None]
    await contract.call("get", "/jobs/{job_id}/results", 404, job_id=NO_SUCH_JOB)


HANDSHAKE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


@covers("followJobLog", 400, 426)
async def test_log_follow_refuses_a_bad_handshake_as_json(contract):
    job = await finished_job(contract)
    error = await contract.handshake(job["id"], 400, {})  # not a websocket at all
    assert "websocket" in error["message"]
    error = await contract.handshake(job["id"], 400, {**HANDSHAKE, "Connection": "keep-alive"})
    assert "Connection: Upgrade" in error["message"]
    error = await contract.handshake(job["id"], 426, {**HANDSHAKE, "Sec-WebSocket-Version": "99"})
    assert "13" in error["message"]


NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@covers("createJob", 409, 415)
@covers("rerunJob", 409, 415)
async def test_output_folder_outside_the_root_and_wrong_content_type(
    contract, jp_root_dir, tmp_path
):
    (jp_root_dir / "nb.ipynb").write_text(NOTEBOOK)
    job = await contract.api.submit({"path": "nb.ipynb"})
    await contract.api.request("POST", f"jobs/{job['id']}/cancel")
    await contract.api.wait(job["id"])
    outputs = jp_root_dir / "job-outputs"
    if outputs.exists():
        for f in outputs.iterdir():
            f.unlink()
        outputs.rmdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outputs.symlink_to(elsewhere)
    error = await contract.call("post", "/jobs", 409, body={"path": "nb.ipynb"})
    assert "outside the server's root" in error["message"] and "administrator" in error["message"]
    await contract.call("post", "/jobs/{job_id}/rerun", 409, job_id=job["id"])
    assert list(elsewhere.iterdir()) == []

    text = {"Content-Type": "text/plain"}
    body = json.dumps({"command": python("pass")})
    error = await contract.call("post", "/jobs", 415, body=body, headers=text)
    assert "application/json" in error["message"]
    await contract.call(
        "post", "/jobs/{job_id}/rerun", 415, job_id=job["id"], body="{}", headers=text
    )


@covers("followJobLog", 101, 400, 404)
async def test_log_follow_websocket_answers_as_documented(contract):
    job = await finished_job(contract, code="print('héllo ✓' * 3)")
    frames = await contract.follow(job["id"])
    assert [f["type"] for f in frames][-1] == "end", frames
    text = "".join(f["data"] for f in frames if f["type"] == "data")
    assert text == "héllo ✓" * 3 + "\n"
    assert frames[-1] == {"type": "end", "status": "completed", "next_offset": len(text.encode())}
    resumed = await contract.follow(job["id"], offset=str(len("héllo ✓".encode())))
    assert "".join(f.get("data", "") for f in resumed) == "héllo ✓" * 2 + "\n"
    await contract.follow(job["id"], expect=400, offset="-5")
    await contract.follow(NO_SUCH_JOB, expect=404)


@covers("getOpenAPI", 200)
async def test_served_document_is_the_file(contract):
    served = await contract.call("get", "/openapi.json", 200)
    assert served == SPEC
    r = await contract.api.request("GET", "openapi.json")
    assert r.body == OPENAPI_PATH.read_bytes()


@covers("listSessions", 200)
async def test_remote_sessions_answer_as_documented(contract):
    """No remote kernel here (tests/kernels start them on SLURM): an empty, valid list."""
    data = await contract.call("get", "/remote-sessions", 200)
    assert data == {"sessions": []}


ANONYMOUS_CASES = {
    "listBackends": {},
    "listJobs": {},
    "createJob": {"body": {"command": python("pass")}},
    "getJob": {"job_id": NO_SUCH_JOB},
    "deleteJob": {"job_id": NO_SUCH_JOB},
    "cancelJob": {"job_id": NO_SUCH_JOB},
    "rerunJob": {"job_id": NO_SUCH_JOB},
    "readJobLog": {"job_id": NO_SUCH_JOB},
    "getJobUsage": {"job_id": NO_SUCH_JOB},
    "getJobResults": {"job_id": NO_SUCH_JOB},
    "getOpenAPI": {},
    "listSessions": {},
}


@covers("listBackends", 403)
@covers("listJobs", 403)
@covers("createJob", 403)
@covers("getJob", 403)
@covers("deleteJob", 403)
@covers("cancelJob", 403)
@covers("rerunJob", 403)
@covers("readJobLog", 403)
@covers("getJobUsage", 403)
@covers("getJobResults", 403)
@covers("getOpenAPI", 403)
@covers("listSessions", 403)
async def test_refusals_answer_with_the_documented_error(contract):
    """403 bodies match the Error schema (who gets refused is test_auth.py's business)."""
    ops = operations()
    for op, kwargs in ANONYMOUS_CASES.items():
        path, method = ops[op]
        error = await contract.call(method, path, 403, anonymous=True, **kwargs)
        assert error["message"]


@covers("followJobLog", 403)
async def test_log_follow_refuses_without_a_token(contract):
    contract.ws_fetch = _anonymous(contract.ws_fetch)
    await contract.follow(NO_SUCH_JOB, expect=403)


def _anonymous(ws_fetch):
    def fetch(*parts, **kwargs):
        return ws_fetch(*parts, headers={"Authorization": ""}, **kwargs)

    return fetch


# ---------------------------------------------------------------- job definitions (issue 12)

SCHEDULED = {"schedule": "0 6 * * 1-5", "timezone": "Europe/Berlin"}


@covers("listJobDefinitions", 200)
@covers("createJobDefinition", 201, 400, 404, 413, 415)
@covers("getJobDefinition", 200, 404)
@covers("listJobs", 200)
async def test_job_definitions_create_list_get_answer_as_documented(contract):
    d = await contract.call(
        "post", "/job-definitions", 201, body={"command": python("pass"), **SCHEDULED}
    )
    assert d["schedule_description"] == "every weekday at 06:00" and d["next_run_at"]
    listed = await contract.call("get", "/job-definitions", 200)
    assert [x["id"] for x in listed["definitions"]] == [d["id"]]
    got = await contract.call("get", "/job-definitions/{definition_id}", 200, definition_id=d["id"])
    assert got["revision"] == 1
    runs = await contract.call("get", "/jobs", 200, definition=d["id"])
    assert runs["jobs"] == [] and runs["total"] == 0
    for bad in (
        {"command": python("pass"), "schedule": "61 * * * *"},
        {"command": python("pass"), "schedule": "0 6 * * *", "timezone": "Nowhere/Land"},
        {"command": python("pass")},
    ):
        error = await contract.call("post", "/job-definitions", 400, body=bad)
        assert error["field"] in ("schedule", "timezone"), error
    error = await contract.call(
        "post", "/job-definitions", 404, body={"path": "missing.py", **SCHEDULED}
    )
    assert error["field"] == "path"
    big = {"command": python("pass"), "name": "x" * (1 << 20), **SCHEDULED}
    await contract.call("post", "/job-definitions", 413, body=big)
    text = {"Content-Type": "text/plain"}
    body = json.dumps({"command": python("pass"), **SCHEDULED})
    await contract.call("post", "/job-definitions", 415, body=body, headers=text)
    await contract.call(
        "get", "/job-definitions/{definition_id}", 404, definition_id="0000nosuchdefinition"
    )


@covers("createJobDefinition", 201)
@covers("updateJobDefinition", 200, 400, 404, 409, 413, 415)
@covers("deleteJobDefinition", 204, 404)
async def test_job_definitions_change_and_delete_answer_as_documented(contract):
    d = await contract.call(
        "post", "/job-definitions", 201, body={"command": python("pass"), **SCHEDULED}
    )
    url = "/job-definitions/{definition_id}"
    paused = await contract.call(
        "patch", url, 200, definition_id=d["id"], body={"active": False, "revision": 1}
    )
    assert paused["active"] is False and paused["next_run_at"] is None
    error = await contract.call(
        "patch", url, 409, definition_id=d["id"], body={"active": True, "revision": 1}
    )
    assert error["field"] == "revision"
    error = await contract.call(
        "patch", url, 400, definition_id=d["id"], body={"overlap": "sometimes"}
    )
    assert error["field"] == "overlap"
    await contract.call("patch", url, 413, definition_id=d["id"], body={"name": "x" * (1 << 20)})
    await contract.call(
        "patch",
        url,
        415,
        definition_id=d["id"],
        body="{}",
        headers={"Content-Type": "text/plain"},
    )
    await contract.call("patch", url, 404, definition_id=NO_SUCH_JOB, body={"active": True})
    await contract.call("delete", url, 204, definition_id=d["id"])
    await contract.call("delete", url, 404, definition_id=d["id"])


@covers("createJobDefinition", 201)
@covers("runJobDefinition", 201, 400, 404, 409)
async def test_job_definition_run_now_answers_as_documented(contract, jp_root_dir, tmp_path):
    d = await contract.call(
        "post", "/job-definitions", 201, body={"command": python("print(1)"), **SCHEDULED}
    )
    run = "/job-definitions/{definition_id}/run"
    job = await contract.call("post", run, 201, definition_id=d["id"])
    assert job["definition_id"] == d["id"] and job["attempt"] == 1
    await contract.api.wait(job["id"])
    await contract.call("post", run, 404, definition_id=NO_SUCH_JOB)
    # the definition's script became a folder since: refused when it runs
    (jp_root_dir / "work.py").write_text("print(1)\n")
    w = await contract.call("post", "/job-definitions", 201, body={"path": "work.py", **SCHEDULED})
    (jp_root_dir / "work.py").unlink()
    (jp_root_dir / "work.py").mkdir()
    error = await contract.call("post", run, 400, definition_id=w["id"])
    assert error["field"] == "path"
    # a notebook whose output folder leads outside the root
    (jp_root_dir / "nb.ipynb").write_text(NOTEBOOK)
    nb = await contract.call(
        "post", "/job-definitions", 201, body={"path": "nb.ipynb", **SCHEDULED}
    )
    outputs = jp_root_dir / "job-outputs"
    if outputs.exists():
        for f in outputs.iterdir():
            f.unlink()
        outputs.rmdir()
    elsewhere = tmp_path / "elsewhere-definitions"
    elsewhere.mkdir()
    outputs.symlink_to(elsewhere)
    await contract.call("post", run, 409, definition_id=nb["id"])


@covers("listJobDefinitions", 403)
@covers("createJobDefinition", 403)
@covers("getJobDefinition", 403)
@covers("updateJobDefinition", 403)
@covers("deleteJobDefinition", 403)
@covers("runJobDefinition", 403)
async def test_job_definitions_refuse_the_anonymous_as_documented(contract):
    some = {"definition_id": NO_SUCH_JOB}
    cases = [
        ("get", "/job-definitions", {}),
        ("post", "/job-definitions", {"body": {"command": python("pass"), **SCHEDULED}}),
        ("get", "/job-definitions/{definition_id}", some),
        ("patch", "/job-definitions/{definition_id}", {**some, "body": {"active": False}}),
        ("delete", "/job-definitions/{definition_id}", some),
        ("post", "/job-definitions/{definition_id}/run", some),
    ]
    for method, path, kwargs in cases:
        error = await contract.call(method, path, 403, anonymous=True, **kwargs)
        assert error["message"]


@covers("previewSchedule", 200, 400)
async def test_schedule_preview_answers_as_documented(contract):
    got = await contract.call(
        "get", "/schedule-preview", 200, schedule="0 6 * * 1-5", timezone="Europe/Berlin"
    )
    assert got["schedule_description"] == "every weekday at 06:00" and len(got["next_runs"]) == 5
    error = await contract.call("get", "/schedule-preview", 400, schedule="61 * * * *")
    assert error["field"] == "schedule" and "minute 61 is out of range" in error["message"]
    error = await contract.call(
        "get", "/schedule-preview", 400, schedule="@daily", timezone="Mars/Olympus"
    )
    assert error["field"] == "timezone"


@covers("previewSchedule", 403)
async def test_schedule_preview_refuses_the_anonymous(contract):
    error = await contract.call("get", "/schedule-preview", 403, anonymous=True, schedule="@daily")
    assert error["message"]
