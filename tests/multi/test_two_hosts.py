"""Two "hosts" share one job root over a network filesystem: two real Jupyter servers, each on its own
sshfs mount of one folder (each mount with its own caches, as two NFS clients have), each playing
another host (``JUPYTER_JOBS_HOST``), so neither can see the other's processes as its own.

Every job is seen on both, runs once, is cancelled from either; the index is kept off the shared
filesystem; a host that dies has its jobs taken over by the other after the lease timeout."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from benchmarks._server import EventStream, request
from tests.multi.servers import (
    API,
    RUN_SCRIPT,
    get,
    index_files,
    integrity,
    list_ids,
    runs,
    start_server,
    submit,
    wait_final,
    wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def hosts(two_hosts, tmp_path):
    """Host A and host B: the job root and the home (the server root) on the shared folder."""
    (two_hosts.shared / "home").mkdir()
    (two_hosts.shared / "home" / "work.py").write_text(RUN_SCRIPT)
    out = {}
    for name, mount in (("a", two_hosts.a), ("b", two_hosts.b)):
        out[name] = {
            "root": str(mount / "home"),
            "job_root": str(mount / "job-root"),
            "workdir": str(tmp_path / f"server-{name}"),
            "host": f"host-{name}",
            "runs": str(mount / "home" / "runs.log"),
        }
    out["shared_runs"] = str(two_hosts.shared / "home")
    return out


def start(h, **config):
    return start_server(h["workdir"], h["job_root"], h["root"], host=h["host"], config=config)


def body(h, seconds=0.3, code=0):
    return {"path": "work.py", "args": [str(seconds), str(code)], "env": {"RUNS_LOG": h["runs"]}}


async def test_jobs_of_both_hosts_seen_on_both_run_once_and_the_index_stays_sound(hosts):
    a = start(hosts["a"], LocalSpawner={"max_concurrent": 4})
    b = start(hosts["b"], LocalSpawner={"max_concurrent": 4})
    try:
        made = await asyncio.gather(
            *[submit(a, body(hosts["a"], 0.2)) for _ in range(20)],
            *[submit(b, body(hosts["b"], 0.2)) for _ in range(20)],
        )
        ids = {j["id"] for j in made}
        assert len(ids) == 40
        # each lists the other's jobs within one sync interval (0.5 s here) plus the mount
        await wait_until(lambda: _lists(a, ids), 10, "host A lists all 40")
        await wait_until(lambda: _lists(b, ids), 10, "host B lists all 40")
        jobs = await wait_final(b, ids, timeout=180)
        assert all(j["status"] == "completed" for j in jobs.values()), jobs
        ran = runs(hosts["shared_runs"])
        assert sorted(r[0] for r in ran) == sorted(ids)  # every job exactly once
        hosts_seen = {j["host"] for j in jobs.values()}
        assert hosts_seen == {"host-a", "host-b"}  # each job ran where it was submitted
        # a job of host A, read on host B: status, exit code and whole log
        one = made[0]
        seen = await get(b, one["id"])
        assert seen["status"] == "completed" and seen["exit_code"] == 0 and seen["host"] == "host-a"
        _, log, _ = await request(b, "GET", f"{API}/jobs/{one['id']}/log", expect=200)
        assert log.splitlines() == [f"line {k}" for k in range(5)]
    finally:
        a.stop()
        b.stop()
    # the index is on each host's local disk, not in the shared job root
    assert not os.path.exists(os.path.join(hosts["a"]["job_root"], "jobs.db"))
    for h in ("a", "b"):
        files = index_files(hosts[h]["workdir"], hosts[h]["job_root"])
        assert files, h
        integrity(*files)


async def _lists(server, ids):
    return ids <= await list_ids(server)


PROGRESS_SCRIPT = """\
import time
print(" 40%|####      | 2/5", flush=True)
time.sleep(60)
"""


async def test_cancel_from_host_b_stops_a_job_running_on_host_a(hosts, two_hosts):
    """B shows A's job live (status, progress, log, events in B's browser) and cancels it."""
    (two_hosts.shared / "home" / "progress.py").write_text(PROGRESS_SCRIPT)
    a = start(hosts["a"])
    b = start(hosts["b"])
    try:
        async with EventStream(b) as events_b:
            job = await submit(a, {"path": "progress.py"})
            await events_b.wait_for(
                lambda d: d.get("job_id") == job["id"] and d.get("action") == "created", 10
            )
            await wait_until(lambda: _running_with_log(b, job["id"]), 15, "B sees it run, with log")
            await wait_until(lambda: _progress(b, job["id"]), 15, "B sees its progress")
            await request(b, "POST", f"{API}/jobs/{job['id']}/cancel", expect=202)
            _, event = await events_b.wait_final(job["id"], timeout=30)
            assert event["status"] == "cancelled"
        final = (await wait_final(b, [job["id"]], timeout=30))[job["id"]]
        assert final["status"] == "cancelled" and final["exit_code"] is None, final
        assert (await get(a, job["id"]))["status"] == "cancelled"
    finally:
        a.stop()
        b.stop()


async def _progress(server, job_id):
    progress = (await get(server, job_id))["progress"] or {}
    return progress.get("fraction") == 0.4 and progress.get("message") == "2/5"


async def _running_with_log(server, job_id):
    job = await get(server, job_id)
    if job["status"] != "running":
        return False
    _, log, _ = await request(server, "GET", f"{API}/jobs/{job_id}/log", expect=200)
    return bool(log)


async def test_a_dead_host_s_jobs_are_taken_over_never_lost(hosts):
    """Host A's server is SIGKILLed: its queued jobs start once on host B after the lease timeout;
    its running ones (their runners still alive on host A) are followed from their files on B and
    end with the right status, exit code and whole log."""
    a = start(hosts["a"], LocalSpawner={"max_concurrent": 2})
    b = start(hosts["b"], LocalSpawner={"max_concurrent": 2})
    try:
        ids = [(await submit(a, body(hosts["a"], 6.0, code=i % 2)))["id"] for i in range(4)]
        statuses = [(await get(a, i))["status"] for i in ids]
        assert statuses.count("running") == 2 and statuses.count("queued") == 2, statuses
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)
        jobs = await wait_final(b, ids, timeout=120)
        for i, job_id in enumerate(ids):
            job = jobs[job_id]
            want = "completed" if i % 2 == 0 else "failed"
            assert job["status"] == want and job["exit_code"] == i % 2, (i, job)
            _, log, _ = await request(b, "GET", f"{API}/jobs/{job_id}/log", expect=200)
            assert log.splitlines() == [f"line {k}" for k in range(5)], (i, log)
        # the two that ran on A stayed there; the two queued ones ran on B
        assert sorted(jobs[i]["host"] for i in ids) == ["host-a", "host-a", "host-b", "host-b"]
        assert sorted(r[0] for r in runs(hosts["shared_runs"])) == sorted(ids)
    finally:
        a._terminate()
        b.stop()
    integrity(*index_files(hosts["b"]["workdir"], hosts["b"]["job_root"]))
