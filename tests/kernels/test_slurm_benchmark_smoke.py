"""The remote-kernels benchmark still runs (one round) and reports every figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import HERE

BENCH = os.path.join(os.path.dirname(os.path.dirname(HERE)), "benchmarks", "remote_kernels.py")


def test_remote_kernels_benchmark_quick_run_reports_every_figure(slurm_cluster, tmp_path):
    out = tmp_path / "rows.json"
    r = subprocess.run(
        [sys.executable, BENCH, "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SLURM_CONF": slurm_cluster},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert [row["key"] for row in rows] == ["a", "b", "c", "d", "e", "f", "g"]
    assert all(row["ours"] > 0 and row["baseline"] > 0 for row in rows)
    assert "job running → kernel ready" in r.stdout
    assert "standalone client: job running → kernel ready" in r.stdout
    assert "server restart → the kernel answers with its state" in r.stdout
    assert "server restart → a Kubernetes kernel answers with its state" in r.stdout
