"""Pinned inputs and SLURM mail on the real cluster, through the REST API of a real Jupyter
server: a script held in SLURM's queue (``--hold``: a real pending job), edited while it waits,
runs the content it had at submit (the copy in the job dir on the shared job root); a job with
``notify.slurm_mail`` is handed to sbatch with ``--mail-type``/``--mail-user``, which SLURM
accepts and shows."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from .conftest import slurm_field

pytestmark = pytest.mark.usefixtures("running_manager")

#: an administrator's profile that holds its jobs in SLURM's queue (``--hold``): a real pending
#: job, released by the test with ``scontrol release``
HELD = {"name": "held", "resources": {"cpus": 1, "time_limit": 300, "extra": {"hold": True}}}


@pytest.fixture
def jobs_config():
    return {
        "JobManager": {"enabled_backends": ["local", "slurm"]},
        "SlurmSpawner": {"poll_interval": 0.5, "profiles": [HELD]},
    }


async def wait_for(jobs_api, job_id, check, timeout=60):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await jobs_api.get(job_id)
        if check(job):
            return job
        assert asyncio.get_running_loop().time() < deadline, job
        await asyncio.sleep(0.2)


async def test_a_script_edited_while_held_in_the_queue_runs_as_submitted(jobs_api, jp_root_dir):
    (jp_root_dir / "lib").mkdir()
    (jp_root_dir / "lib" / "step.py").write_text(
        "import socket\nprint('content-v1 on', socket.gethostname(), 'file', __file__)\n"
    )
    job = await jobs_api.submit(
        {
            "path": "lib/step.py",
            "backend": "slurm",
            "profile": "held",
            "notify": {"on": "failure", "email": ["alice@example.org"], "slurm_mail": True},
        }
    )
    held = await wait_for(jobs_api, job["id"], lambda j: j["backend_ref"])
    ref = held["backend_ref"]
    assert held["status"] == "queued", held
    assert slurm_field(ref, "JobState") == "PENDING"
    # SLURM took the mail options from the sbatch argv
    assert slurm_field(ref, "MailUser") == "alice@example.org"
    assert slurm_field(ref, "MailType") == "FAIL"
    (jp_root_dir / "lib" / "step.py").write_text("print('content-v2')\n")
    subprocess.run(["scontrol", "release", ref], check=True, capture_output=True)
    done = await wait_for(
        jobs_api, job["id"], lambda j: j["status"] in ("completed", "failed"), timeout=120
    )
    log = await jobs_api.log(job["id"])
    assert done["status"] == "completed", log
    assert "content-v1 on" in log and "content-v2" not in log, log
    assert f"file {done['pinned_path']}" in log  # the compute node ran the copy in the job dir


async def test_without_slurm_mail_sbatch_gets_no_mail_options(jobs_api, jp_root_dir):
    (jp_root_dir / "quiet.py").write_text("print('quiet')\n")
    job = await jobs_api.submit(
        {
            "path": "quiet.py",
            "backend": "slurm",
            "profile": "held",
            "notify": {"on": "failure", "email": ["alice@example.org"]},
        }
    )
    held = await wait_for(jobs_api, job["id"], lambda j: j["backend_ref"])
    shown = subprocess.run(
        ["scontrol", "show", "job", "-o", held["backend_ref"]], capture_output=True, text=True
    ).stdout
    assert "JobState=PENDING" in shown and "MailUser=" not in shown and "MailType=" not in shown
    r = await jobs_api.request("POST", f"jobs/{job['id']}/cancel")
    assert r.code == 202, r.body
