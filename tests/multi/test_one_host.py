"""Two real Jupyter servers of one user on one host share one job root: every job runs exactly once,
both see every job, a cancel reaches a job from either, and a SIGKILLed server's jobs are taken
over by the other."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from benchmarks._server import request
from tests.multi.servers import (
    API,
    RUN_SCRIPT,
    get,
    index_files,
    integrity,
    list_ids,
    most_at_once,
    runs,
    start_server,
    submit,
    wait_final,
    wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def place(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "work.py").write_text(RUN_SCRIPT)
    return {
        "root": str(root),
        "job_root": str(tmp_path / "job-root"),
        "a": str(tmp_path / "server-a"),
        "b": str(tmp_path / "server-b"),
        "runs": str(root / "runs.log"),
    }


def body(place, seconds=0.3, code=0, **extra):
    return {
        "path": "work.py",
        "args": [str(seconds), str(code)],
        "env": {"RUNS_LOG": place["runs"]},
        **extra,
    }


async def test_queued_jobs_run_once_with_one_slot_across_two_servers(place):
    config = {"LocalSpawner": {"max_concurrent": 1}}
    a = start_server(place["a"], place["job_root"], place["root"], config=config)
    try:
        ids = [(await submit(a, body(place, 0.4)))["id"] for _ in range(4)]
        b = start_server(place["b"], place["job_root"], place["root"], config=config)
        try:
            ids += [(await submit(b, body(place, 0.4)))["id"] for _ in range(4)]
            jobs = await wait_final(b, ids)
            assert all(j["status"] == "completed" for j in jobs.values()), jobs
            ran = runs(place["root"])
            assert sorted(r[0] for r in ran) == sorted(ids)  # each of the 8 exactly once
            assert most_at_once(ran) == 1  # one slot on this host, shared by both servers
            assert await list_ids(a) == await list_ids(b) == set(ids)
        finally:
            b.stop()
    finally:
        a.stop()
    integrity(*index_files(place["a"], place["job_root"]))


async def test_concurrent_submissions_on_both_servers_are_all_seen_by_both(place):
    config = {"LocalSpawner": {"max_concurrent": 4}}
    a = start_server(place["a"], place["job_root"], place["root"], config=config)
    b = start_server(place["b"], place["job_root"], place["root"], config=config)
    try:
        made = await asyncio.gather(
            *[submit(s, body(place, 0.1)) for s in (a, b) for _ in range(20)]
        )
        ids = {j["id"] for j in made}
        assert len(ids) == 40
        # within one sync interval (0.5 s here) each server lists the other's jobs
        await wait_until(lambda: _lists_all(a, ids), 5, "a lists all 40")
        await wait_until(lambda: _lists_all(b, ids), 5, "b lists all 40")
        jobs = await wait_final(a, ids, timeout=120)
        assert all(j["status"] == "completed" for j in jobs.values())
        assert sorted(r[0] for r in runs(place["root"])) == sorted(ids)
        # b shows a's finished job with its log
        one = next(j for j in made[:20])
        _, log, _ = await request(b, "GET", f"{API}/jobs/{one['id']}/log", expect=200)
        assert log.splitlines() == [f"line {k}" for k in range(5)]
    finally:
        a.stop()
        b.stop()
    integrity(*index_files(place["a"], place["job_root"]))


async def _lists_all(server, ids):
    return ids <= await list_ids(server)


async def test_cancel_from_the_other_server_reaches_the_owner(place):
    a = start_server(place["a"], place["job_root"], place["root"])
    b = start_server(place["b"], place["job_root"], place["root"])
    try:
        job = await submit(a, body(place, 30))
        await wait_until(lambda: _status_is(b, job["id"], "running"), 10, "b sees the job running")
        _, shown, _ = await request(b, "DELETE", f"{API}/jobs/{job['id']}", expect=409)
        _, shown, _ = await request(b, "POST", f"{API}/jobs/{job['id']}/cancel", expect=202)
        assert shown["status"] == "cancelling"
        final = (await wait_final(a, [job["id"]], timeout=20))[job["id"]]
        assert final["status"] == "cancelled" and final["exit_code"] is None, final
        seen_by_b = (await wait_final(b, [job["id"]], timeout=10))[job["id"]]
        assert seen_by_b["status"] == "cancelled"
        assert runs(place["root"]) == []  # it never got to its end
    finally:
        a.stop()
        b.stop()


async def _status_is(server, job_id, status):
    return (await get(server, job_id))["status"] == status


async def test_sigkilled_owner_its_jobs_taken_over_exactly_once(place):
    config = {"LocalSpawner": {"max_concurrent": 2}}
    a = start_server(place["a"], place["job_root"], place["root"], config=config)
    b = start_server(place["b"], place["job_root"], place["root"], config=config)
    try:
        # two running on a, four queued behind them; codes say which is which
        ids = [(await submit(a, body(place, 3.0, code=i % 3)))["id"] for i in range(6)]
        statuses = [(await get(a, i))["status"] for i in ids]
        assert statuses.count("running") == 2 and statuses.count("queued") == 4, statuses
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)
        jobs = await wait_final(b, ids, timeout=90)
        for i, job_id in enumerate(ids):
            job = jobs[job_id]
            want = "completed" if i % 3 == 0 else "failed"
            assert job["status"] == want and job["exit_code"] == i % 3, (i, job)
            _, log, _ = await request(b, "GET", f"{API}/jobs/{job_id}/log", expect=200)
            assert log.splitlines() == [f"line {k}" for k in range(5)], (i, log)
        ran = runs(place["root"])
        assert sorted(r[0] for r in ran) == sorted(ids)  # exactly once each, none twice
        assert most_at_once(ran) <= 2
    finally:
        a._terminate()
        b.stop()
    integrity(*index_files(place["b"], place["job_root"]))


@pytest.mark.parametrize("delay_ms", [0, 10, 50, 100])
async def test_cancel_at_any_instant_after_submit_ends_cancelled(place, delay_ms):
    a = start_server(place["a"], place["job_root"], place["root"])
    try:
        trap = {
            "command": [
                "python",
                "-c",
                "import signal, sys, time\n"
                "signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))\n"
                "time.sleep(30)",
            ]
        }
        ids = []
        for _ in range(3):
            job = await submit(a, trap)
            await asyncio.sleep(delay_ms / 1000)
            code, shown, _ = await request(a, "POST", f"{API}/jobs/{job['id']}/cancel")
            assert code == 202, shown
            ids.append(job["id"])
        jobs = await wait_final(a, ids, timeout=30)
        for job in jobs.values():
            # never lost, and always the same exit code: a cancelled job has none
            assert job["status"] == "cancelled", job
            assert job["exit_code"] is None, job
    finally:
        a.stop()


async def test_full_disk_refuses_the_job_whole(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    import subprocess

    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], check=True)
    try:
        root = tmp_path / "root"
        root.mkdir()
        (root / "hello.py").write_text("print('hi')\n")
        job_root = small / "job-root"
        server = start_server(str(tmp_path / "server"), str(job_root), str(root))
        try:
            refused = None
            made = []
            # fill the filesystem with a big env until the next job does not fit
            for _ in range(200):
                code, data, _ = await request(
                    server,
                    "POST",
                    f"{API}/jobs",
                    {"path": "hello.py", "env": {"PAD": "x" * 30000}},
                )
                if code != 201:
                    refused = (code, data)
                    break
                made.append(data["id"])
            assert refused is not None, "the tmpfs never filled"
            code, data = refused
            assert code == 507, refused
            assert "no space left" in data["message"]
            listed = await list_ids(server)
            assert listed == set(made)  # nothing half-created is listed
            dirs = {n for n in os.listdir(job_root) if len(n) == 32}
            assert dirs == set(made)  # and nothing half-created is on disk
            assert not [n for n in os.listdir(job_root) if n.startswith(".new-")]
        finally:
            server.stop()
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


async def test_server_sigkilled_mid_submissions_leaves_every_job_whole(place):
    """Killed while 30 submissions are in flight: each job is there whole (record and spec) or
    not at all, the index is sound, and the next server runs every job that is there once."""
    a = start_server(place["a"], place["job_root"], place["root"])
    pending = [asyncio.ensure_future(_try_submit(a, body(place, 0.1))) for _ in range(30)]
    await asyncio.sleep(0.15)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(10)
    codes = await asyncio.gather(*pending)
    b = start_server(place["b"], place["job_root"], place["root"])
    try:
        dirs = {n for n in os.listdir(place["job_root"]) if len(n) == 32}
        print(f"{codes.count(201)} created, {codes.count(None)} cut off, {len(dirs)} on disk")
        assert codes.count(None) > 0, "the server was not killed mid-submissions"
        assert len(dirs) >= codes.count(201)
        for job_id in dirs:
            for name in ("job.json", "spec.json"):
                assert os.path.getsize(os.path.join(place["job_root"], job_id, name)) > 0
        assert not [n for n in os.listdir(place["job_root"]) if n.startswith((".new-", ".tmp-"))]
        assert await list_ids(b) == dirs
        jobs = await wait_final(b, dirs, timeout=120)
        assert all(j["status"] == "completed" for j in jobs.values()), jobs
        assert sorted(r[0] for r in runs(place["root"])) == sorted(dirs)
    finally:
        b.stop()
    integrity(*index_files(place["a"], place["job_root"]))


async def _try_submit(server, payload):
    try:
        code, _, _ = await request(server, "POST", f"{API}/jobs", payload)
        return code
    except Exception:  # the server died mid-request
        return None
