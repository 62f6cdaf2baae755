"""Several servers on one job root: what a second server costs, and how soon it sees a job.

Usage: ``python benchmarks/multi_server.py [--quick] [--runs N] [--json out.json]``.

(a) added latency of a trivial local job (``POST jobs`` → ``completed`` event on the submitting
    server) with a second server on the same job root, against the same figure with one server,
    measured in the same run (interleaved, so both see the same machine load).
(b, c) visibility: a job submitted on server A → its ``created`` event on server B's events
    websocket (median and worst), against the same job's ``created`` event on A itself.
    ``JobManager.sync_interval`` is 1 s (the default): B must see the job within one interval (plus
    100 ms for the look and the event's delivery).

Both servers run on this host (``--two-hosts`` puts them on two sshfs mounts of one folder, each
playing its own host, when scripts/sshfs-up.sh runs). Prints a table: ours, baseline, ratio, added,
target, met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._server import EventStream, Row, ServerProcess, report, request

API = "jupyter-jobs/api"
TRIVIAL = {"command": ["true"]}
SYNC_INTERVAL = 1.0


def server(workdir: str, job_root: str, root: str, host: str | None = None) -> ServerProcess:
    env = {"JUPYTER_JOBS_LOCAL_STATE": os.path.join(workdir, "local-state")}
    if host:
        env["JUPYTER_JOBS_HOST"] = host
    config = {
        "JobManager": {"enabled_backends": ["local"], "sync_interval": SYNC_INTERVAL},
        "LocalSpawner": {"max_concurrent": 4},
    }
    os.makedirs(workdir, exist_ok=True)
    return ServerProcess(config=config, workdir=workdir, job_root=job_root, root_dir=root, env=env)


async def latency(srv: ServerProcess, events: EventStream) -> float:
    """Seconds from POST jobs to the job's completed event."""
    t0 = time.monotonic()
    _, job, _ = await request(srv, "POST", f"{API}/jobs", TRIVIAL, expect=201)
    t, data = await events.wait_final(job["id"])
    events.forget(job["id"])
    if data["status"] != "completed":
        raise RuntimeError(f"trivial job ended {data['status']}")
    return t - t0


async def visibility(a: ServerProcess, ev_a: EventStream, ev_b: EventStream) -> tuple[float, float]:
    """(seconds until B's created event, seconds until A's own) for one job submitted on A."""
    await asyncio.sleep(random.uniform(0, SYNC_INTERVAL))  # at any phase of B's sync loop
    t0 = time.monotonic()
    _, job, _ = await request(a, "POST", f"{API}/jobs", TRIVIAL, expect=201)

    def created(d: dict[str, Any]) -> bool:
        return d.get("job_id") == job["id"] and d.get("action") == "created"

    t_b, _ = await ev_b.wait_for(created, timeout=30)
    t_a, _ = await ev_a.wait_for(created, timeout=30)
    await ev_a.wait_final(job["id"])
    ev_a.forget(job["id"])
    ev_b.forget(job["id"])
    return t_b - t0, t_a - t0


async def run(args: argparse.Namespace, base: Path, places: dict[str, Path]) -> list[Row]:
    runs = 3 if args.quick else args.runs
    one_root = str(places["a"] / "solo-job-root")  # the same filesystem as the pair's
    solo = server(str(base / "solo"), one_root, str(places["a"] / "home"))
    pair_a = server(
        str(base / "pair-a"), str(places["a"] / "job-root"), str(places["a"] / "home"), args.host_a
    )
    pair_b = server(
        str(base / "pair-b"), str(places["b"] / "job-root"), str(places["b"] / "home"), args.host_b
    )
    one, two, seen_b, seen_a = [], [], [], []
    with solo, pair_a, pair_b:  # each context starts its server
        async with EventStream(solo) as ev_solo, EventStream(pair_a) as ev_a:
            async with EventStream(pair_b) as ev_b:
                for _ in range(2):  # warm-up: imports, first runner start
                    await latency(solo, ev_solo)
                    await latency(pair_a, ev_a)
                for _ in range(runs):
                    one.append(await latency(solo, ev_solo))
                    two.append(await latency(pair_a, ev_a))
                for _ in range(runs):
                    b, a = await visibility(pair_a, ev_a, ev_b)
                    seen_b.append(b)
                    seen_a.append(a)
    ms = 1000.0
    where = "two sshfs mounts (two hosts)" if args.two_hosts else "one host"
    return [
        Row(
            "a",
            f"trivial job: POST → completed, 2 servers on one job root ({where}), median of {runs}",
            statistics.median(two) * ms,
            statistics.median(one) * ms,
            "ms",
            100.0,
            "added",
            ["baseline: the same job with 1 server on its job root, interleaved"],
        ),
        Row(
            "b",
            f"submitted on A → created event on B ({where}), median of {runs}",
            statistics.median(seen_b) * ms,
            statistics.median(seen_a) * ms,
            "ms",
            None,
            "ours",
            ["baseline: the created event on A itself; submitted at a random phase of B's sync"],
        ),
        Row(
            "c",
            f"submitted on A → created event on B ({where}), worst of {runs}",
            max(seen_b) * ms,
            max(seen_a) * ms,
            "ms",
            SYNC_INTERVAL * ms + 100,
            "ours",
            [
                f"target: one sync interval (JobManager.sync_interval = {SYNC_INTERVAL:g} s)"
                " plus 100 ms for the look itself and the event's delivery"
            ],
        ),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 runs: a smoke run, not figures")
    p.add_argument("--runs", type=int, default=20, help="samples per figure (default 20)")
    p.add_argument("--two-hosts", action="store_true", help="two sshfs mounts (sshfs-up.sh)")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = p.parse_args(argv)
    args.host_a = "host-a" if args.two_hosts else None
    args.host_b = "host-b" if args.two_hosts else None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="jj-multi-bench-") as tmp, contextlib.ExitStack() as st:
        base = Path(tmp)
        if args.two_hosts:
            from tests.multihost import SshEndpoint, TwoHosts

            endpoint = SshEndpoint.from_env()
            mounts = endpoint.base / "mounts"
            mounts.mkdir(parents=True, exist_ok=True)
            hosts = st.enter_context(TwoHosts(Path(tempfile.mkdtemp(dir=mounts)), endpoint))
            (hosts.shared / "home").mkdir()
            places = {"a": hosts.a, "b": hosts.b}
        else:
            (base / "shared" / "home").mkdir(parents=True)
            places = {"a": base / "shared", "b": base / "shared"}
        rows = asyncio.run(run(args, base, places))
    report(rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
