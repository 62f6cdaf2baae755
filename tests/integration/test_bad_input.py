"""Bad input gets a clear 4xx, never a 500, and nothing reaches a shell or leaves the root."""

from __future__ import annotations

import json
import os

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


CASES = [
    # (body, status, field, words in the message)
    ({"path": "../outside.py"}, 400, "path", "outside the server's root"),
    ({"path": "/etc/passwd"}, 400, "path", "relative to the server's root"),
    ({"path": "escape.py"}, 400, "path", "outside the server's root"),
    ({"path": "escape-dir/outside.py"}, 400, "path", "outside the server's root"),
    ({"path": "missing.py"}, 404, "path", "does not exist"),
    ({"path": "folder"}, 400, "path", "is a directory"),
    ({"path": "data.csv"}, 400, "path", "supported files are"),
    ({"path": "ok.py", "cwd": "../"}, 400, "cwd", "outside"),
    ({"path": "ok.py", "cwd": "ok.py"}, 400, "cwd", "not a directory"),
    ({"path": "ok.py", "backend": "nope"}, 400, "backend", "unknown or disabled backend 'nope'"),
    ({"path": "ok.py", "profile": "huge"}, 400, "profile", "unknown profile 'huge'"),
    ({"path": "ok.py", "kind": "spell"}, 400, "kind", "unknown kind"),
    ({"path": "ok.py", "kind": "notebook"}, 400, "kind", "is not a notebook"),
    (
        {"path": "ok.py", "resources": {"cpus": 9999}},
        400,
        "resources.cpus",
        "more than this machine",
    ),
    ({"path": "ok.py", "resources": {"cpus": 0}}, 400, "resources.cpus", "at least 1"),
    ({"path": "ok.py", "resources": {"cpus": "many"}}, 400, "resources.cpus", "whole number"),
    ({"path": "ok.py", "resources": {"memory": "lots"}}, 400, "resources.memory", "not a size"),
    ({"path": "ok.py", "resources": {"memory": "900T"}}, 400, "resources.memory", "more than"),
    (
        {"path": "ok.py", "resources": {"time_limit": "soon"}},
        400,
        "resources.time_limit",
        "not a duration",
    ),
    ({"path": "ok.py", "resources": {"gpus": 1}}, 400, "resources.gpus", "does not support"),
    ({"path": "ok.py", "resources": {"wings": 2}}, 400, "resources.wings", "unknown resource"),
    (
        {"path": "ok.py", "resources": {"partition": "a b;rm"}},
        400,
        "resources.partition",
        "not a valid name",
    ),
    ({"path": "ok.py", "args": "--x"}, 400, "args", "list of strings"),
    ({"path": "ok.py", "args": [1, 2]}, 400, "args", "must be a string"),
    ({"path": "ok.py", "args": ["a\x00b"]}, 400, "args", "NUL"),
    ({"path": "ok.py", "env": {"A;B": "x"}}, 400, "env", "invalid"),
    ({"path": "ok.py", "env": {"1X": "x"}}, 400, "env", "invalid"),
    ({"path": "ok.py", "env": {"X": {"y": 1}}}, 400, "env", "must be a string"),
    ({"path": "ok.py", "env": {"JUPYTER_JOBS_DIR": "/"}}, 400, "env", "set by jupyter-jobs"),
    ({"path": "ok.py", "name": "two\nlines"}, 400, "name", "control characters"),
    ({"path": "ok.py", "name": "x" * 500}, 400, "name", "too long"),
    ({"path": "ok.py", "parameters": {"a": 1}}, 400, "parameters", "for notebooks"),
    ({"path": "ok.py", "command": ["ls"]}, 400, "command", "not both"),
    ({"command": "ls -la"}, 400, "command", "list of strings"),
    ({"command": []}, 400, "command", "non-empty"),
    ({"command": [""]}, 400, "command", "must not be empty"),
    ({}, 400, None, "give either 'path'"),
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
