"""Bad input gets a clear 4xx, never a 500, and nothing reaches a shell or leaves the root."""

from __future__ import annotations

import json
import os
import re

import pytest


@pytest.fixture
def files(jp_root_dir, tmp_path):
    (jp_root_dir / "ok.py").write_text("print('ok')\n")
    (jp_root_dir / "data.csv").write_text("a,b\n")
    (jp_root_dir / "folder").mkdir()
    outside = tmp_path / "outside.py"
    outside.write_text("print('outside')\n")
    os.symlink(outside, jp_root_dir / "escape.py")
    os.symlink(tmp_path, jp_root_dir / "escape-dir")
    return outside


#: words of the API a message for people must not use: field keys, JSON type names, "argv"
INTERNAL = re.compile(
    r"resources\.|\b(args|cwd|env)\b|'(args|command|path|parameters|kind)'|\w\[\d|\bargv\b"
    r"|\ba string\b|\ban object\b|\bnull\b|\w=\d"
)

CASES = [
    # (body, status, field, words in the message)
    ({"path": "../outside.py"}, 400, "path", "outside the server's root"),
    ({"path": "/etc/passwd"}, 400, "path", "relative to the server's root"),
    ({"path": "escape.py"}, 400, "path", "outside the server's root"),
    ({"path": "escape-dir/outside.py"}, 400, "path", "outside the server's root"),
    ({"path": "missing.py"}, 404, "path", "does not exist"),
    ({"path": "folder"}, 400, "path", "Path 'folder' is a folder, not a file"),
    ({"path": "data.csv"}, 400, "path", "(run anything else as a command)"),
    ({"path": "ok.py", "cwd": "../"}, 400, "cwd", "Working directory '../' is outside"),
    ({"path": "ok.py", "cwd": "ok.py"}, 400, "cwd", "Working directory 'ok.py' is not a folder"),
    ({"path": "ok.py", "backend": "nope"}, 400, "backend", "unknown or disabled backend 'nope'"),
    ({"path": "ok.py", "profile": "huge"}, 400, "profile", "unknown profile 'huge'"),
    ({"path": "ok.py", "kind": "spell"}, 400, "kind", "Kind: unknown kind 'spell'"),
    ({"path": "ok.py", "kind": "notebook"}, 400, "kind", "is not a notebook"),
    (
        {"path": "ok.py", "resources": {"cpus": 9999}},
        400,
        "resources.cpus",
        "CPUs: 9999 is more than this machine has",
    ),
    ({"path": "ok.py", "resources": {"cpus": 0}}, 400, "resources.cpus", "CPUs must be at least 1"),
    (
        {"path": "ok.py", "resources": {"cpus": "many"}},
        400,
        "resources.cpus",
        "CPUs must be a whole number, not 'many'",
    ),
    (
        {"path": "ok.py", "resources": {"memory": "lots"}},
        400,
        "resources.memory",
        "Memory: 'lots' is not a size (try 4G or 512M)",
    ),
    (
        {"path": "ok.py", "resources": {"memory": "900T"}},
        400,
        "resources.memory",
        "Memory: 900T is",
    ),
    (
        {"path": "ok.py", "resources": {"time_limit": "soon"}},
        400,
        "resources.time_limit",
        "Time limit: 'soon' is not a duration (try 3600, 01:30:00 or 2-00:00:00)",
    ),
    ({"path": "ok.py", "resources": {"gpus": 1}}, 400, "resources.gpus", "does not support"),
    ({"path": "ok.py", "resources": {"wings": 2}}, 400, "resources.wings", "unknown resource"),
    (
        {"path": "ok.py", "resources": {"partition": "a b;rm"}},
        400,
        "resources.partition",
        "Partition: 'a b;rm' is not a valid name",
    ),
    ({"path": "ok.py", "args": "--x"}, 400, "args", "Arguments must be a list of words, not text"),
    ({"path": "ok.py", "args": [1, 2]}, 400, "args", "Argument 1 must be text, not a number"),
    ({"path": "ok.py", "args": ["a\x00b"]}, 400, "args", "Argument 1 must not contain NUL"),
    ({"path": "ok.py", "env": {"A;B": "x"}}, 400, "env", "Environment: variable name 'A;B' is not"),
    ({"path": "ok.py", "env": {"1X": "x"}}, 400, "env", "not valid"),
    (
        {"path": "ok.py", "env": {"X": {"y": 1}}},
        400,
        "env",
        "Environment variable X must be text, not a set of names and values",
    ),
    ({"path": "ok.py", "env": {"JUPYTER_JOBS_DIR": "/"}}, 400, "env", "set by jupyter-jobs"),
    ({"path": "ok.py", "name": "two\nlines"}, 400, "name", "Name must not contain control"),
    ({"path": "ok.py", "name": "x" * 500}, 400, "name", "Name is too long"),
    ({"path": "ok.py", "parameters": {"a": 1}}, 400, "parameters", "Parameters are for notebooks"),
    ({"path": "ok.py", "command": ["ls"]}, 400, "command", "not both"),
    ({"command": "ls -la"}, 400, "command", "one word each"),
    ({"command": []}, 400, "command", "one word each"),
    ({"command": [""]}, 400, "command", "Command: the program (its first word) must not be empty"),
    ({}, 400, None, "nothing to run: give a path (a script or notebook) or a command"),
    ({"path": "ok.py", "colour": "red"}, 400, "colour", "unknown field"),
    ([1, 2], 400, None, "JSON object"),
]


@pytest.mark.parametrize("body,status,field,words", CASES)
async def test_bad_job_request_is_a_clear_4xx(jobs_api, files, body, status, field, words, manager):
    before = manager.store.count()
    dirs = set(os.listdir(manager.job_root))
    r = await jobs_api.request("POST", "jobs", body)
    assert r.code == status, r.body
    answer = json.loads(r.body)
    assert words in answer["message"], answer
    if field:
        assert answer.get("field") == field
    if field != "colour":  # (an unknown field is named as sent)
        assert not INTERNAL.search(answer["message"]), answer  # the user's words, not the API's
    assert manager.store.count() == before  # nothing stored, nothing started
    assert set(os.listdir(manager.job_root)) == dirs


async def test_non_json_body_is_400(jobs_api):
    r = await jobs_api.request("POST", "jobs", "{not json")
    assert r.code == 400
    assert "not valid JSON" in json.loads(r.body)["message"]
    r = await jobs_api.request("POST", "jobs", b"\xff\xfe")
    assert r.code == 400


async def test_empty_body_is_400(jobs_api):
    r = await jobs_api.request("POST", "jobs", "")
    assert r.code == 400
    assert "empty" in json.loads(r.body)["message"]


async def test_oversized_body_is_413(jobs_api, files):
    body = json.dumps({"path": "ok.py", "args": ["x" * 100_000] * 12})
    r = await jobs_api.request("POST", "jobs", body)
    assert r.code == 413
    assert "at most" in json.loads(r.body)["message"]


@pytest.mark.parametrize(
    "method,path,params,status",
    [
        ("GET", "jobs/does-not-exist", {}, 404),
        ("GET", "jobs/does-not-exist/log", {}, 404),
        ("GET", "jobs/does-not-exist/usage", {}, 404),
        ("POST", "jobs/does-not-exist/cancel", {}, 404),
        ("POST", "jobs/does-not-exist/rerun", {}, 404),
        ("DELETE", "jobs/does-not-exist", {}, 404),
        ("GET", "jobs", {"status": "sleeping"}, 400),
        ("GET", "jobs", {"limit": "lots"}, 400),
        ("GET", "jobs", {"limit": "0"}, 400),
        ("GET", "jobs", {"cursor": "-x"}, 400),
    ],
)
async def test_bad_ids_and_queries_are_4xx(jobs_api, method, path, params, status):
    r = await jobs_api.request(method, path, **params)
    assert r.code == status, r.body
    assert json.loads(r.body)["message"]


async def test_bad_log_offset_is_400(jobs_api, files):
    job = await jobs_api.submit({"path": "ok.py"})
    r = await jobs_api.request("GET", f"jobs/{job['id']}/log", offset="-5")
    assert r.code == 400
    r = await jobs_api.request("GET", f"jobs/{job['id']}/log", offset="ten")
    assert r.code == 400


async def test_rerun_with_bad_overrides_is_400(jobs_api, files):
    job = await jobs_api.submit({"path": "ok.py"})
    await jobs_api.wait(job["id"])
    r = await jobs_api.request("POST", f"jobs/{job['id']}/rerun", {"resources": {"cpus": -1}})
    assert r.code == 400
    r = await jobs_api.request("POST", f"jobs/{job['id']}/rerun", "[1]")
    assert r.code == 400


async def test_unicode_and_metacharacters_are_kept_literally(jobs_api, jp_root_dir):
    script = jp_root_dir / "ünï cødé; $(x).py"
    script.write_text("import sys, os\nprint(sys.argv[1:], os.environ['GREETING'])\n")
    job = await jobs_api.submit(
        {
            "path": script.name,
            "args": ["✓ $HOME", "`id`"],
            "env": {"GREETING": "héllo | wörld"},
            "name": "日本語 & <b>bold</b>",
        }
    )
    assert job["name"] == "日本語 & <b>bold</b>"
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "completed", await jobs_api.log(job["id"])
    assert (await jobs_api.log(job["id"])).strip() == "['✓ $HOME', '`id`'] héllo | wörld"


async def test_unavailable_backend_is_503_with_the_reason(jobs_api, files, monkeypatch):
    r = await jobs_api.request("GET", "backends")
    backends = {b["name"]: b for b in json.loads(r.body)["backends"]}
    down = [b for b in backends.values() if not b["available"]]
    if not down:
        pytest.skip("every backend is available here")
    r = await jobs_api.request("POST", "jobs", {"path": "ok.py", "backend": down[0]["name"]})
    assert r.code == 503
    body = json.loads(r.body)
    assert "not available" in body["message"] and down[0]["reason"] in body["message"]
    assert body["field"] == "backend"
