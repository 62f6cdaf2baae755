"""Jobs that wait for others (docs/CONTRACT.md, "Dependencies") on the local backend of a real
server, with real processes. Parents wait for a gate file the test creates, so what a dependant
shows while it waits is checked at a known moment, never after a sleep."""

from __future__ import annotations

import json

import pytest

#: waits for the file argv[1], then exits with argv[2]
GATED = """\
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
sys.exit(int(sys.argv[2]))
"""
QUICK = "print('ran')\n"

FINAL = ("completed", "failed", "cancelled", "lost")


@pytest.fixture
def jobs_config():
    return {"LocalSpawner": {"max_concurrent": 4, "poll_interval": 0.2}}


def short(job):
    return f"{job['name']} ({job['id'][:8]})"


async def gated(api, gate, code, name):
    return await api.submit({"path": "gated.py", "args": [str(gate), str(code)], "name": name})


async def wait_queued_waiting(api, job_id):
    """The dependant is queued with its waiting reason once the owner looked at its queue."""
    job = await api.wait(job_id, statuses=("queued", *FINAL), timeout=30)
    return job


@pytest.fixture
def files(jp_root_dir):
    (jp_root_dir / "gated.py").write_text(GATED)
    (jp_root_dir / "quick.py").write_text(QUICK)
    return jp_root_dir


async def test_chain_with_a_failing_parent_cancels_every_dependant_with_the_reason(
    jobs_api, files, tmp_path
):
    gate = tmp_path / "gate"
    a = await gated(jobs_api, gate, 3, "step-a")
    b = await jobs_api.submit({"path": "quick.py", "name": "step-b", "after": [a["id"]]})
    c = await jobs_api.submit(
        {"path": "quick.py", "name": "step-c", "after": [b["id"]], "when": "ok"}
    )
    assert b["after"] == [a["id"]] and b["when"] == "ok"
    b = await wait_queued_waiting(jobs_api, b["id"])
    c = await wait_queued_waiting(jobs_api, c["id"])
    assert b["status"] == "queued" and b["reason"] == f"waiting for {short(a)}"
    assert c["status"] == "queued" and c["reason"] == f"waiting for {short(b)}"
    assert b["started_at"] is None and b["backend_ref"] is None
    gate.write_text("")
    c = await jobs_api.wait(c["id"])
    b = await jobs_api.get(b["id"])
    a = await jobs_api.get(a["id"])
    assert a["status"] == "failed"
    assert b["status"] == "cancelled" and b["reason"] == f"{short(a)} failed"
    assert c["status"] == "cancelled"
    assert c["reason"] == f"{short(b)} was cancelled: {short(a)} failed"
    assert b["started_at"] is None and c["started_at"] is None
    assert b["exit_code"] is None


async def test_chain_that_runs(jobs_api, files, tmp_path):
    gate = tmp_path / "gate"
    a = await gated(jobs_api, gate, 0, "a")
    b = await gated(jobs_api, gate, 0, "b")
    c = await jobs_api.submit({"path": "quick.py", "after": [a["id"], b["id"]]})
    c = await wait_queued_waiting(jobs_api, c["id"])
    assert c["reason"] == f"waiting for {short(a)}, {short(b)}"
    gate.write_text("")
    c = await jobs_api.wait(c["id"])
    a, b = await jobs_api.get(a["id"]), await jobs_api.get(b["id"])
    assert c["status"] == "completed", c
    assert c["started_at"] >= max(a["finished_at"], b["finished_at"])
    assert "ran" in await jobs_api.log(c["id"])


@pytest.mark.parametrize(
    "when,parent_code,expected",
    [
        ("any", 3, "completed"),
        ("any", 0, "completed"),
        ("failed", 3, "completed"),
        ("failed", 0, "cancelled"),
        ("ok", 0, "completed"),
    ],
)
async def test_when(jobs_api, files, tmp_path, when, parent_code, expected):
    gate = tmp_path / "gate"
    a = await gated(jobs_api, gate, parent_code, "parent")
    b = await jobs_api.submit({"path": "quick.py", "after": [a["id"]], "when": when})
    assert b["when"] == when
    b = await wait_queued_waiting(jobs_api, b["id"])
    assert b["status"] == "queued"
    gate.write_text("")
    b = await jobs_api.wait(b["id"])
    assert b["status"] == expected, b
    if expected == "cancelled":
        assert b["reason"] == (f"{short(a)} completed; this job was to run only if it did not")


async def test_a_cancelled_parent_releases_failed_and_any(jobs_api, files, tmp_path):
    gate = tmp_path / "gate"
    a = await gated(jobs_api, gate, 0, "parent")
    on_failure = await jobs_api.submit({"path": "quick.py", "after": [a["id"]], "when": "failed"})
    on_ok = await jobs_api.submit({"path": "quick.py", "after": [a["id"]]})
    await wait_queued_waiting(jobs_api, on_ok["id"])
    r = await jobs_api.request("POST", f"jobs/{a['id']}/cancel")
    assert r.code in (200, 202), r.body
    assert (await jobs_api.wait(on_failure["id"]))["status"] == "completed"
    on_ok = await jobs_api.wait(on_ok["id"])
    assert on_ok["status"] == "cancelled"
    assert on_ok["reason"].startswith(f"{short(a)} was cancelled")


async def test_a_held_job_can_be_cancelled(jobs_api, files, tmp_path):
    gate = tmp_path / "gate"
    a = await gated(jobs_api, gate, 0, "parent")
    b = await jobs_api.submit({"path": "quick.py", "after": [a["id"]], "name": "held"})
    await wait_queued_waiting(jobs_api, b["id"])
    r = await jobs_api.request("POST", f"jobs/{b['id']}/cancel")
    assert r.code in (200, 202), r.body
    b = await jobs_api.wait(b["id"])
    assert b["status"] == "cancelled" and b["started_at"] is None
    gate.write_text("")
    assert (await jobs_api.wait(a["id"]))["status"] == "completed"
    assert (await jobs_api.get(b["id"]))["status"] == "cancelled"  # stays so
    # a parent may go once its dependants ended
    r = await jobs_api.request("DELETE", f"jobs/{a['id']}")
    assert r.code == 204, r.body


async def test_refusals_name_the_field_in_the_users_words(jobs_api, files, tmp_path):
    gate = tmp_path / "gate"
    gate.write_text("")
    done = await gated(jobs_api, gate, 0, "done")
    failed = await gated(jobs_api, gate, 1, "broken")
    done = await jobs_api.wait(done["id"])
    failed = await jobs_api.wait(failed["id"])
    before = {j["id"] for j in await list_all(jobs_api)}
    cases = [
        ({"after": ["0" * 32]}, 400, f"Wait for: there is no job {'0' * 32}"),
        ({"after": "not an id!"}, 400, "Wait for: 'not an id!' is not a job id"),
        ({"after": [done["id"], done["id"]]}, 400, "is named twice"),
        ({"after": [str(i) for i in range(101)]}, 400, "Wait for: at most 100 jobs, not 101"),
        ({"after": {"a": 1}}, 400, "Wait for must be a list of job ids"),
        ({"after": [7]}, 400, "Wait for: 7 is not a job id"),
        (
            {"after": [done["id"]], "when": "sometimes"},
            400,
            "Start when: 'sometimes' is not one of",
        ),
        ({"when": 3}, 400, "Start when: 3 is not one of ok, any, failed"),
        ({"after": [failed["id"]]}, 409, f"{short(failed)} failed, so this job would never start"),
        (
            {"after": [done["id"]], "when": "failed"},
            409,
            f"{short(done)} completed; this job was to run only if it did not",
        ),
    ]
    for extra, code, text in cases:
        r = await jobs_api.request("POST", "jobs", {"path": "quick.py", **extra})
        body = json.loads(r.body)
        assert r.code == code, (extra, r.code, body)
        assert text in body["message"], (extra, body)
    assert {j["id"] for j in await list_all(jobs_api)} == before  # nothing was created
    # a parent that already ended the right way: the job starts now
    ok = await jobs_api.submit({"path": "quick.py", "after": [done["id"]]})
    assert (await jobs_api.wait(ok["id"]))["status"] == "completed"
    anyway = await jobs_api.submit({"path": "quick.py", "after": [failed["id"]], "when": "any"})
    assert (await jobs_api.wait(anyway["id"]))["status"] == "completed"


async def test_deleting_a_parent_that_a_queued_job_waits_for_is_refused(
    jobs_api, files, tmp_path, manager
):
    gate = tmp_path / "gate"
    a = await gated(jobs_api, gate, 0, "parent")
    b = await jobs_api.submit({"path": "quick.py", "after": [a["id"]], "name": "child"})
    await wait_queued_waiting(jobs_api, b["id"])
    # the parent ended, and the dependant is still held (its owner's queue not looked at yet):
    # the window a delete can hit, made wide by holding the queue look
    held = manager.waiting["local"]
    manager.waiting["local"] = []
    try:
        gate.write_text("")
        await jobs_api.wait(a["id"])
        r = await jobs_api.request("DELETE", f"jobs/{a['id']}")
        assert r.code == 409, r.body
        assert f"{short(b)} waits for it" in json.loads(r.body)["message"]
    finally:
        manager.waiting["local"] = held
    await manager.sync()
    assert (await jobs_api.wait(b["id"]))["status"] == "completed"


async def list_all(api):
    r = await api.request("GET", "jobs", limit="500")
    assert r.code == 200, r.body
    return json.loads(r.body)["jobs"]


SWEEP_CHILD = """\
import os, sys, time
while not os.path.exists(os.environ["GATE"]):
    time.sleep(0.05)
sys.exit(int(sys.argv[-1]))
"""


@pytest.mark.parametrize(
    "codes,when,expected",
    [([0, 0], "ok", "completed"), ([0, 5], "ok", "cancelled"), ([0, 5], "any", "completed")],
)
async def test_a_sweep_as_parent_waits_for_every_child(
    jobs_api, files, tmp_path, codes, when, expected
):
    (files / "child.py").write_text(SWEEP_CHILD)
    gate = tmp_path / "gate"
    sweep = await jobs_api.submit(
        {"path": "child.py", "grid": {"code": codes}, "env": {"GATE": str(gate)}, "name": "grid"}
    )
    assert sweep["kind"] == "sweep"
    after = await jobs_api.submit({"path": "quick.py", "after": [sweep["id"]], "when": when})
    after = await wait_queued_waiting(jobs_api, after["id"])
    assert after["reason"] == f"waiting for {short(sweep)}"
    gate.write_text("")
    after = await jobs_api.wait(after["id"])
    sweep = await jobs_api.get(sweep["id"])
    kids = [await jobs_api.get(c) for c in sweep["children"]]
    assert after["status"] == expected, after
    if expected == "completed":
        assert after["started_at"] >= max(k["finished_at"] for k in kids)
    else:
        assert sweep["status"] == "failed"
        assert after["reason"] == f"{short(sweep)} failed"
    # a sweep may wait too (tests/integration/test_sweep_after.py): here, for the ended sweep
    again = await jobs_api.submit(
        {
            "path": "child.py",
            "grid": {"code": [0]},
            "env": {"GATE": str(gate)},
            "after": [sweep["id"]],
            "when": "any",
        }
    )
    assert again["after"] == [sweep["id"]]
    assert (await jobs_api.wait(again["id"]))["status"] == "completed"
