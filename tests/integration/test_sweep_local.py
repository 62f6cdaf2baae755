"""Local sweeps through the REST API of a real server, with real processes: a 6-child grid with
a throttle of 2 (never more than 2 running: the children's own start and end times say so), the
results table, cancelling one child and the whole sweep, rerunning only the failed children,
environment parameters, refusals, and the list scopes."""

from __future__ import annotations

import asyncio
import json

import pytest

#: records its parameters and a value from them; fails for seed 2 when FAIL_SEED is set
SCRIPT = """\
import argparse, os, sys, time
import jupyter_jobs
p = argparse.ArgumentParser()
p.add_argument("--alpha", type=float)
p.add_argument("--seed", type=int)
a = p.parse_args()
time.sleep(float(os.environ.get("SLEEP", "0.3")))
if os.environ.get("FAIL_SEED") and a.seed == int(os.environ["FAIL_SEED"]):
    sys.exit(3)
jupyter_jobs.record(score=a.alpha * 10 + a.seed)
print("ok", a.alpha, a.seed)
"""

ENV_SCRIPT = """\
import json, os
import jupyter_jobs
jupyter_jobs.record(alpha_env=os.environ["JJ_PARAM_alpha"], whole=os.environ["JJ_PARAMETERS"])
"""

WAIT = """\
import os, sys, time
while not os.path.exists(os.environ["RELEASE"]):
    time.sleep(0.05)
"""


def write(root, name, text):
    (root / name).write_text(text)


async def wait_sweep(api, sweep_id, timeout=120):
    return await api.wait(sweep_id, timeout=timeout)


async def children(api, sweep):
    return [await api.get(c) for c in sweep["children"]]


def overlap_max(kids):
    """The most children running at one instant, from their own start and end times."""
    events = []
    for k in kids:
        if k["started_at"] and k["finished_at"]:
            events += [(k["started_at"], 1), (k["finished_at"], -1)]
    events.sort(key=lambda e: (e[0], e[1]))
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


async def test_grid_of_six_with_throttle_two_results_table_and_rerun_of_failed(
    jobs_api, jp_root_dir
):
    write(jp_root_dir, "train.py", SCRIPT)
    sweep = await jobs_api.submit(
        {
            "path": "train.py",
            "grid": {"alpha": [0.1, 0.5, 1.0], "seed": [1, 2]},
            "throttle": 2,
            "env": {"FAIL_SEED": "2"},
        }
    )
    assert sweep["kind"] == "sweep"
    assert len(sweep["children"]) == 6
    assert sweep["throttle"] == 2
    assert sweep["grid"] == {"alpha": [0.1, 0.5, 1.0], "seed": [1, 2]}
    assert sweep["parameter_sets"][1] == {"alpha": 0.1, "seed": 2}
    done = await wait_sweep(jobs_api, sweep["id"])
    kids = await children(jobs_api, done)
    assert [k["index"] for k in kids] == list(range(6))
    assert all(k["sweep_id"] == sweep["id"] for k in kids)
    assert [k["status"] for k in kids] == ["completed", "failed"] * 3
    assert done["status"] == "failed"
    assert done["child_counts"] == {"completed": 3, "failed": 3}
    assert overlap_max(kids) <= 2
    for k in kids:
        assert k["command"][-4:] == [
            "--alpha",
            json.dumps(k["parameters"]["alpha"]),
            "--seed",
            str(k["parameters"]["seed"]),
        ]
    r = await jobs_api.request("GET", f"jobs/{sweep['id']}/results")
    table = json.loads(r.body)
    assert table["columns"] == [
        "index",
        "id",
        "status",
        "duration_seconds",
        "alpha",
        "seed",
        "score",
    ]
    rows = {row[0]: row for row in table["rows"]}
    assert rows[0][4:] == [0.1, 1, pytest.approx(2.0)]
    assert rows[1][2] == "failed" and rows[1][6] is None
    assert rows[4][4:] == [1.0, 1, pytest.approx(11.0)]

    # children are not in the default list; sweep=<id> lists them
    listed = json.loads((await jobs_api.request("GET", "jobs")).body)
    ids = [j["id"] for j in listed["jobs"]]
    assert sweep["id"] in ids and not set(sweep["children"]) & set(ids)
    scoped = json.loads((await jobs_api.request("GET", "jobs", sweep=sweep["id"])).body)
    assert sorted(j["id"] for j in scoped["jobs"]) == sorted(sweep["children"])
    sidebar = json.loads(
        (await jobs_api.request("GET", "jobs", kind="script,notebook,command,sweep")).body
    )
    assert sweep["id"] in [j["id"] for j in sidebar["jobs"]]

    # rerun only the failed: a new sweep of the three failed sets
    r = await jobs_api.request(
        "POST", f"jobs/{sweep['id']}/rerun", {"only": "failed", "env": {"FAIL_SEED": ""}}
    )
    assert r.code == 201, r.body
    again = json.loads(r.body)
    assert again["kind"] == "sweep" and again["id"] != sweep["id"]
    assert again["parameter_sets"] == [
        {"alpha": 0.1, "seed": 2},
        {"alpha": 0.5, "seed": 2},
        {"alpha": 1.0, "seed": 2},
    ]
    assert again["throttle"] == 2
    done2 = await wait_sweep(jobs_api, again["id"])
    assert done2["status"] == "completed", done2
    table2 = json.loads((await jobs_api.request("GET", f"jobs/{again['id']}/results")).body)
    assert [row[-1] for row in table2["rows"]] == [
        pytest.approx(3.0),
        pytest.approx(7.0),
        pytest.approx(12.0),
    ]


async def test_cancel_one_child_then_the_sweep(jobs_api, jp_root_dir, tmp_path):
    write(jp_root_dir, "wait.py", WAIT)
    release = tmp_path / "release"
    sweep = await jobs_api.submit(
        {
            "path": "wait.py",
            "parameter_sets": [{"n": i} for i in range(4)],
            "throttle": 2,
            "parameters_as": "env",
            "env": {"RELEASE": str(release)},
        }
    )
    first = sweep["children"][0]
    await jobs_api.wait(first, statuses=("running",))
    r = await jobs_api.request("POST", f"jobs/{first}/cancel")
    assert r.code == 202, r.body
    assert (await jobs_api.wait(first))["status"] == "cancelled"
    # another child took the free place; the sweep is still running
    s = await jobs_api.get(sweep["id"])
    assert s["status"] in ("running", "queued")
    r = await jobs_api.request("POST", f"jobs/{sweep['id']}/cancel")
    assert r.code == 202, r.body
    done = await jobs_api.wait(sweep["id"])
    assert done["status"] == "cancelled"
    kids = await children(jobs_api, done)
    assert {k["status"] for k in kids} == {"cancelled"}
    assert done["child_counts"] == {"cancelled": 4}


async def test_env_parameters(jobs_api, jp_root_dir):
    write(jp_root_dir, "envp.py", ENV_SCRIPT)
    sweep = await jobs_api.submit(
        {"path": "envp.py", "grid": {"alpha": [0.25, "x"]}, "parameters_as": "env"}
    )
    done = await wait_sweep(jobs_api, sweep["id"])
    assert done["status"] == "completed", done
    kids = await children(jobs_api, done)
    assert [k["results"]["alpha_env"] for k in kids] == ["0.25", "x"]
    assert json.loads(kids[1]["results"]["whole"]) == {"alpha": "x"}
    assert "--alpha" not in kids[0]["command"]


@pytest.mark.parametrize(
    "body, words",
    [
        ({"grid": {"alpha": []}}, "Grid: alpha must have a list of at least one value"),
        ({"grid": {"1x": [1]}}, "is not a parameter name"),
        ({"grid": {"a": [[1]]}}, "must be numbers, text or true/false"),
        ({"grid": {"a": [1]}, "parameter_sets": [{"a": 1}]}, "not both"),
        ({"grid": {"a": [1]}, "throttle": 0}, "Throttle must be at least 1"),
        ({"throttle": 2}, "Throttle is for sweeps"),
        ({"grid": {"a": list(range(200)), "b": list(range(100))}}, "more than a sweep may have"),
        ({"parameter_sets": [1]}, "Parameter sets: set 1 must be names and values"),
        ({"grid": {"a": [1]}, "parameters_as": "file"}, "Parameters as"),
    ],
)
async def test_refusals_in_the_users_words(jobs_api, jp_root_dir, manager, body, words):
    write(jp_root_dir, "train.py", SCRIPT)
    manager.max_sweep_children = 10_000
    before = set(manager.store.ids())
    r = await jobs_api.request("POST", "jobs", {"path": "train.py", **body})
    assert r.code == 400, r.body
    assert words in json.loads(r.body)["message"]
    assert set(manager.store.ids()) == before


async def test_a_sweep_over_the_limit_is_refused(jobs_api, jp_root_dir, manager):
    write(jp_root_dir, "train.py", SCRIPT)
    manager.max_sweep_children = 5
    r = await jobs_api.request("POST", "jobs", {"path": "train.py", "grid": {"a": list(range(6))}})
    assert r.code == 400
    assert "6 runs is more than a sweep may have here (5)" in json.loads(r.body)["message"]
    await asyncio.sleep(0)


async def test_deleting_a_sweep_deletes_its_runs(jobs_api, jp_root_dir, manager):
    write(jp_root_dir, "envp.py", ENV_SCRIPT)
    sweep = await jobs_api.submit(
        {"path": "envp.py", "grid": {"alpha": [1, 2]}, "parameters_as": "env"}
    )
    await wait_sweep(jobs_api, sweep["id"])
    r = await jobs_api.request("DELETE", f"jobs/{sweep['id']}")
    assert r.code == 204, r.body
    for job_id in [sweep["id"], *sweep["children"]]:
        assert (await jobs_api.request("GET", f"jobs/{job_id}")).code == 404
