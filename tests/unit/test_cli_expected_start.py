"""``jupyter jobs show``'s expected start (issue 14, point 12): SLURM's year-ahead estimate for a job
queued behind one without a time limit reads "unknown", as in the UI."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jupyter_jobs.cli import _expected_start


def iso(days: float) -> str:
    t = datetime.now(timezone.utc) + timedelta(days=days)
    return t.isoformat().replace("+00:00", "Z")


def test_a_sensible_estimate_is_shown_in_local_time():
    shown = _expected_start({"status": "queued", "backend": "slurm", "expected_start": iso(0.5)})
    assert shown and shown[:4].isdigit() and ":" in shown


def test_none_or_a_year_ahead_is_unknown_on_slurm():
    for value in (None, "", iso(365), "not a time"):
        job = {"status": "queued", "backend": "slurm", "expected_start": value}
        assert _expected_start(job) == "unknown", value


def test_only_queued_jobs_have_one():
    assert (
        _expected_start({"status": "running", "backend": "slurm", "expected_start": iso(1)}) is None
    )
    assert _expected_start({"status": "queued", "backend": "local", "expected_start": None}) is None
