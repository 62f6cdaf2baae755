"""Job definitions on a real Jupyter server (issue 12): the REST API, validation, and the local
firing rules — overlap, retries, history, catch-up — with "now" advanced by calling the firing
look (``JobDefinitions.tick(now=...)``) instead of waiting. The real every-minute firing across
a server stop, and two servers on one job root, are in test_definitions_servers.py."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

API = "job-definitions"


@pytest.fixture
def jobs_config():
    # the firing loop stays off: each test calls tick() with its own "now"
    return {"JobManager": {"fires_definitions": False}}


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def create(jobs_api, body, expect=201):
    r = await jobs_api.request("POST", API, body)
    assert r.code == expect, r.body
    return json.loads(r.body)


async def get_def(jobs_api, definition_id, expect=200):
    r = await jobs_api.request("GET", f"{API}/{definition_id}")
    assert r.code == expect, r.body
    return json.loads(r.body) if r.body else None


async def runs(jobs_api, definition_id):
    r = await jobs_api.request("GET", "jobs", definition=definition_id)
    assert r.code == 200, r.body
    return json.loads(r.body)["jobs"]


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


async def until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_create_get_list_change_and_delete(jobs_api, jp_root_dir, manager):
    (jp_root_dir / "report.py").write_text("print('report')\n")
    r = await jobs_api.request(
        "POST",
        API,
        {"path": "report.py", "schedule": "0 6 * * 1-5", "timezone": "Europe/Berlin"},
    )
    assert r.code == 201, r.body
    d = json.loads(r.body)
    assert r.headers["Location"].endswith(f"/jupyter-jobs/api/job-definitions/{d['id']}")
    assert d["schedule_description"] == "every weekday at 06:00"
    assert d["kind"] == "script" and d["name"] == "report.py" and d["path"] == "report.py"
    assert d["revision"] == 1 and d["active"] is True and d["overlap"] == "skip"
    assert d["last_run"] is None and d["run_count"] == 0 and d["fired_by"] == "server"
    nxt = parse(d["next_run_at"]).astimezone(timezone.utc)
    from zoneinfo import ZoneInfo

    local = nxt.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (6, 0) and local.isoweekday() <= 5
    assert nxt > datetime.now(timezone.utc)
    # stored in the job root, where every server of it reads it
    path = os.path.join(manager.job_root, "definitions", d["id"], "definition.json")
    with open(path) as f:
        assert json.load(f)["schedule"] == "0 6 * * 1-5"

    r = await jobs_api.request("GET", API)
    assert [x["id"] for x in json.loads(r.body)["definitions"]] == [d["id"]]

    paused = json.loads(
        (await jobs_api.request("PATCH", f"{API}/{d['id']}", {"active": False})).body
    )
    assert paused["active"] is False and paused["revision"] == 2 and paused["next_run_at"] is None
    stale = await jobs_api.request("PATCH", f"{API}/{d['id']}", {"active": True, "revision": 1})
    assert stale.code == 409 and json.loads(stale.body)["field"] == "revision"
    resumed = json.loads(
        (
            await jobs_api.request(
                "PATCH", f"{API}/{d['id']}", {"active": True, "schedule": "@hourly", "revision": 2}
            )
        ).body
    )
    assert resumed["active"] and resumed["revision"] == 3
    assert resumed["schedule_description"] == "every hour at :00"

    r = await jobs_api.request("DELETE", f"{API}/{d['id']}")
    assert r.code == 204
    await get_def(jobs_api, d["id"], expect=404)
    assert not os.path.exists(os.path.dirname(path))


@pytest.mark.parametrize(
    "body,field,words",
    [
        ({"schedule": "61 * * * *"}, "schedule", "minute 61 is out of range 0\u201359"),
        ({"schedule": "0 6 * *"}, "schedule", "a schedule has 5 fields"),
        ({"schedule": "0 6 * * FUNDAY"}, "schedule", "is not a day of the week"),
        ({"schedule": None}, "schedule", "Schedule is missing"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Time zone: 'Mars/Olympus' is not a known"),
        ({"timezone": "../../etc/passwd"}, "timezone", "is not a known time zone"),
        ({"overlap": "sometimes"}, "overlap", "Overlap: 'sometimes' is not a policy"),
        ({"retries": -1}, "retries", "Retries must be 0\u2013100"),
        ({"retry_delay": "soon"}, "retry_delay", "Retry delay must be a whole number"),
        ({"max_history": 0}, "max_history", "History limit must be 1\u201310000"),
        ({"active": "yes"}, "active", "Active must be true or false"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"resources": {"memory": "lots"}}, "resources.memory", "Memory: 'lots' is not a size"),
        ({"path": "missing.py"}, "path", "does not exist"),
        ({"after": ["0" * 32]}, "after", "cannot wait for other jobs"),
        ({"grid": {"x": [1, 2]}}, "grid", "not a sweep"),
    ],
)
async def test_bad_definitions_are_refused_in_the_users_words(
    jobs_api, jp_root_dir, manager, body, field, words
):
    (jp_root_dir / "ok.py").write_text("print(1)\n")
    full = {"path": "ok.py", "schedule": "0 6 * * *", **body}
    r = await jobs_api.request("POST", API, full)
    assert 400 <= r.code < 500, r.body
    error = json.loads(r.body)
    assert error["field"] == field and words in error["message"], error
    assert json.loads((await jobs_api.request("GET", API)).body)["definitions"] == []
    defs_dir = os.path.join(manager.job_root, "definitions")
    assert not os.path.isdir(defs_dir) or os.listdir(defs_dir) == []


async def test_unknown_definition_is_404(jobs_api, manager):
    for method in ("GET", "DELETE"):
        r = await jobs_api.request(method, f"{API}/0000nosuchdefinition")
        assert r.code == 404 and json.loads(r.body)["field"] == "definition_id"
    r = await jobs_api.request("POST", f"{API}/{'f' * 32}/run")
    assert r.code == 404


async def test_an_occurrence_fires_one_run_and_run_now_another(jobs_api, manager):
    d = await create(jobs_api, {"command": python("print('tick')"), "schedule": "*/5 * * * *"})
    defs = manager.definitions
    now = datetime.now(timezone.utc)
    await defs.tick(now=now)  # nothing due yet: it was just created
    assert await runs(jobs_api, d["id"]) == []
    later = now + timedelta(minutes=5, seconds=1)
    await defs.tick(now=later)
    await defs.tick(now=later)  # the same occurrence again: nothing more
    fired = await runs(jobs_api, d["id"])
    assert len(fired) == 1, fired
    run = fired[0]
    assert run["definition_id"] == d["id"] and run["attempt"] == 1
    occurrence = parse(run["scheduled_for"])
    assert occurrence.minute % 5 == 0 and occurrence.second == 0 and now < occurrence <= later
    done = await jobs_api.wait(run["id"])
    assert done["status"] == "completed" and "tick" in await jobs_api.log(run["id"])

    r = await jobs_api.request("POST", f"{API}/{d['id']}/run")
    assert r.code == 201, r.body
    now_run = json.loads(r.body)
    assert now_run["definition_id"] == d["id"] and now_run["scheduled_for"] is None
    assert r.headers["Location"].endswith(f"/jobs/{now_run['id']}")
    await jobs_api.wait(now_run["id"])
    shown = await get_def(jobs_api, d["id"])
    assert shown["run_count"] == 2 and shown["last_run"]["id"] == now_run["id"]
    assert shown["last_run"]["status"] == "completed"
    # a run is an ordinary job: the plain list has it too
    r = await jobs_api.request("GET", "jobs")
    assert {j["id"] for j in json.loads(r.body)["jobs"]} == {run["id"], now_run["id"]}


async def test_a_paused_definition_fires_nothing(jobs_api, manager):
    d = await create(
        jobs_api, {"command": python("pass"), "schedule": "* * * * *", "active": False}
    )
    await manager.definitions.tick(now=datetime.now(timezone.utc) + timedelta(minutes=3))
    assert await runs(jobs_api, d["id"]) == []


async def test_catch_up_latest_runs_the_most_recent_missed_occurrence_once(jobs_api, manager):
    d = await create(jobs_api, {"command": python("pass"), "schedule": "*/10 * * * *"})
    now = datetime.now(timezone.utc)
    down = now + timedelta(hours=2, minutes=3)  # no look for two hours: 12 occurrences missed
    await manager.definitions.tick(now=down)
    await manager.definitions.tick(now=down + timedelta(seconds=30))
    fired = await runs(jobs_api, d["id"])
    assert len(fired) == 1, fired
    occurrence = parse(fired[0]["scheduled_for"])
    assert occurrence == down.replace(
        minute=down.minute - down.minute % 10, second=0, microsecond=0
    )
    await jobs_api.wait(fired[0]["id"])


async def test_catch_up_skip_runs_none_of_the_missed(jobs_api, manager):
    manager.definitions.catch_up = "skip"
    d = await create(jobs_api, {"command": python("pass"), "schedule": "*/10 * * * *"})
    down = datetime.now(timezone.utc) + timedelta(hours=2, minutes=3)
    await manager.definitions.tick(now=down)
    assert await runs(jobs_api, d["id"]) == []
    # the next occurrence after that is due as usual
    nxt = down.replace(minute=down.minute - down.minute % 10, second=0) + timedelta(minutes=10)
    await manager.definitions.tick(now=nxt + timedelta(seconds=2))
    fired = await runs(jobs_api, d["id"])
    assert [parse(j["scheduled_for"]) for j in fired] == [nxt.replace(microsecond=0)]
    await jobs_api.wait(fired[0]["id"])


async def test_overlap_skip_records_why(jobs_api, manager):
    d = await create(
        jobs_api,
        {"command": python("import time; time.sleep(60)"), "schedule": "* * * * *"},
    )
    t0 = datetime.now(timezone.utc)
    await manager.definitions.tick(now=t0 + timedelta(minutes=1, seconds=1))
    first = (await runs(jobs_api, d["id"]))[0]
    await jobs_api.wait(first["id"], statuses=("running",))
    await manager.definitions.tick(now=t0 + timedelta(minutes=2, seconds=1))
    assert [j["id"] for j in await runs(jobs_api, d["id"])] == [first["id"]]
    shown = await get_def(jobs_api, d["id"])
    assert shown["last_skipped"]["reason"].startswith("skipped: the previous run")
    assert "still running" in shown["last_skipped"]["reason"]
    await jobs_api.request("POST", f"jobs/{first['id']}/cancel")
    await jobs_api.wait(first["id"])


async def test_overlap_queue_starts_when_the_previous_ends(jobs_api, manager):
    d = await create(
        jobs_api,
        {
            "command": python("import time; time.sleep(60)"),
            "schedule": "* * * * *",
            "overlap": "queue",
        },
    )
    t0 = datetime.now(timezone.utc)
    defs = manager.definitions
    await defs.tick(now=t0 + timedelta(minutes=1, seconds=1))
    first = (await runs(jobs_api, d["id"]))[0]
    await jobs_api.wait(first["id"], statuses=("running",))
    await defs.tick(now=t0 + timedelta(minutes=2, seconds=1))  # queued
    await defs.tick(now=t0 + timedelta(minutes=3, seconds=1))  # one waits already: skipped
    assert len(await runs(jobs_api, d["id"])) == 1
    await jobs_api.request("POST", f"jobs/{first['id']}/cancel")
    await jobs_api.wait(first["id"])
    await defs.tick(now=t0 + timedelta(minutes=3, seconds=2))
    later = await runs(jobs_api, d["id"])
    assert len(later) == 2, later
    queued = later[0]
    expected = (t0 + timedelta(minutes=2, seconds=1)).replace(second=0, microsecond=0)
    assert parse(queued["scheduled_for"]) == expected
    await defs.tick(now=t0 + timedelta(minutes=3, seconds=3))
    assert len(await runs(jobs_api, d["id"])) == 2  # started once
    await jobs_api.request("POST", f"jobs/{queued['id']}/cancel")
    await jobs_api.wait(queued["id"])


async def test_failed_runs_are_retried_with_the_attempt_noted(jobs_api, manager):
    d = await create(
        jobs_api,
        {
            "command": python("raise SystemExit(3)"),
            "schedule": "0 0 1 1 *",
            "retries": 2,
            "retry_delay": 0,
        },
    )
    r = await jobs_api.request("POST", f"{API}/{d['id']}/run")
    first = json.loads(r.body)
    assert (await jobs_api.wait(first["id"]))["status"] == "failed"
    for attempt in (2, 3):
        await manager.definitions.tick()
        fired = await runs(jobs_api, d["id"])
        assert len(fired) == attempt, fired
        assert fired[0]["attempt"] == attempt
        assert (await jobs_api.wait(fired[0]["id"]))["status"] == "failed"
    await manager.definitions.tick()
    assert len(await runs(jobs_api, d["id"])) == 3  # 1 + 2 retries, no more


async def test_history_limit_deletes_the_oldest_ended_runs(jobs_api, manager):
    d = await create(
        jobs_api, {"command": python("pass"), "schedule": "0 0 1 1 *", "max_history": 2}
    )
    ids = []
    for _ in range(3):
        job = json.loads((await jobs_api.request("POST", f"{API}/{d['id']}/run")).body)
        await jobs_api.wait(job["id"])
        ids.append(job["id"])
    await manager.definitions.tick()
    left = [j["id"] for j in await runs(jobs_api, d["id"])]
    assert left == [ids[2], ids[1]]
    r = await jobs_api.request("GET", f"jobs/{ids[0]}")
    assert r.code == 404


async def test_backends_say_who_fires_their_schedules(jobs_api):
    r = await jobs_api.request("GET", "backends")
    backends = {b["name"]: b for b in json.loads(r.body)["backends"]}
    assert backends["local"]["schedules"] == "server"
    assert all(b["schedules"] in ("server", "engine") for b in backends.values())
