"""The notebook driver (``python -m jupyter_jobs.notebook``) skips jsonschema's "iri" format
checker import (~1.3 s of CPU per run) in its own process only: the user's kernel still imports
what it imports, and every run of a sweep gets its own kernel."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import nbformat
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
