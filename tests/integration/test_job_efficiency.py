"""The efficiency summary of real local jobs, through the REST API of a real server, and in
``jupyter jobs show``."""

from __future__ import annotations

import json
import os
import sys

from jupyter_jobs.cli import efficiency_lines

#: burns 2 s of CPU time on one core (CPU time, not wall time: a busy machine only stretches it)
BURN = "import time\nwhile time.process_time() < 2.0:\n    pass\n"
#: holds ~80 MB for a second
HOLD = "import time\nblock = bytearray(80 * 1024 * 1024)\nblock[::4096] = b'x' * len(block[::4096])\ntime.sleep(1.5)\n"


async def test_a_job_on_two_cpus_that_keeps_one_busy_is_about_half_efficient(jobs_api):
    job = await jobs_api.submit({"command": [sys.executable, "-c", BURN], "resources": {"cpus": 2}})
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "completed", done
    cpu = done["efficiency"]["cpu"]
    assert cpu["cores"] == 2
    # the CPU time is the burn's (load does not change it; the interpreter adds a little)
    assert 1.9 <= cpu["used_core_seconds"] <= 3.0, cpu
    # one busy process: never more than one of the two CPUs, so the ratio is at most about half;
    # it is half on an idle machine and less on a busy one, where the same CPU time takes longer
    assert cpu["wall_seconds"] >= cpu["used_core_seconds"] - 0.1, cpu
    assert 0.02 <= cpu["ratio"] <= 0.55, cpu
    assert abs(cpu["ratio"] - cpu["used_core_seconds"] / (2 * cpu["wall_seconds"])) < 0.01
    assert "time" in done["efficiency"] and "limit_seconds" not in done["efficiency"]["time"]


async def test_peak_memory_against_the_request_with_a_hint(jobs_api, manager):
    job = await jobs_api.submit(
        {
            "command": [sys.executable, "-c", HOLD],
            "resources": {"memory": "16G", "time_limit": "04:00:00"},
        }
    )
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "completed", done
    eff = done["efficiency"]
    memory = eff["memory"]
    assert 80 * 1024**2 <= memory["peak_bytes"] < 1024**3, memory
    assert memory["requested_bytes"] == 16 * 1024**3
    assert memory["ratio"] == round(memory["peak_bytes"] / memory["requested_bytes"], 3)
    assert eff["time"]["limit_seconds"] == 4 * 3600 and eff["time"]["ratio"] < 0.01
    assert any(
        h.startswith("used ") and "of 16G of memory: next time ask for 256M" in h
        for h in eff["hints"]
    ), eff["hints"]
    assert any("of a 04:00:00 time limit: 00:15:00 would do" in h for h in eff["hints"])
    # kept with the job: the record on disk has it, and the list shows it too
    with open(os.path.join(manager.job_root, job["id"], "job.json")) as f:
        assert json.load(f)["efficiency"] == eff
    listed = json.loads((await jobs_api.request("GET", "jobs")).body)["jobs"]
    assert [j["efficiency"] for j in listed if j["id"] == job["id"]] == [eff]


async def test_a_running_job_has_no_summary_yet(jobs_api):
    job = await jobs_api.submit({"command": [sys.executable, "-c", "import time; time.sleep(30)"]})
    assert job["efficiency"] is None
    await jobs_api.request("POST", f"jobs/{job['id']}/cancel")
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "cancelled" and done["efficiency"]["hints"] == []


def test_show_renders_the_summary():
    eff = {
        "cpu": {"used_core_seconds": 198.0, "cores": 8, "wall_seconds": 180.0, "ratio": 0.138},
        "memory": {"peak_bytes": 1288490188, "requested_bytes": 34359738368, "ratio": 0.037},
        "time": {"used_seconds": 180.0, "limit_seconds": 14400, "ratio": 0.013},
        "hints": ["used 1.2G of 32G of memory: next time ask for 4G"],
    }
    assert efficiency_lines(eff) == [
        ("CPU efficiency", "13.8% (198 CPU-seconds of 8 CPUs for 00:03:00)"),
        ("memory", "1.2G of 32G (3.7%)"),
        ("time", "00:03:00 of 04:00:00 (1.3%)"),
        ("hint", "used 1.2G of 32G of memory: next time ask for 4G"),
    ]
    assert efficiency_lines({"time": {"used_seconds": 3.0}, "hints": []}) == [("time", "00:00:03")]
    assert efficiency_lines(None) == []
    short = {"cpu": {"used_core_seconds": 1.528, "wall_seconds": 5.8}, "hints": []}
    assert efficiency_lines(short) == [("CPU time", "1.5 CPU-seconds")]
