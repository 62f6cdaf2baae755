"""Two Unix users on the real cluster: another user's jobs are never listed, shown or cancelled.

A second user runs the spawner with a venv built from /usr/bin/python3 (root's Python may not be
readable by others); the venv is kept under the cluster's base directory between runs.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from jupyter_jobs.spawners.slurm import SlurmSpawner

from .conftest import REPO, make_job

ALICE, BOB = "jjalice", "jjbob"
pytestmark = pytest.mark.slow


def ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True)


@pytest.fixture(scope="module")
def users(slurm_cluster):
    if os.getuid() != 0:
        pytest.skip("needs root to create the second and third Unix users")
    for name in (ALICE, BOB):
        ensure_user(name)
    return ALICE, BOB


@pytest.fixture(scope="module")
def user_python(users, slurm_cluster):
    """A Python every user can run, with what the spawner and the runner import."""
    base = os.path.dirname(os.path.dirname(slurm_cluster))
    venv = os.path.join(base, "users-venv")
    python = os.path.join(venv, "bin", "python")
    check = [python, "-c", "import psutil, traitlets, jinja2"]
    if not os.path.exists(python) or subprocess.run(check, capture_output=True).returncode:
        if not os.path.exists("/usr/bin/python3"):
            pytest.skip("no /usr/bin/python3 to build a venv other users can read")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "psutil", "traitlets", "jinja2"], check=True
        )
    os.chmod(base, 0o755)
    return python


def submit_as(user: str, seconds: int) -> str:
    out = subprocess.run(
        [
            "runuser",
            "-u",
            user,
            "--",
            "sbatch",
            "--parsable",
            "-o",
            "/dev/null",
            "-t",
            "5",
            "--wrap",
            f"sleep {seconds}",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd="/tmp",
    ).stdout
    return out.strip().split(";")[0]


def slurm_state(ref: str) -> str:
    return subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", ref, "-o", "%T|%u"], capture_output=True, text=True
    ).stdout.strip()


def test_another_users_job_is_invisible_and_safe_from_a_server_of_a_second_user(users, user_python):
    bob_ref = submit_as(BOB, 120)
    root = tempfile.mkdtemp(prefix="jj-alice-")
    shutil.chown(root, ALICE, ALICE)
    try:
        r = subprocess.run(
            [
                "runuser",
                "-u",
                ALICE,
                "--",
                "env",
                f"PYTHONPATH={REPO}",
                f"SLURM_CONF={os.environ['SLURM_CONF']}",
                user_python,
                os.path.join(REPO, "tests", "slurm", "as_user.py"),
                root,
                bob_ref,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=root,
        )
        assert r.returncode == 0, r.stderr
        seen = json.loads(r.stdout)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert seen["user"] == ALICE
    assert seen["mine"] == {"status": "completed", "exit_code": 0, "host": "localhost"}
    assert seen["mine_log"] == f"whoami={ALICE}\n"
    assert bob_ref not in seen["listed"]
    # bob's job is pending or running, but alice's server never says so
    assert all(p is None or p["status"] == "lost" for p in seen["foreign_polls"]), seen
    assert seen["foreign_polls"][-1]["status"] == "lost"
    assert "localhost" not in json.dumps(seen["foreign_polls"])
    assert seen["foreign_cancel"] == "None"
    assert seen["foreign_signal"] == f"SLURM job {bob_ref} is not running"
    assert slurm_state(bob_ref).split("|") in (["PENDING", BOB], ["RUNNING", BOB])
    subprocess.run(["scancel", bob_ref])


async def test_root_server_never_cancels_or_shows_another_users_job(users, tmp_path):
    bob_ref = submit_as(BOB, 120)
    try:
        sp = SlurmSpawner(lost_after=2)
        assert sp.slurm_user == pwd.getpwuid(os.getuid()).pw_name
        assert bob_ref not in await sp.squeue()
        job = make_job(tmp_path, ["true"])
        job.backend_ref, job.status = bob_ref, "running"
        assert await sp.cancel(job) is None
        assert slurm_state(bob_ref).split("|")[1] == BOB
        assert slurm_state(bob_ref).split("|")[0] in ("PENDING", "RUNNING")
        updates = [(await sp.poll([job])).get(job.id) for _ in range(2)]
        assert updates[0] is None and updates[1].status == "lost"
        assert bob_ref in updates[1].reason and "localhost" not in updates[1].reason
    finally:
        subprocess.run(["scancel", bob_ref])
