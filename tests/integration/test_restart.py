"""Jobs outlive the server: SIGKILL it with 20 jobs running and start it again."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from benchmarks._server import ServerProcess, request

SCRIPT = """\
import sys, time
i, seconds = int(sys.argv[1]), float(sys.argv[2])
for k in range(30):
    print(f"job {i} line {k}", flush=True)
    time.sleep(seconds / 30)
sys.exit(i % 3)
"""


async def wait_all_final(server, ids, timeout=90):
    deadline = time.monotonic() + timeout
    while True:
        jobs = {}
        for job_id in ids:
            _, job, _ = await request(server, "GET", f"jupyter-jobs/api/jobs/{job_id}", expect=200)
            jobs[job_id] = job
        if all(j["status"] in ("completed", "failed", "cancelled", "lost") for j in jobs.values()):
            return jobs
        if time.monotonic() > deadline:
            raise AssertionError({k: v["status"] for k, v in jobs.items()})
        await asyncio.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("sig,count", [(signal.SIGKILL, 22), (signal.SIGTERM, 6)])
async def test_jobs_survive_server_stop_and_are_reattached(tmp_path, sig, count):
    workdir = str(tmp_path)
    config = {"LocalSpawner": {"max_concurrent": 20, "poll_interval": 0.5}}
    os.makedirs(tmp_path / "root")
    (tmp_path / "root" / "work.py").write_text(SCRIPT)
    first = ServerProcess(config=config, workdir=workdir).start()
    try:
        ids, expected = [], {}
        for i in range(count):  # 20 run at once, the rest wait in the queue
            seconds = 2.5 if i % 2 else 8.0  # half end while the server is down
            _, job, _ = await request(
                first,
                "POST",
                "jupyter-jobs/api/jobs",
                {"path": "work.py", "args": [str(i), str(seconds)]},
                expect=201,
            )
            ids.append(job["id"])
            expected[job["id"]] = i
        statuses = []
        for job_id in ids:
            _, job, _ = await request(first, "GET", f"jupyter-jobs/api/jobs/{job_id}", expect=200)
            statuses.append(job["status"])
        assert statuses.count("running") == min(count, 20)
        assert statuses.count("queued") == max(0, count - 20)
        await asyncio.sleep(1.0)
        first.proc.send_signal(sig)  # SIGKILL: no chance to clean up; SIGTERM: a clean stop
        first.proc.wait(30)
        await asyncio.sleep(3.0)  # the short jobs end while no server runs
    except BaseException:
        first._terminate()
        raise

    second = ServerProcess(config=config, workdir=workdir).start()
    try:
        jobs = await wait_all_final(second, ids)
        for job_id, job in jobs.items():
            i = expected[job_id]
            want = "completed" if i % 3 == 0 else "failed"
            assert job["status"] == want, (i, job)
            assert job["exit_code"] == i % 3, (i, job)
            _, log, _ = await request(
                second, "GET", f"jupyter-jobs/api/jobs/{job_id}/log", expect=200
            )
            assert log.splitlines() == [f"job {i} line {k}" for k in range(30)], (i, log)
    finally:
        second._terminate()
