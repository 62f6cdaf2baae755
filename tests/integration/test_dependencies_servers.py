"""Dependencies with real server processes: a held job survives a server restart (its parents
end while no server runs), holding works across two servers of one job root (the parent on one,
the dependant on the other), and the CLI (``--after``, ``--when``) and Python
(``submit(after=[job])``) ask for it."""

from __future__ import annotations

import json
import os
import signal

import pytest

from jupyter_jobs.client import JobsClient
from tests.multi.servers import get, jj, start_server, submit, wait_final, wait_until

pytestmark = pytest.mark.slow

GATED = """\
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
sys.exit(int(sys.argv[2]))
"""
QUICK = "print('ran')\n"


def short(job):
    return f"{job['name']} ({job['id'][:8]})"


@pytest.fixture
def place(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "gated.py").write_text(GATED)
    (root / "quick.py").write_text(QUICK)
    return {
        "root": str(root),
        "job_root": str(tmp_path / "job-root"),
        "a": str(tmp_path / "server-a"),
        "b": str(tmp_path / "server-b"),
        "gate": str(tmp_path / "gate"),
    }


def gated(place, code, name):
    return {"path": "gated.py", "args": [place["gate"], str(code)], "name": name}


async def queued_waiting(server, job_id, reason):
    async def check():
        job = await get(server, job_id)
        return job if job["status"] == "queued" and job["reason"] == reason else None

    return await wait_until(check, 30, f"job {job_id} queued: {reason}")


async def test_a_held_job_survives_a_server_restart(place):
    first = start_server(place["a"], place["job_root"], place["root"])
    try:
        ok = await submit(first, gated(place, 0, "ok-parent"))
        bad = await submit(first, gated(place, 4, "bad-parent"))
        after_ok = await submit(first, {"path": "quick.py", "after": [ok["id"]], "name": "x"})
        after_bad = await submit(first, {"path": "quick.py", "after": [bad["id"]], "name": "y"})
        await queued_waiting(first, after_ok["id"], f"waiting for {short(ok)}")
        await queued_waiting(first, after_bad["id"], f"waiting for {short(bad)}")
        first.proc.send_signal(signal.SIGKILL)  # no clean stop: only what is on disk is left
        first.proc.wait(10)
        # the parents end while no server runs (their runners outlive it)
        with open(place["gate"], "w"):
            pass
        ok_status = os.path.join(place["job_root"], ok["id"], "status.json")
        bad_status = os.path.join(place["job_root"], bad["id"], "status.json")

        async def both_ended():
            return runner_ended(ok_status) and runner_ended(bad_status)

        await wait_until(both_ended, 30, "both parents' runners wrote their end")
    finally:
        first._terminate()
    second = start_server(place["a"], place["job_root"], place["root"])
    try:
        jobs = await wait_final(second, [after_ok["id"], after_bad["id"]])
        assert jobs[after_ok["id"]]["status"] == "completed", jobs[after_ok["id"]]
        assert jobs[after_bad["id"]]["status"] == "cancelled"
        assert jobs[after_bad["id"]]["reason"] == f"{short(bad)} failed"
        assert jobs[after_bad["id"]]["started_at"] is None
    finally:
        second.stop()


def runner_ended(path):
    try:
        with open(path) as f:
            return json.load(f).get("state") in ("completed", "failed")
    except (OSError, ValueError):
        return False


async def test_holding_across_two_servers_of_one_job_root(place):
    a = start_server(place["a"], place["job_root"], place["root"])
    b = start_server(place["b"], place["job_root"], place["root"])
    try:
        parent = await submit(a, gated(place, 0, "on-a"))
        failing = await submit(a, gated(place, 2, "fails-on-a"))
        # b's own jobs wait for a's; b learns of a's jobs from the job root
        child = await submit(b, {"path": "quick.py", "after": [parent["id"]], "name": "on-b"})
        doomed = await submit(b, {"path": "quick.py", "after": [failing["id"]], "name": "no"})
        grandchild = await submit(a, {"path": "quick.py", "after": [child["id"]], "name": "gc"})
        await queued_waiting(b, child["id"], f"waiting for {short(parent)}")
        await queued_waiting(a, grandchild["id"], f"waiting for {short(child)}")
        with open(place["gate"], "w"):
            pass
        jobs = await wait_final(b, [child["id"], doomed["id"], grandchild["id"]])
        assert jobs[child["id"]]["status"] == "completed", jobs[child["id"]]
        assert jobs[grandchild["id"]]["status"] == "completed", jobs[grandchild["id"]]
        assert jobs[grandchild["id"]]["started_at"] >= jobs[child["id"]]["finished_at"]
        assert jobs[doomed["id"]]["status"] == "cancelled"
        assert jobs[doomed["id"]]["reason"] == f"{short(failing)} failed"
    finally:
        a.stop()
        b.stop()


async def test_cli_and_python(place):
    server = start_server(place["a"], place["job_root"], place["root"])
    try:
        client = JobsClient(url=server.url, token=server.token, root_dir=server.root_dir)
        first = client.submit(
            os.path.join(place["root"], "gated.py"), args=[place["gate"], "1"], name="first"
        )
        # the CLI: an id prefix, repeated --after, --when
        r = jj(server, "submit", "--json", "--after", first.id[:8], "--when", "failed", "quick.py")
        assert r.returncode == 0, r.stderr
        on_failure = json.loads(r.stdout)
        assert on_failure["after"] == [first.id] and on_failure["when"] == "failed"
        second = client.submit(os.path.join(place["root"], "quick.py"), name="second")
        r = jj(server, "submit", "-q", "--after", first.id, "--after", second.id, "quick.py")
        assert r.returncode == 0, r.stderr
        both = r.stdout.strip()
        r = jj(server, "submit", "--after", "0" * 32, "quick.py")
        assert r.returncode != 0 and f"Wait for: there is no job {'0' * 32}" in r.stderr
        r = jj(server, "submit", "--when", "sometimes", "quick.py")
        assert r.returncode != 0 and "sometimes" in r.stderr
        # Python: Job objects
        py = client.submit(
            os.path.join(place["root"], "quick.py"), after=[first, second], when="any", name="py"
        )
        assert py.data["after"] == [first.id, second.id] and py.data["when"] == "any"
        r = jj(server, "show", py.id[:8])
        assert f"waits for: {first.id[:8]}, {second.id[:8]} (start when: any)" in r.stdout
        with open(place["gate"], "w"):
            pass
        jobs = await wait_final(server, [on_failure["id"], both, py.id])
        assert jobs[on_failure["id"]]["status"] == "completed"
        assert jobs[both]["status"] == "cancelled"
        assert jobs[both]["reason"] == f"first ({first.id[:8]}) failed"
        assert jobs[py.id]["status"] == "completed"
    finally:
        server.stop()
