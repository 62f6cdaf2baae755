"""Run as another Unix user by test_slurm_users.py: a SlurmSpawner acting as that user.

argv: JOB_ROOT OTHER_USERS_JOB_ID. Prints one JSON object with what it saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from jupyter_jobs import jobfiles
from jupyter_jobs.exceptions import BadRequest
from jupyter_jobs.models import Job, new_job_id
from jupyter_jobs.spawners.slurm import SlurmSpawner


def make_job(root: str, argv: list[str], ref: str | None = None) -> Job:
    job_id = new_job_id()
    job_dir = os.path.join(root, job_id)
    os.makedirs(job_dir, mode=0o700)
    jobfiles.write_json(
        os.path.join(job_dir, "spec.json"), {"id": job_id, "argv": argv, "env": {}, "cwd": job_dir}
    )
    return Job(
        id=job_id,
        name="as user",
        kind="command",
        backend="slurm",
        profile="default",
        resources={"time_limit": 120},
        job_dir=job_dir,
        backend_ref=ref,
        status="queued",
    )


async def main(root: str, foreign_ref: str) -> dict:
    sp = SlurmSpawner(poll_interval=0.3, lost_after=2)
    out: dict = {"user": sp.slurm_user}
    mine = make_job(root, ["bash", "-c", "echo whoami=$(id -un)"])
    update = await sp.submit(mine)
    mine.backend_ref = update.backend_ref
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        u = (await sp.poll([mine])).get(mine.id)
        if u and u.status in ("completed", "failed", "cancelled", "lost"):
            out["mine"] = {"status": u.status, "exit_code": u.exit_code, "host": u.host}
            break
        await asyncio.sleep(0.3)
    with open(os.path.join(mine.job_dir, "output.log")) as f:
        out["mine_log"] = f.read()
    out["listed"] = sorted(await sp.squeue())
    foreign = make_job(root, ["true"], ref=foreign_ref)
    seen = []
    for _ in range(4):
        u = (await sp.poll([foreign])).get(foreign.id)
        seen.append(None if u is None else {"status": u.status, "host": u.host, "reason": u.reason})
    out["foreign_polls"] = seen
    out["foreign_cancel"] = repr(await sp.cancel(foreign))
    try:
        await sp.signal(foreign, 2)
        out["foreign_signal"] = "sent"
    except BadRequest as e:
        out["foreign_signal"] = e.message
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
