"""The efficiency summary (jupyter_jobs.efficiency) from a runner's records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jupyter_jobs.efficiency import integrate_cpu, nice_memory, nice_time, summary
from jupyter_jobs.models import Job, normalize_resources

GiB = 1024**3
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def job(resources=None, seconds=100.0, status="completed") -> Job:
    return Job(
        id="j",
        name="j",
        kind="command",
        backend="slurm",
        profile="default",
        status=status,
        resources=normalize_resources(resources or {}),
        started_at=T0,
        finished_at=T0 + timedelta(seconds=seconds),
    )


def runner_status(cpu_seconds=None, max_rss=None, seconds=100.0):
    status = {
        "state": "completed",
        "started_at": T0.isoformat(),
        "finished_at": (T0 + timedelta(seconds=seconds)).isoformat(),
    }
    if cpu_seconds is not None:
        status["cpu_seconds"] = cpu_seconds
    if max_rss is not None:
        status["max_rss_bytes"] = max_rss
    return status


def test_the_shape_and_the_hints_for_requests_far_too_large():
    eff = summary(
        job({"cpus": 8, "memory": "32G", "time_limit": "04:00:00"}, seconds=180),
        [{"t": T0.timestamp() + 1, "cpu_percent": 110.0, "rss_bytes": int(1.2 * GiB)}],
        runner_status(cpu_seconds=198.0, seconds=180),
    )
    assert eff == {
        "cpu": {"used_core_seconds": 198.0, "cores": 8, "wall_seconds": 180.0, "ratio": 0.138},
        "memory": {"peak_bytes": int(1.2 * GiB), "requested_bytes": 32 * GiB, "ratio": 0.037},
        "time": {"used_seconds": 180.0, "limit_seconds": 14400, "ratio": 0.013},
        "hints": [
            "used 1.1 of 8 CPUs on average: 2 would do next time",
            "used 1.2G of 32G of memory: next time ask for 4G",
            "used 00:03:00 of a 04:00:00 time limit: 00:15:00 would do",
        ],
    }


def test_a_well_sized_request_gets_no_hint():
    eff = summary(
        job({"cpus": 2, "memory": "4G", "time_limit": 300}, seconds=200),
        [{"t": T0.timestamp() + 100, "cpu_percent": 190.0, "rss_bytes": 3 * GiB}],
        runner_status(cpu_seconds=380.0, seconds=200),
    )
    assert eff is not None and eff["hints"] == []
    assert eff["cpu"]["ratio"] == 0.95 and eff["memory"]["ratio"] == 0.75
    assert eff["time"]["ratio"] == 0.667


def test_a_failed_job_gets_numbers_but_no_advice():
    eff = summary(
        job({"cpus": 8, "memory": "32G"}, seconds=5, status="failed"),
        [{"t": T0.timestamp() + 1, "cpu_percent": 10.0, "rss_bytes": 10 * 1024**2}],
        runner_status(cpu_seconds=0.5, seconds=5),
    )
    assert eff is not None and eff["hints"] == [] and eff["memory"]["ratio"] < 0.01


def test_unknown_parts_are_left_out():
    # no request: no ratios; no samples and no CPU time: no cpu and memory parts
    eff = summary(job(seconds=10), [], {})
    assert eff == {"time": {"used_seconds": 10.0}, "hints": []}
    # SLURM's default of one CPU counts when none was asked for
    eff = summary(job(seconds=10), [], runner_status(cpu_seconds=5.0, seconds=10), {"cpus": 1})
    assert eff is not None and eff["cpu"] == {
        "used_core_seconds": 5.0,
        "cores": 1,
        "wall_seconds": 10.0,
        "ratio": 0.5,
    }
    assert "memory" not in eff
    never_ran = job()
    never_ran.started_at = None
    assert summary(never_ran, [], {}) is None


def test_without_the_runners_cpu_time_the_samples_are_integrated():
    t = T0.timestamp()
    samples = [
        {"t": t + 1, "cpu_percent": 100.0, "rss_bytes": 100},
        {"t": t + 2, "cpu_percent": 200.0, "rss_bytes": 300},
        {"t": t + 4, "cpu_percent": 50.0, "rss_bytes": 200},
    ]
    assert integrate_cpu(samples, t) == 1.0 + 2.0 + 1.0
    eff = summary(job({"cpus": 2}, seconds=4), samples, {})
    assert eff is not None
    assert eff["cpu"]["used_core_seconds"] == 4.0 and eff["cpu"]["ratio"] == 0.5
    # the largest single process (getrusage) counts when the samples missed a peak
    eff = summary(job(seconds=4), samples, runner_status(max_rss=5000, seconds=4))
    assert eff is not None and eff["memory"] == {"peak_bytes": 5000}


def test_suggestions_round_up_with_headroom():
    assert nice_memory(10) == 256 * 1024**2
    assert nice_memory(2.4 * GiB) == 4 * GiB
    assert nice_memory(4 * GiB) == 4 * GiB
    assert nice_time(1) == 900 and nice_time(3601) == 7200 and nice_time(50000) == 86400
    assert nice_time(3 * 86400 - 1) == 3 * 86400


def test_the_backends_default_time_limit_counts_when_none_was_asked_for():
    eff = summary(
        job({"cpus": 1}, seconds=180),
        [],
        runner_status(cpu_seconds=170.0, seconds=180),
        {"cpus": 1, "time_limit": 4 * 3600},
    )
    assert eff is not None
    assert eff["time"] == {"used_seconds": 180.0, "limit_seconds": 14400, "ratio": 0.013}
    assert eff["hints"] == ["used 00:03:00 of a 04:00:00 time limit: 00:15:00 would do"]
