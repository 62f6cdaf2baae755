"""The runner on its own: real processes, no server."""

import json
import os
import signal
import subprocess
import sys
import time

from jupyter_jobs import jobfiles
from jupyter_jobs.logstream import utf8_cut
from jupyter_jobs.runner import TQDM_RE


def run(tmp_path, argv, **spec):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    jobfiles.write_json(
        str(job_dir / "spec.json"), {"id": "f" * 32, "argv": argv, "cwd": str(tmp_path), **spec}
    )
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_jobs.runner", str(job_dir)])
    return job_dir, proc


def status(job_dir):
    return json.loads((job_dir / "status.json").read_text())


def test_exit_code_log_and_status(tmp_path):
    job_dir, proc = run(tmp_path, [sys.executable, "-c", "print('hi'); import sys; sys.exit(4)"])
    assert proc.wait(30) == 0
    s = status(job_dir)
    assert s["state"] == "failed" and s["exit_code"] == 4 and s["reason"] == "exit code 4"
    assert (job_dir / "output.log").read_text() == "hi\n"
    assert s["host"] and s["pid"] and s["started_at"] and s["finished_at"]


def test_missing_program_is_127(tmp_path):
    job_dir, proc = run(tmp_path, ["no-such-program-xyz"])
    proc.wait(30)
    s = status(job_dir)
    assert s["exit_code"] == 127 and "cannot start" in s["reason"]
    assert "cannot start" in (job_dir / "output.log").read_text()


def test_sigterm_to_runner_cancels_tree(tmp_path):
    job_dir, proc = run(tmp_path, ["bash", "-c", "sleep 200 & sleep 201"], cancel_grace=1)
    for _ in range(100):
        if (job_dir / "status.json").exists() and status(job_dir).get("state") == "running":
            break
        time.sleep(0.05)
    pid = status(job_dir)["pid"]
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    s = status(job_dir)
    assert s["state"] == "cancelled" and s["reason"] == "cancelled (SIGTERM)"
    out = subprocess.run(["pgrep", "-f", "sleep 20[01]"], capture_output=True, text=True)
    assert out.stdout.strip() == ""
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_a_cancel_signal_that_reaches_the_command_first_is_still_a_cancel(tmp_path):
    """scancel signals every process of the job at once: the command may die of SIGTERM before
    the runner's own SIGTERM is handled. That end is the cancel's, not a failure."""
    job_dir, proc = run(tmp_path, ["sleep", "200"], cancel_grace=1)
    for _ in range(100):
        if (job_dir / "status.json").exists() and status(job_dir).get("state") == "running":
            break
        time.sleep(0.05)
    os.kill(status(job_dir)["pid"], signal.SIGTERM)  # the command first
    time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)  # then the runner, as scancel's signal reaches it
    proc.wait(30)
    s = status(job_dir)
    assert (s["state"], s["reason"], s["exit_code"]) == ("cancelled", "cancelled (SIGTERM)", None)


def test_a_command_killed_by_sigterm_with_no_cancel_is_a_failure(tmp_path):
    job_dir, proc = run(tmp_path, ["bash", "-c", "kill -TERM $$"])
    proc.wait(30)
    s = status(job_dir)
    assert (s["state"], s["reason"], s["exit_code"]) == ("failed", "killed by SIGTERM", 143)


def test_killed_by_signal_is_128_plus_n(tmp_path):
    job_dir, proc = run(tmp_path, ["bash", "-c", "kill -9 $$"])
    proc.wait(30)
    s = status(job_dir)
    assert s["exit_code"] == 137 and s["reason"] == "killed by SIGKILL"


def test_tqdm_pattern():
    line = b"Epoch 3:  45%|####5     | 45/100 [00:01<00:01, 40.00it/s]"
    m = list(TQDM_RE.finditer(line))[-1]
    assert m.group(2) == b"45" and m.group(3) == b"45/100"
    assert not list(TQDM_RE.finditer(b"accuracy is 45% today"))


def test_utf8_cut_never_splits_a_character():
    text = "aé✓😀".encode()
    for n in range(len(text) + 1):
        cut = utf8_cut(text[:n])
        text[:cut].decode("utf-8")  # must not raise
        assert cut <= n and n - cut < 4


def test_no_process_outlives_the_job_even_one_that_hid(tmp_path):
    # an escapee in its own session without the job's environment: found as an orphan we reap
    job_dir, proc = run(
        tmp_path, ["bash", "-c", "env -u JUPYTER_JOBS_JOB_ID setsid sleep 333 & sleep 0.3; exit 0"]
    )
    assert proc.wait(30) == 0
    assert status(job_dir)["state"] == "completed"
    time.sleep(0.2)
    out = subprocess.run(["pgrep", "-f", "sleep 333"], capture_output=True, text=True)
    assert out.stdout.strip() == ""


def test_a_time_stamp_is_one_clock_reading_even_across_a_second_boundary(monkeypatch):
    """The seconds and the fraction come from one reading: with two readings a time taken at
    08:01:59.9999 with the clock ticking over to 08:02:00.0001 was written 08:01:59.000100,
    almost a second early (a SLURM array task seemed to start before the job it waited for
    had finished)."""
    from datetime import datetime

    from jupyter_jobs import runner

    readings = iter([1_700_000_000.9999995, 1_700_000_001.0001, 1_700_000_001.0002])
    monkeypatch.setattr(runner.time, "time", lambda: next(readings))
    stamp = runner.now_iso()
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    assert abs(parsed - 1_700_000_000.9999995) < 1e-5, stamp
    monkeypatch.undo()
    for t in (0.0, 1.5, 1_700_000_000.25, 1_800_000_000.999999):
        got = datetime.fromisoformat(runner.now_iso(t).replace("Z", "+00:00")).timestamp()
        assert abs(got - t) < 1e-5, (t, runner.now_iso(t))
