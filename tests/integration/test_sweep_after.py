"""A sweep that waits for other jobs (docs/CONTRACT.md, "Dependencies" and "Sweeps") on the
local backend of a real server, with real processes: the sweep and every child are held
``queued`` — "waiting for <name> (<id>)" — until the parents end; the right way, the children
run (after the parents, under the throttle); the wrong way, the sweep and every child end
``cancelled`` with the reason, and a job waiting for the sweep follows down the chain. Parents
wait for a gate file the test creates, so what the sweep shows while it waits is read at a known
moment, never after a sleep. The CLI (``submit --grid … --after``) and Python
(``jupyter_jobs.sweep(…, after=…)``) pass the wait through to a real ``jupyter server``."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from test_cli import Server, jj, jobs_server  # noqa: F401 - fixture `server`
from test_client import py

#: waits for the file argv[1], then exits with argv[2]
GATED = """\
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
sys.exit(int(sys.argv[2]))
"""
#: a sweep's child: leaves a mark that it ran, records its parameter
CHILD = """\
import argparse, pathlib
import jupyter_jobs
p = argparse.ArgumentParser()
p.add_argument("--a", type=int)
a = p.parse_args()
pathlib.Path(f"ran-{a.a}").write_text("")
jupyter_jobs.record(twice=2 * a.a)
"""
QUICK = "print('ran')\n"
FINAL = ("completed", "failed", "cancelled", "lost")


@pytest.fixture
def jobs_config():
    return {"LocalSpawner": {"max_concurrent": 4, "poll_interval": 0.2}}


@pytest.fixture
def files(jp_root_dir):
    (jp_root_dir / "gated.py").write_text(GATED)
    (jp_root_dir / "child.py").write_text(CHILD)
    (jp_root_dir / "quick.py").write_text(QUICK)
    return jp_root_dir


def short(job):
    return f"{job['name']} ({job['id'][:8]})"


async def gated(api, gate, code, name):
    return await api.submit({"path": "gated.py", "args": [str(gate), str(code)], "name": name})


async def sweep_after(api, parents, when=None, **extra):
    body = {
        "path": "child.py",
        "name": "grid",
        "grid": {"a": [1, 2, 3]},
        "throttle": 2,
        "after": [p["id"] for p in parents],
        **extra,
    }
    if when is not None:
        body["when"] = when
    return await api.submit(body)


async def children(api, sweep):
    return [await api.get(c) for c in sweep["children"]]


async def wait_reason(api, job_id, reason, timeout=30):
    """The job once its reason is ``reason`` (the owner's look at its queue comes)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await api.get(job_id)
        if job["reason"] == reason or job["status"] in FINAL:
            return job
        assert asyncio.get_running_loop().time() < deadline, f"reason stayed: {job}"
        await asyncio.sleep(0.05)


async def list_all(api):
    r = await api.request("GET", "jobs", limit="500")
    assert r.code == 200, r.body
    return json.loads(r.body)["jobs"]


async def test_a_sweep_after_a_job_that_completes_runs_its_children_after_it(
    jobs_api, files, tmp_path
):
    gate = tmp_path / "gate"
    parent = await gated(jobs_api, gate, 0, "prepare")
    sweep = await sweep_after(jobs_api, [parent])
    # the chain: the sweep (and each child) waits for the parent
    assert sweep["kind"] == "sweep" and sweep["after"] == [parent["id"]] and sweep["when"] == "ok"
    assert sweep["status"] == "queued" and sweep["reason"] == f"waiting for {short(parent)}"
    kids = await children(jobs_api, sweep)
    assert len(kids) == 3
    for kid in kids:
        assert kid["status"] == "queued", kid
        assert kid["reason"] == f"waiting for {short(parent)}"
        assert kid["after"] == [parent["id"]] and kid["when"] == "ok"
        assert kid["started_at"] is None and kid["backend_ref"] is None
    assert not list(files.glob("ran-*"))
    # the listing of the sweep's children says the same
    r = await jobs_api.request("GET", "jobs", sweep=sweep["id"])
    listed = json.loads(r.body)["jobs"]
    assert {j["id"] for j in listed} == set(sweep["children"])
    assert {j["reason"] for j in listed} == {f"waiting for {short(parent)}"}

    gate.write_text("")
    sweep = await jobs_api.wait(sweep["id"], timeout=120)
    parent = await jobs_api.get(parent["id"])
    kids = await children(jobs_api, sweep)
    assert parent["status"] == "completed"
    assert sweep["status"] == "completed", (sweep, kids)
    assert sweep["child_counts"] == {"completed": 3}
    for kid in kids:
        assert kid["status"] == "completed", kid
        assert kid["started_at"] >= parent["finished_at"]
    assert sweep["started_at"] >= parent["finished_at"]
    assert sorted(p.name for p in files.glob("ran-*")) == ["ran-1", "ran-2", "ran-3"]
    r = await jobs_api.request("GET", f"jobs/{sweep['id']}/results")
    rows = json.loads(r.body)["rows"]
    assert len(rows) == 3


async def test_a_sweep_after_a_job_that_fails_is_cancelled_with_every_child_and_the_chain(
    jobs_api, files, tmp_path
):
    gate = tmp_path / "gate"
    parent = await gated(jobs_api, gate, 3, "prepare")
    sweep = await sweep_after(jobs_api, [parent], when="ok")
    # a job that waits for the sweep: the chain goes on below it
    report = await jobs_api.submit({"path": "quick.py", "name": "report", "after": [sweep["id"]]})
    report = await jobs_api.wait(report["id"], statuses=("queued", *FINAL))
    assert report["reason"] == f"waiting for {short(sweep)}"
    gate.write_text("")
    sweep = await jobs_api.wait(sweep["id"], timeout=120)
    parent = await jobs_api.get(parent["id"])
    assert parent["status"] == "failed"
    why = f"{short(parent)} failed"
    assert sweep["status"] == "cancelled" and sweep["reason"] == why, sweep
    assert sweep["started_at"] is None and sweep["finished_at"] is not None
    assert sweep["child_counts"] == {"cancelled": 3}
    for kid in await children(jobs_api, sweep):
        assert kid["status"] == "cancelled" and kid["reason"] == why, kid
        assert kid["started_at"] is None and kid["exit_code"] is None
    report = await jobs_api.wait(report["id"])
    assert report["status"] == "cancelled"
    assert report["reason"] == f"{short(sweep)} was cancelled: {why}"
    assert not list(files.glob("ran-*"))  # no child ran


@pytest.mark.parametrize(
    "when,parent_code,expected",
    [("failed", 3, "completed"), ("failed", 0, "cancelled"), ("any", 3, "completed")],
)
async def test_when(jobs_api, files, tmp_path, when, parent_code, expected):
    gate = tmp_path / "gate"
    parent = await gated(jobs_api, gate, parent_code, "parent")
    sweep = await sweep_after(jobs_api, [parent], when=when)
    assert sweep["when"] == when and sweep["status"] == "queued"
    gate.write_text("")
    sweep = await jobs_api.wait(sweep["id"], timeout=120)
    assert sweep["status"] == expected, sweep
    if expected == "cancelled":
        parent = await jobs_api.get(parent["id"])
        assert (
            sweep["reason"] == f"{short(parent)} completed; this job was to run only if it did not"
        )


async def test_a_sweep_after_two_jobs_waits_for_both(jobs_api, files, tmp_path):
    gate_a, gate_b = tmp_path / "a", tmp_path / "b"
    a = await gated(jobs_api, gate_a, 0, "a")
    b = await gated(jobs_api, gate_b, 0, "b")
    sweep = await sweep_after(jobs_api, [a, b])
    assert sweep["reason"] == f"waiting for {short(a)}, {short(b)}"
    gate_a.write_text("")
    await jobs_api.wait(a["id"])
    # one parent left: the owner's next look says so (the end of a job is such a look)
    sweep = await wait_reason(jobs_api, sweep["id"], f"waiting for {short(b)}")
    assert sweep["status"] == "queued", sweep
    kids = await children(jobs_api, sweep)
    assert {k["reason"] for k in kids} == {f"waiting for {short(b)}"}
    assert not list(files.glob("ran-*"))
    gate_b.write_text("")
    sweep = await jobs_api.wait(sweep["id"], timeout=120)
    assert sweep["status"] == "completed", sweep


async def test_a_held_sweep_can_be_cancelled(jobs_api, files, tmp_path):
    gate = tmp_path / "gate"
    parent = await gated(jobs_api, gate, 0, "parent")
    sweep = await sweep_after(jobs_api, [parent])
    r = await jobs_api.request("POST", f"jobs/{sweep['id']}/cancel")
    assert r.code in (200, 202), r.body
    sweep = await jobs_api.wait(sweep["id"])
    assert sweep["status"] == "cancelled", sweep
    for kid in await children(jobs_api, sweep):
        assert kid["status"] == "cancelled" and kid["reason"] == "cancelled before it started"
    gate.write_text("")
    assert (await jobs_api.wait(parent["id"]))["status"] == "completed"
    assert (await jobs_api.get(sweep["id"]))["status"] == "cancelled"  # stays so
    assert not list(files.glob("ran-*"))


async def test_a_sweep_may_wait_for_a_sweep(jobs_api, files, tmp_path):
    gate = tmp_path / "gate"
    first = await jobs_api.submit(
        {
            "path": "gated.py",
            "name": "first",
            "parameter_sets": [{"x": 0}, {"x": 1}],
            "parameters_as": "env",
            "args": [str(gate), "0"],
        }
    )
    second = await sweep_after(jobs_api, [first])
    assert second["reason"] == f"waiting for {short(first)}"
    gate.write_text("")
    second = await jobs_api.wait(second["id"], timeout=120)
    first = await jobs_api.get(first["id"])
    assert first["status"] == "completed" and second["status"] == "completed"
    assert second["started_at"] >= first["finished_at"]


async def test_hostile_after_of_a_sweep_is_refused_and_nothing_is_created(
    jobs_api, files, tmp_path
):
    gate = tmp_path / "gate"
    gate.write_text("")
    broken = await jobs_api.wait((await gated(jobs_api, gate, 1, "broken"))["id"])
    assert broken["status"] == "failed"
    before = {j["id"] for j in await list_all(jobs_api)}
    grid = {"path": "child.py", "grid": {"a": [1, 2]}}
    cases = [
        # an id of no job: a job cannot wait for itself (its id is made when it is created)
        ({"after": ["0" * 32]}, 400, f"Wait for: there is no job {'0' * 32}"),
        ({"after": ["../../etc/passwd"]}, 400, "is not a job id"),
        ({"after": [broken["id"], broken["id"]]}, 400, "is named twice"),
        ({"after": {"$ne": 1}}, 400, "Wait for must be a list of job ids"),
        ({"after": [broken["id"]], "when": "sometimes"}, 400, "Start when: 'sometimes'"),
        (
            {"after": [broken["id"]]},
            409,
            f"Wait for: {short(broken)} failed, so this sweep would never start",
        ),
    ]
    for extra, code, text in cases:
        for sets in (grid, {"path": "child.py", "parameter_sets": [{"a": 1}]}):
            r = await jobs_api.request("POST", "jobs", {**sets, **extra})
            body = json.loads(r.body)
            assert r.code == code, (extra, r.code, body)
            assert text in body["message"], (extra, body)
            assert body.get("field") in ("after", "when"), body
    assert {j["id"] for j in await list_all(jobs_api)} == before  # nothing was created
    # a sweep after a job that already ended the right way starts now
    ok = await jobs_api.submit({**grid, "after": [broken["id"]], "when": "failed"})
    assert (await jobs_api.wait(ok["id"], timeout=120))["status"] == "completed"


# ---------------------------------------------------------------- CLI and Python, a real server


def test_cli_sweep_after_a_job(server: Server):
    (server.root / "child.py").write_text(CHILD)
    (server.root / "quick.py").write_text(QUICK)
    r = jj(server, "submit", "-q", "quick.py")
    assert r.returncode == 0, r.stderr
    parent = r.stdout.strip()
    r = jj(
        server,
        "submit",
        "--json",
        "--wait",
        "--grid",
        "a=1,2",
        "--after",
        parent[:8],  # a unique prefix, resolved by the client
        "--when",
        "any",
        "child.py",  # a script: the options of jupyter jobs go before it
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    sweep = json.loads(r.stdout)
    assert sweep["kind"] == "sweep" and sweep["status"] == "completed", sweep
    assert sweep["after"] == [server.api("GET", f"jobs/{parent}")["id"]]
    assert sweep["when"] == "any"
    r = jj(server, "show", sweep["id"])
    assert r.returncode == 0, r.stderr
    assert parent[:8] in r.stdout and "start when: any" in r.stdout, r.stdout


def test_python_sweep_after_a_job(server: Server):
    (server.root / "child.py").write_text(CHILD)
    (server.root / "quick.py").write_text(QUICK)
    out = py(
        server,
        """
        import json, jupyter_jobs
        first = jupyter_jobs.submit("quick.py")
        job = jupyter_jobs.sweep("child.py", grid={"a": [1, 2]}, after=[first], when="ok")
        job.wait(timeout=120)
        print(json.dumps({"data": job.data, "first": first.id, "results": job.results()}))
        """,
    )
    assert out["data"]["after"] == [out["first"]] and out["data"]["when"] == "ok"
    assert out["data"]["status"] == "completed", out["data"]
    assert [r["twice"] for r in out["results"]] == [2, 4]


# ---------------------------------------------------------------- a held sweep across a restart


@pytest.mark.slow
async def test_a_held_sweep_survives_a_server_restart(tmp_path):
    """Held by a server that is killed; its parents end while no server runs; the next server
    of the job root starts one sweep and cancels the other, from their records."""
    import signal

    from tests.integration.test_dependencies_servers import runner_ended
    from tests.multi.servers import get, start_server, submit, wait_final, wait_until

    root = tmp_path / "root"
    root.mkdir()
    (root / "gated.py").write_text(GATED)
    (root / "child.py").write_text(CHILD)
    job_root, home, gate = str(tmp_path / "job-root"), str(tmp_path / "server"), tmp_path / "gate"
    first = start_server(home, job_root, str(root))
    try:
        ok = await submit(first, {"path": "gated.py", "args": [str(gate), "0"], "name": "ok"})
        bad = await submit(first, {"path": "gated.py", "args": [str(gate), "4"], "name": "bad"})
        grid = {"path": "child.py", "grid": {"a": [1, 2]}, "name": "grid"}
        after_ok = await submit(first, {**grid, "after": [ok["id"]]})
        after_bad = await submit(first, {**grid, "after": [bad["id"]]})
        for sweep, parent in ((after_ok, ok), (after_bad, bad)):
            got = await get(first, sweep["id"])
            assert got["status"] == "queued" and got["reason"] == f"waiting for {short(parent)}"
        first.proc.send_signal(signal.SIGKILL)  # only what is on disk is left
        first.proc.wait(10)
        gate.write_text("")
        paths = [os.path.join(job_root, j["id"], "status.json") for j in (ok, bad)]

        async def both_ended():
            return all(runner_ended(p) for p in paths)

        await wait_until(both_ended, 30, "both parents' runners wrote their end")
    finally:
        first._terminate()
    assert not list(root.glob("ran-*"))  # no child started while no server ran
    second = start_server(home, job_root, str(root))
    try:
        sweeps = await wait_final(second, [after_ok["id"], after_bad["id"]])
        assert sweeps[after_ok["id"]]["status"] == "completed", sweeps[after_ok["id"]]
        assert sweeps[after_bad["id"]]["status"] == "cancelled", sweeps[after_bad["id"]]
        assert sweeps[after_bad["id"]]["reason"] == f"{short(bad)} failed"
        for child_id in sweeps[after_bad["id"]]["children"]:
            child = await get(second, child_id)
            assert child["status"] == "cancelled" and child["started_at"] is None, child
        assert sorted(p.name for p in root.glob("ran-*")) == ["ran-1", "ran-2"]
    finally:
        second.stop()
