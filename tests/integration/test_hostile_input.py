"""Hostile input against a live server (issue 10): every class a security review found gets a clean
4xx JSON answer with ``field``, leaves no job and no job folder behind, and writes nothing outside
the root; after all of them the server's log holds no traceback.

One real ``jupyter server`` (benchmarks/_server.py) serves the whole module, so its ``server.log``
sees every request; the last test reads it.
"""

from __future__ import annotations

import json
import os
import urllib.parse

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from benchmarks._server import ServerProcess

API = "jupyter-jobs/api"
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
HANDSHAKE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    root = workdir / "root"
    root.mkdir()
    (root / "hello.py").write_text("print('hello')\n")
    (root / "nb.ipynb").write_text(NOTEBOOK)
    (workdir / "outside").mkdir()
    os.symlink(workdir / "outside", root / "job-outputs")  # the admin's mistake
    srv = ServerProcess(workdir=str(workdir), config={"LocalSpawner": {"max_concurrent": 2}})
    srv.start()
    yield srv
    srv._terminate()


async def fetch(server, method, path, body=None, headers=None, content_type="application/json"):
    """(status, headers, decoded JSON body or raw bytes) of one request; ``path`` is raw (quoted)."""
    all_headers = dict(server.headers)
    if body is not None and content_type:
        all_headers["Content-Type"] = content_type
    all_headers.update(headers or {})
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    if body is None and method == "POST":
        body = b""
    req = HTTPRequest(
        server.http_url(path),
        method=method,
        body=body,
        headers=all_headers,
        allow_nonstandard_methods=True,
        request_timeout=30,
    )
    r = await AsyncHTTPClient().fetch(req, raise_error=False)
    data = r.body
    if r.headers.get("Content-Type", "").startswith("application/json") and r.body:
        data = json.loads(r.body)
    return r.code, r.headers, data


async def refused(server, method, path, body=None, *, status=400, field=None, words="", **kw):
    """The request is refused with ``status``, a JSON message (containing ``words``) and
    ``field``; no job exists and no job folder appeared."""
    before = set(os.listdir(server.job_root))
    code, headers, data = await fetch(server, method, path, body, **kw)
    assert code == status, (code, data)
    assert headers["Content-Type"].startswith("application/json"), headers
    assert isinstance(data, dict) and data["message"], data
    assert words.lower() in data["message"].lower(), data
    if field is not None:
        assert data.get("field") == field, data
    code, _, listed = await fetch(server, "GET", f"{API}/jobs")
    assert code == 200 and listed["jobs"] == [], listed
    assert set(os.listdir(server.job_root)) == before
    return data


def job(**fields) -> str:
    return json.dumps({"path": "hello.py", **fields})


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "body,field",
    [
        ('{"path": "hello.py", "resources": {"cpus": NaN}}', "resources.cpus"),
        ('{"path": "hello.py", "resources": {"memory": Infinity}}', "resources.memory"),
        ('{"path": "hello.py", "resources": {"time_limit": -Infinity}}', "resources.time_limit"),
        ('{"path": "hello.py", "env": {"X": NaN}}', "env"),
        ('{"path": "hello.py", "resources": {"time_limit": 1e999}}', "resources.time_limit"),
        (job(resources={"cpus": 2**70}), "resources.cpus"),
        (job(resources={"memory": 2**70}), "resources.memory"),
        (job(resources={"gpus": -(2**70)}), "resources.gpus"),
        (job(resources={"memory": "99999999999999P"}), "resources.memory"),
        (job(resources={"cpus": "٣"}), "resources.cpus"),
        (job(resources={"memory": "٣G"}), "resources.memory"),
        (job(resources={"time_limit": "٣"}), "resources.time_limit"),
    ],
)
async def test_numbers_that_are_not_finite_or_do_not_fit(server, body, field):
    await refused(server, "POST", f"{API}/jobs", body, field=field)


@pytest.mark.parametrize(
    "path,field",
    [
        (f"{API}/jobs?limit={2**70}", "limit"),
        (f"{API}/jobs?cursor={2**70}", "cursor"),
        (f"{API}/jobs?limit=%D9%A3", "limit"),  # '٣', an Arabic-Indic digit int() would take
        (f"{API}/jobs?limit=%C2%B2", "limit"),  # '²'
        (f"{API}/jobs?limit=", "limit"),
        (f"{API}/jobs?cursor=", "cursor"),
        (f"{API}/jobs?status=", "status"),
        (f"{API}/jobs?limit=1&limit=2", "limit"),
        (f"{API}/jobs?limit=%FF", "limit"),
        (f"{API}/jobs?backend=%ED%A0%80", "backend"),
    ],
)
async def test_query_numbers_are_ascii_digits_within_range(server, path, field):
    await refused(server, "GET", path, field=field)


@pytest.mark.parametrize(
    "value,words",
    [
        ("99:99:99", "Time limit: '99:99:99' has 99 seconds; use 0-59"),
        ("10:60", "0-59"),
        ("1-24:00:00", "0-23"),
        ("400-00:00:00", "365 days"),
        (1e308, "365 days"),
        (31536001, "365 days"),
        (0.5, "Time limit must be more than 0 seconds"),
    ],
)
async def test_time_limits_out_of_range(server, value, words):
    body = job(resources={"time_limit": value})
    await refused(server, "POST", f"{API}/jobs", body, field="resources.time_limit", words=words)


# ---------------------------------------------------------------- structure and text


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
async def test_deep_nesting_is_400_not_a_recursion_error(server, depth):
    body = '{"path": "hello.py", "parameters": {"a": ' + "[" * depth + "]" * depth + "}}"
    await refused(server, "POST", f"{API}/jobs", body, words="levels deep")


async def test_a_key_given_twice_is_400(server):
    body = '{"path": "hello.py", "path": "../../etc/passwd"}'
    await refused(server, "POST", f"{API}/jobs", body, field="path", words="Path is given twice")


LONE = "\\ud800"  # as JSON writes it: the text a client sends, escaped


@pytest.mark.parametrize(
    "body,field",
    [
        ('{"path": "hello.py", "name": "x' + LONE + '"}', "name"),
        ('{"command": ["python3", "' + LONE + '"]}', "command"),
        ('{"path": "hello.py", "args": ["' + LONE + '"]}', "args"),
        ('{"path": "hello.py", "env": {"X": "' + LONE + '"}}', "env"),
        ('{"path": "hello.py", "env": {"' + LONE + '": "x"}}', "env"),
        ('{"path": "nb.ipynb", "parameters": {"p": "' + LONE + '"}}', "parameters"),
        ('{"path": "nb.ipynb", "parameters": {"p": {"' + LONE + '": 1}}}', "parameters"),
        ('{"path": "hello' + LONE + '.py"}', "path"),
        ('{"' + LONE + '": 1}', None),
    ],
)
async def test_text_that_is_not_unicode_is_400_and_leaves_nothing(server, body, field):
    data = await refused(server, "POST", f"{API}/jobs", body, field=field, words="surrogate")
    json.dumps(data).encode("utf-8")  # the answer itself is valid UTF-8


async def test_a_body_that_is_not_utf8_is_400(server):
    await refused(server, "POST", f"{API}/jobs", b'{"path": "hello\xff.py"}', words="UTF-8")
    # an encoded surrogate (CESU-style bytes) is not UTF-8 either
    await refused(server, "POST", f"{API}/jobs", b'{"name": "\xed\xa0\x80"}', words="UTF-8")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", None, "application/json; charset=latin-1"],
)
async def test_a_body_not_sent_as_json_is_415(server, content_type):
    await refused(
        server,
        "POST",
        f"{API}/jobs",
        job(),
        status=415,
        words="application/json",
        content_type=content_type,
    )


# ---------------------------------------------------------------- contract rules


@pytest.mark.parametrize(
    "name",
    [
        "LD_AUDIT",
        "LD_LIBRARY_PATH",
        "ld_preload",
        "Ld_Preload",
        "DYLD_INSERT_LIBRARIES",
        "BASH_ENV",
        "PYTHONSTARTUP",
        "NODE_OPTIONS",
        "jupyter_jobs_job_id",
    ],
)
async def test_loader_and_hijack_variables_are_refused(server, name):
    data = await refused(server, "POST", f"{API}/jobs", job(env={name: "x"}), field="env")
    assert name in data["message"]


@pytest.mark.parametrize(
    "body,field,words",
    [
        (job(path="hello.py/"), "path", "trailing '/'"),
        (job(path="hello.py/."), "path", "as a folder"),
        (json.dumps({"path": "hello.py", "command": ["ls"]}), "command", "not both"),
        (json.dumps({"path": None, "command": ["ls"]}), "path", "must not be null"),
        (
            json.dumps({"command": ["ls"], "kind": "script"}),
            "kind",
            "Kind: a script job runs a path, not a command",
        ),
        (job(kind="notebook"), "kind", "Kind: 'hello.py' is not a notebook"),
        (job(name="a\u2028b"), "name", "Name must not contain control characters"),
        (job(name="\tx"), "name", "control characters"),
        (job(parameters={"class": 1}), "parameters", "Parameters: 'class' is not a Python name"),
        (job(resources={"partition": "gpu\n"}), "resources.partition", "Partition: 'gpu\\n' is"),
        (json.dumps({"path": "nb.ipynb", "parameters": {"é": 1}}), "parameters", "Python name"),
    ],
)
async def test_contract_rules(server, body, field, words):
    await refused(server, "POST", f"{API}/jobs", body, field=field, words=words)


async def test_output_folder_symlinked_outside_the_root_is_refused(server):
    outside = os.path.join(server.workdir, "outside")
    data = await refused(
        server,
        "POST",
        f"{API}/jobs",
        json.dumps({"path": "nb.ipynb"}),
        status=409,
        field="path",
        words="outside the server's root",
    )
    assert "administrator" in data["message"]
    assert os.listdir(outside) == []


async def test_rerun_body_must_be_an_object(server):
    # no job exists: 404 for the job comes after the body is parsed, so bad bodies are 400/415
    await refused(server, "POST", f"{API}/jobs/{'0' * 32}/rerun", "null", words="JSON object")
    await refused(server, "POST", f"{API}/jobs/{'0' * 32}/rerun", "[NaN]", words="NaN")


# ---------------------------------------------------------------- methods, ids, websockets


async def test_unsupported_methods_are_405_with_allow(server):
    data = await refused(server, "TRACE", f"{API}/jobs", status=405)
    code, headers, _ = await fetch(server, "TRACE", f"{API}/jobs")
    assert headers["Allow"] == "GET, POST", headers
    assert "TRACE" in data["message"]
    code, headers, data = await fetch(server, "PUT", f"{API}/jobs/{'0' * 32}", b"{}")
    assert code == 405 and headers["Allow"] == "GET, DELETE", (code, data)
    code, headers, data = await fetch(server, "POST", f"{API}/jobs/{'0' * 32}/log/follow")
    assert code == 405 and headers["Allow"] == "GET" and data["message"], (code, data)


@pytest.mark.parametrize(
    "segment", ["%FF", "%ED%A0%80", "a%00b", "x" * 200, urllib.parse.quote("ünï")]
)
async def test_job_ids_no_job_can_have_are_json_404(server, segment):
    for method, suffix in [("GET", ""), ("DELETE", ""), ("POST", "/cancel"), ("GET", "/log")]:
        data = await refused(
            server, method, f"{API}/jobs/{segment}{suffix}", status=404, field="job_id"
        )
        json.dumps(data).encode("utf-8")
    await refused(
        server,
        "GET",
        f"{API}/jobs/{segment}/log/follow",
        status=404,
        field="job_id",
        headers=HANDSHAKE,
    )


async def test_unknown_urls_under_the_api_are_json_404(server):
    for path in ("nope", "jobs/0/nope", "jobs/0/log/follow/more"):
        await refused(server, "GET", f"{API}/{path}", status=404)


async def test_follow_refusals_are_json(server):
    some = "0" * 32
    await refused(server, "GET", f"{API}/jobs/{some}/log/follow", status=404, headers=HANDSHAKE)
    for offset in ("abc", "%D9%A3", "-1", "", str(2**70)):
        await refused(
            server,
            "GET",
            f"{API}/jobs/{some}/log/follow?offset={offset}",
            status=400,
            field="offset",
            headers=HANDSHAKE,
        )
    await refused(server, "GET", f"{API}/jobs/{some}/log?offset={2**70}", status=400)


# ---------------------------------------------------------------- and the log


def test_the_server_log_holds_no_traceback(server):
    """Runs last in this module: nothing above made the server log a traceback or a 500."""
    with open(server.log_path, encoding="utf-8", errors="replace") as f:
        log = f.read()
    assert "Traceback" not in log, log[-5000:]
    assert " 500 " not in log and "Uncaught exception" not in log, log[-5000:]


@pytest.mark.parametrize("field", ["path", "cwd", "extra_files"])
async def test_names_no_file_system_holds_are_a_400(server, field):
    """A name longer than NAME_MAX (the fuzzer's 4,000 zeros as an extra file of a rerun made a
    500 from ENAMETOOLONG): refused, naming the field, and nothing created."""
    long = "sub/" + "0" * 300  # a path short enough, one name in it too long
    body = {"path": "hello.py"}
    body[field] = [long] if field == "extra_files" else long
    await refused(
        server,
        "POST",
        f"{API}/jobs",
        json.dumps(body),
        field=field,
        words="longer than a file system allows",
    )
