"""The notebook driver (``python -m jupyter_jobs.notebook``) skips jsonschema's "iri" format
checker import (~1.3 s of CPU per run) in its own process only: the user's kernel still imports
what it imports, and every run of a sweep gets its own kernel."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys

import nbformat
import psutil
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HAS_RFC3987 = importlib.util.find_spec("rfc3987_syntax") is not None

PROBE = (
    "import sys, jupyter_jobs.notebook\n"
    "m = sys.modules.get('rfc3987_syntax', 'absent')\n"
    "print('loaded' if m not in (None, 'absent') else 'skipped')\n"
)

# the kernel records its pid, the run's parameter, and that it can import rfc3987_syntax itself
RECORD_CELL = """\
import os, importlib.util, jupyter_jobs
iri = None
if importlib.util.find_spec("rfc3987_syntax"):
    import rfc3987_syntax
    iri = rfc3987_syntax.is_valid_syntax("iri", "https://example.org/caf\\u00e9")
jupyter_jobs.record(kernel_pid=os.getpid(), x=x, iri=iri)
print("x is", x)
"""


def probe(env_extra: dict[str, str]) -> str:
    env = {**os.environ, **env_extra}
    r = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_driver_skips_the_iri_checker_import_unless_asked():
    assert probe({"JUPYTER_JOBS_NOTEBOOK_FULL_IMPORTS": ""}) == "skipped"
    if HAS_RFC3987:
        assert probe({"JUPYTER_JOBS_NOTEBOOK_FULL_IMPORTS": "1"}) == "loaded"


def sweep_notebook(root, name="pids.ipynb"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(RECORD_CELL)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(root / name))


async def test_consecutive_sweep_children_each_get_a_fresh_kernel(jobs_api, jp_root_dir):
    sweep_notebook(jp_root_dir)
    sweep = await jobs_api.submit({"path": "pids.ipynb", "grid": {"x": [3, 4]}, "throttle": 1})
    done = await jobs_api.wait(sweep["id"], timeout=180)
    assert done["status"] == "completed", done
    table = json.loads((await jobs_api.request("GET", f"jobs/{sweep['id']}/results")).body)
    cols = table["columns"]
    rows = [dict(zip(cols, row)) for row in table["rows"]]
    assert [r["x"] for r in rows] == [3, 4]
    pids = [r["kernel_pid"] for r in rows]
    assert all(isinstance(p, int) and p > 0 for p in pids), rows
    assert pids[0] != pids[1], f"two runs shared a kernel: {rows}"
    if HAS_RFC3987:
        # the driver's skipped import never reaches the user's kernel
        assert [r["iri"] for r in rows] == [True, True], rows
    for child_id in sweep["children"]:
        child = await jobs_api.get(child_id)
        assert child["progress"]["message"] == "cell 2 of 2", child["progress"]
        assert child["progress"]["fraction"] == 1.0
        out = nbformat.read(str(jp_root_dir / child["outputs"][0]), as_version=4)
        tags = [c.metadata.get("tags", []) for c in out.cells]
        assert ["injected-parameters"] in tags
        printed = "".join(o.get("text", "") for o in out.cells[-1].outputs)
        assert printed == f"x is {child['parameters']['x']}\n", out.cells[-1].outputs


@pytest.mark.slow
def test_notebook_sweep_benchmark_smoke(tmp_path):
    """``benchmarks/notebook_sweep.py --runs 3 --no-scheduler``: every row but the skipped
    jupyter-scheduler one measured, the skip said, ratios to papermill consistent (no timings
    asserted)."""
    out_json = tmp_path / "r.json"
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmarks", "notebook_sweep.py"),
            "--runs",
            "3",
            "--no-scheduler",
            "--json",
            str(out_json),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "at most 2 at once for every contender" in r.stdout
    assert "jupyter-scheduler: skipped (--no-scheduler)" in r.stdout
    assert "not measured (no jupyter-scheduler)" in r.stdout
    results = json.loads(out_json.read_text())
    assert results["runs"] == 3 and results["concurrency"] == 2 and results["met"] is None
    rows = {row["contender"]: row for row in results["rows"]}
    assert list(rows) == [
        "papermill bare loop",
        "jupyter-scheduler",
        "ours, before the import fix",
        "ours (local sweep)",
    ]
    assert rows["jupyter-scheduler"]["total_s"] is None
    base = rows["papermill bare loop"]["total_s"]
    for name in ("papermill bare loop", "ours, before the import fix", "ours (local sweep)"):
        row = rows[name]
        assert row["total_s"] > 0
        assert row["per_run_s"] == pytest.approx(row["total_s"] / 3)
        assert row["vs_papermill"] == pytest.approx(row["total_s"] / base)
        assert row["vs_scheduler"] is None


SLEEPY_CELL = """\
import os, time, jupyter_jobs
jupyter_jobs.record(kernel_pid=os.getpid())
print("cell started", flush=True)
time.sleep(120)
"""


def sleepy_notebook(root, name="sleepy.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SLEEPY_CELL), nbformat.v4.new_code_cell("print('end')")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(root / name))


async def kernel_pid_once_started(jobs_api, job_dir, job_id):
    for _ in range(1200):  # a loaded machine may take a while to start the kernel
        if "cell started" in await jobs_api.log(job_id):
            break
        await asyncio.sleep(0.1)
    with open(job_dir / "results.json") as f:  # what the cell recorded before it slept
        return int(json.load(f)["kernel_pid"])


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("how", ["cancel", "time limit"])
async def test_notebook_stopped_mid_cell_ends_and_its_kernel_is_gone(
    jobs_api, jp_root_dir, tmp_path, how
):
    sleepy_notebook(jp_root_dir)
    body: dict = {"path": "sleepy.ipynb"}
    if how == "time limit":
        body["resources"] = {"time_limit": "00:00:20"}
    job = await jobs_api.submit(body)
    pid = await kernel_pid_once_started(jobs_api, tmp_path / "job-root" / job["id"], job["id"])
    assert not gone(pid)
    if how == "cancel":
        r = await jobs_api.request("POST", f"jobs/{job['id']}/cancel")
        assert r.code == 202
    done = await jobs_api.wait(job["id"], timeout=120)
    if how == "cancel":
        assert done["status"] == "cancelled", done
    else:
        assert done["status"] == "failed", done
        assert "time limit exceeded" in done["reason"], done
    assert "end" not in (await jobs_api.log(job["id"])).split("cell started", 1)[1]
    for _ in range(100):
        if gone(pid):
            break
        await asyncio.sleep(0.1)
    assert gone(pid), f"the kernel {pid} outlived its job"
