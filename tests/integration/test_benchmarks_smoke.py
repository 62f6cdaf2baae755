"""The benchmarks keep working: each runs in its tiny ``--quick`` mode against a real server.

These check the shape of what a benchmark prints and writes (every metric, a baseline, a ratio, a
target verdict), never the timings: figures from a loaded CI machine mean nothing.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = os.path.join(ROOT, "benchmarks")
sys.path.insert(0, BENCHMARKS)

import local_jobs  # noqa: E402

ROW_RE = re.compile(
    r"^\| \((?P<key>[a-d])\) \| (?P<metric>.+?) +\| (?P<ours>[\d.]+) (?P<unit>ms|MB) +"
    r"\| (?P<baseline>[\d.]+) (?P=unit) +\| (?P<ratio>[\d.]+|inf)x +\| (?P<added>[+-][\d.]+) (?P=unit)"
    r" +\| (?:added|ours) <= [\d.]+ (?P=unit) +\| (?P<met>yes|NO) +\|$"
)


def run_benchmark(script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, os.path.join(BENCHMARKS, script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_local_jobs_quick_prints_every_metric_with_baseline_ratio_and_verdict(tmp_path):
    out_json = tmp_path / "results.json"
    proc = run_benchmark("local_jobs.py", "--quick", "--json", str(out_json))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    rows = {m["key"]: m for m in map(ROW_RE.match, proc.stdout.splitlines()) if m}
    assert sorted(rows) == ["a", "b", "c", "d"], proc.stdout
    assert rows["a"]["unit"] == rows["b"]["unit"] == rows["d"]["unit"] == "ms"
    assert rows["c"]["unit"] == "MB"
    header = next(line for line in proc.stdout.splitlines() if "| metric" in line)
    assert [c.strip() for c in header.strip("|").split("|")][1:] == [
        "metric",
        "ours",
        "baseline",
        "ratio",
        "added",
        "target",
        "met?",
    ]

    results = json.loads(out_json.read_text())
    assert results["quick"] is True
    by_key = {r["key"]: r for r in results["rows"]}
    assert sorted(by_key) == ["a", "b", "c", "d"]
    for key, r in by_key.items():
        assert math.isfinite(r["ours"]) and math.isfinite(r["baseline"]), r
        # a baseline was really measured: a time is never 0; a growth of memory may be (c)
        assert r["baseline"] > 0 if r["unit"] == "ms" else r["baseline"] >= 0, r
        if r["baseline"]:
            assert r["ratio"] == pytest.approx(r["ours"] / r["baseline"])
        else:
            assert r["ratio"] == math.inf
        figure = r["added"] if r["target_applies_to"] == "added" else r["ours"]
        assert r["met"] == (figure <= r["target"])
        assert rows[key]["met"] == ("yes" if r["met"] else "NO")
    # (a) and (d) time real jobs end to end: never faster than the bare process they wrap
    assert by_key["a"]["ours"] > 0 and by_key["d"]["ours"] > 0
    # (c) checked that every byte of the log arrived
    assert any("all 5,242,880 bytes received" in n for n in by_key["c"]["notes"]), by_key["c"]


def test_local_jobs_refuses_unknown_parts_with_a_message():
    proc = run_benchmark("local_jobs.py", "--only", "a,z", timeout=60)
    assert proc.returncode == 2
    assert "unknown parts: z" in proc.stderr


def test_a_missed_target_is_reported_as_not_met():
    added = local_jobs.Row("a", "latency", 250.0, 50.0, "ms", 100.0, "added")
    assert added.added == 200.0 and not added.met
    absolute = local_jobs.Row("b", "list", 19.0, 5.0, "ms", 20.0, "ours")
    assert absolute.met and absolute.ratio == pytest.approx(3.8)

    class Out:
        text = ""

        def write(self, s):
            self.text += s

    out = Out()
    local_jobs.print_table([added, absolute], out=out)
    verdicts = [m["met"] for m in map(ROW_RE.match, out.text.splitlines()) if m]
    assert verdicts == ["NO", "yes"]


def test_rss_sampler_sees_a_process_grow_by_what_it_allocates(tmp_path):
    """(c) reports a small growth: make sure the sampler would see a big one."""
    from _server import RssSampler

    go = tmp_path / "go"
    script = (
        "import os, time\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
        "block = bytearray(64 << 20)\n"  # zero-filled: every page is touched
        "time.sleep(0.5)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        with RssSampler(proc.pid, interval=0.01) as sampler:
            go.touch()
            proc.wait(30)
        assert sampler.growth >= 60 << 20, sampler.samples
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_fake_history_fills_the_store_with_finished_jobs_the_server_can_list(tmp_path):
    from jupyter_jobs.models import FINAL_STATUSES
    from jupyter_jobs.store import JobStore

    local_jobs.fill_store(str(tmp_path / "jobs"), str(tmp_path / "root"), 250)
    store = JobStore(str(tmp_path / "jobs" / "jobs.db"))
    try:
        assert store.count() == 250
        assert store.active() == []  # nothing for the manager to re-attach at start
        records, cursor = store.list(limit=100)
        assert len(records) == 100 and cursor is not None
        assert {r["status"] for r in records} <= FINAL_STATUSES
        assert {r["kind"] for r in records} == {"script", "notebook", "command"}
    finally:
        store.close()


@pytest.mark.slow
def test_multi_server_quick_prints_latency_and_visibility_against_baselines(tmp_path):
    out_json = tmp_path / "results.json"
    proc = run_benchmark("multi_server.py", "--quick", "--json", str(out_json))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(out_json.read_text())
    assert [r["key"] for r in rows] == ["a", "b", "c"]
    for r in rows:
        assert r["unit"] == "ms" and r["ours"] > 0 and r["baseline"] > 0, r
        assert math.isclose(r["ratio"], r["ours"] / r["baseline"])
    assert rows[0]["target_applies_to"] == "added" and rows[0]["target"] == 100
    assert rows[2]["target_applies_to"] == "ours" and rows[2]["target"] == 1100
    assert rows[1]["target"] is None and rows[1]["met"] is None
    printed = [m["key"] for m in map(ROW_RE.match, proc.stdout.splitlines()) if m]
    assert printed == ["a", "c"]  # the row without a target prints "-" as its verdict
