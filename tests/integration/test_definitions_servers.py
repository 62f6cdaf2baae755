"""Job definitions fired for real by running servers (issue 12), in real server processes.

One test, about two and a half minutes: two servers on one job root; a definition created on one
is paused and resumed from the other; an every-minute definition fires at its minute exactly once
although both servers look for it twice a second; a definition deleted on one server is gone on
the other and fires nowhere; then both servers stop, an occurrence passes with no server, and a
server started afterwards runs it (catch-up ``latest``) — once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import time
from datetime import datetime, timezone

import pytest

from benchmarks._server import ServerProcess, request
from tests.multi.servers import wait_until

API = "jupyter-jobs/api"
CONFIG = {
    "JobDefinitions": {"check_interval": 0.5, "late_after": 5.0},
    "LocalSpawner": {"poll_interval": 0.5},
}


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


async def runs(server, definition_id):
    _, page, _ = await request(server, "GET", f"{API}/jobs?definition={definition_id}", expect=200)
    return page["jobs"]


#: ``wait_for(predicate, timeout, what)``
wait_for = functools.partial(wait_until, interval=0.25)


def servers(tmp_path, *names):
    """Servers of one root and one job root (each its own Jupyter dirs and log)."""
    root, job_root = tmp_path / "root", tmp_path / "job-root"
    os.makedirs(root, exist_ok=True)
    return [
        ServerProcess(
            config=CONFIG,
            root_dir=str(root),
            job_root=str(job_root),
            workdir=str(tmp_path / name),
        )
        for name in names
    ]


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_every_minute_on_two_servers_then_caught_up_after_no_server_ran(tmp_path):
    a, b = servers(tmp_path, "server-a", "server-b")
    code = "import datetime; print('ran at', datetime.datetime.now())"
    body = {"command": [sys.executable, "-c", code], "schedule": "* * * * *", "timezone": "UTC"}
    a.start()
    try:
        b.start()
        try:
            # created on A, seen, paused and resumed from B
            _, d, _ = await request(a, "POST", f"{API}/job-definitions", body, expect=201)
            url = f"{API}/job-definitions/{d['id']}"
            _, seen, _ = await request(b, "GET", url, expect=200)
            assert seen["schedule_description"] == "every minute" and seen["revision"] == 1
            await request(b, "PATCH", url, {"active": False}, expect=200)
            _, paused, _ = await request(a, "GET", url, expect=200)
            assert paused["active"] is False and paused["revision"] == 2
            _, resumed, _ = await request(b, "PATCH", url, {"active": True}, expect=200)
            assert resumed["next_run_at"] and resumed["revision"] == 3
            # another, deleted on B right away: gone on A, fires nowhere
            _, gone, _ = await request(a, "POST", f"{API}/job-definitions", body, expect=201)
            await request(b, "DELETE", f"{API}/job-definitions/{gone['id']}", expect=204)
            await request(a, "GET", f"{API}/job-definitions/{gone['id']}", expect=404)

            # the every-minute definition fires at its next minute: once, whoever fires it
            first = await wait_for(lambda: runs(a, d["id"]), 75, "the first run")
            occurrence = parse(first[0]["scheduled_for"])
            assert occurrence.second == 0 and occurrence >= parse(resumed["updated_at"])
            await asyncio.sleep(3)  # both servers looked a few more times
            fired = [
                j for j in await runs(b, d["id"]) if j["scheduled_for"] == first[0]["scheduled_for"]
            ]
            assert len(fired) == 1, fired
            markers = os.listdir(os.path.join(a.job_root, "definitions", d["id"]))
            assert f"fired-{int(occurrence.timestamp())}" in markers
            assert await runs(a, gone["id"]) == []
        finally:
            b.stop()
    finally:
        a.stop()

    # no server runs now: wait until an occurrence has passed, and a bit more than late_after
    stopped = datetime.now(timezone.utc)
    missed = stopped.replace(second=0, microsecond=0).timestamp() + 60
    await asyncio.sleep(max(0.0, missed + 7 - time.time()))
    before = {j["id"] for j in first}
    (late,) = servers(tmp_path, "server-late")
    late.start()
    try:

        async def caught_up():
            return [
                j
                for j in await runs(late, d["id"])
                if j["id"] not in before
                and parse(j["scheduled_for"]) < datetime.fromtimestamp(missed + 60, timezone.utc)
            ]

        new = await wait_for(caught_up, 20, "the caught-up run")
        assert len(new) >= 1
        newest_missed = max(parse(j["scheduled_for"]) for j in new)
        # the most recent occurrence that passed while no server ran, once
        assert sum(1 for j in new if parse(j["scheduled_for"]) == newest_missed) == 1
        assert newest_missed.timestamp() >= missed
        marker = os.path.join(
            late.job_root, "definitions", d["id"], f"fired-{int(newest_missed.timestamp())}"
        )
        with open(marker) as f:
            assert json.load(f)["caught_up"] is True  # found late: the catch-up policy ran it
        await request(late, "DELETE", f"{API}/job-definitions/{d['id']}", expect=204)
        for job in await runs(late, d["id"]):
            _, j, _ = await request(late, "GET", f"{API}/jobs/{job['id']}", expect=200)
            if j["status"] not in ("completed", "failed", "cancelled", "lost"):
                await request(late, "POST", f"{API}/jobs/{job['id']}/cancel")
    finally:
        late.stop()
