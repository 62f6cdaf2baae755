"""A sweep on the real SLURM cluster, through the REST API of a real Jupyter server: a 12-child
grid with a throttle of 2 is one ``sbatch --array=0-11%2`` (counted by an exec_prefix wrapper
that logs every command the spawner runs), never more than 2 tasks run at once (squeue, polled
while the sweep runs), every child records the result of its own parameters, and nothing is left
in SLURM at the end. Cancelling the sweep is one ``scancel`` of the array."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import pytest

pytestmark = pytest.mark.usefixtures("running_manager")

SMALL_PROFILE = {"name": "small", "resources": {"cpus": 1, "time_limit": 300}}

SCRIPT = """\
import argparse, os, time
import jupyter_jobs
p = argparse.ArgumentParser()
p.add_argument("--alpha", type=float)
p.add_argument("--seed", type=int)
a = p.parse_args()
time.sleep(float(os.environ.get("SLEEP", "1.5")))
jupyter_jobs.record(score=a.alpha * 10 + a.seed, task=int(os.environ["SLURM_ARRAY_TASK_ID"]))
"""

WRAPPER = """\
#!/bin/sh
printf '%s\\n' "$*" >> {log}
exec "$@"
"""


@pytest.fixture
def calls_log(tmp_path_factory):
    d = tmp_path_factory.mktemp("wrap")
    log = d / "calls.log"
    log.write_text("")
    wrapper = d / "wrap.sh"
    wrapper.write_text(WRAPPER.format(log=log))
    wrapper.chmod(0o755)
    return wrapper, log


@pytest.fixture
def jobs_config(calls_log):
    wrapper, _ = calls_log
    return {
        "JobManager": {"enabled_backends": ["local", "slurm"]},
        "SlurmSpawner": {
            "poll_interval": 0.5,
            "profiles": [SMALL_PROFILE],
            "exec_prefix": [str(wrapper)],
            "exec_prefix_shell": False,
        },
    }


def calls(log, program):
    return [line for line in log.read_text().splitlines() if line.split(" ", 1)[0] == program]


def running_tasks(array_id: str) -> int:
    out = subprocess.run(
        ["squeue", "-h", "-r", "-j", array_id, "-t", "RUNNING", "-o", "%i"],
        capture_output=True,
        text=True,
    ).stdout
    return len([line for line in out.splitlines() if line.strip()])


async def test_twelve_children_two_at_a_time_in_one_array(jobs_api, jp_root_dir, calls_log):
    _, log = calls_log
    (jp_root_dir / "train.py").write_text(SCRIPT)
    sweep = await jobs_api.submit(
        {
            "path": "train.py",
            "backend": "slurm",
            "profile": "small",
            "grid": {"alpha": [0.1, 0.5, 1.0], "seed": [0, 1, 2, 3]},
            "throttle": 2,
        }
    )
    assert len(sweep["children"]) == 12
    sbatch = calls(log, "sbatch")
    assert len(sbatch) == 1, sbatch
    assert "--array=0-11%2" in sbatch[0]
    first = await jobs_api.get(sweep["children"][0])
    array_id = first["backend_ref"].split("_")[0]
    assert first["backend_ref"] == f"{array_id}_0"
    most = 0
    deadline = asyncio.get_running_loop().time() + 300
    while True:
        most = max(most, running_tasks(array_id))
        s = await jobs_api.get(sweep["id"])
        if s["status"] in ("completed", "failed", "cancelled", "lost"):
            break
        assert asyncio.get_running_loop().time() < deadline, s
        await asyncio.sleep(0.2)
    kids = [await jobs_api.get(c) for c in s["children"]]
    assert s["status"] == "completed", [(k["status"], k["reason"]) for k in kids]
    assert s["child_counts"] == {"completed": 12}
    assert 1 <= most <= 2, most
    for child_id in s["children"]:
        child = await jobs_api.get(child_id)
        params = child["parameters"]
        assert child["status"] == "completed", child
        assert child["results"]["score"] == pytest.approx(params["alpha"] * 10 + params["seed"])
        assert child["results"]["task"] == child["index"]
        assert child["backend_ref"] == f"{array_id}_{child['index']}"
    table = json.loads((await jobs_api.request("GET", f"jobs/{sweep['id']}/results")).body)
    assert [row[0] for row in table["rows"]] == list(range(12))
    assert len(calls(log, "sbatch")) == 1
    user = os.environ.get("USER") or "root"
    left = subprocess.run(
        ["squeue", "-h", "-u", user, "-j", array_id, "-o", "%i"], capture_output=True, text=True
    ).stdout
    assert not left.strip(), left


async def test_cancel_the_sweep_is_one_scancel_of_the_array(jobs_api, jp_root_dir, calls_log):
    _, log = calls_log
    (jp_root_dir / "train.py").write_text(SCRIPT)
    sweep = await jobs_api.submit(
        {
            "path": "train.py",
            "backend": "slurm",
            "profile": "small",
            "grid": {"alpha": [0.1, 0.5], "seed": [0, 1, 2]},
            "throttle": 1,
            "env": {"SLEEP": "60"},
        }
    )
    first = sweep["children"][0]
    await jobs_api.wait(first, statuses=("running",), timeout=120)
    before = len(calls(log, "scancel"))
    r = await jobs_api.request("POST", f"jobs/{sweep['id']}/cancel")
    assert r.code == 202, r.body
    done = await jobs_api.wait(sweep["id"], timeout=120)
    assert done["status"] == "cancelled", done
    assert done["child_counts"] == {"cancelled": 6}, done
    scancels = calls(log, "scancel")[before:]
    assert len(scancels) == 1, scancels
