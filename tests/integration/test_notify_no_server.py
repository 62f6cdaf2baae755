"""A job that ends while no server runs still sends its notification — at the moment it ends,
from the runner (docs/CONTRACT.md, "Notifications"): a JupyterHub server culled overnight must
not hold back the failure message of a run until someone opens JupyterLab again.

Real parts: a ``jupyter server`` process with the extension, stopped cleanly (SIGTERM, as
culling does) or SIGKILLed while the job runs; a webhook receiver and an SMTP server on loopback
ports; the Notifier settings only in the server's config file, which the runner reads itself.
A server started afterwards sends nothing again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from benchmarks._server import ServerProcess, request
from tests.integration.test_notify import Receiver, SMTPServer, notifier_config

SCRIPT = "import time, sys\ntime.sleep(float(sys.argv[1]))\nprint('giving up')\nsys.exit(3)\n"


async def until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        await asyncio.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["culled", "killed"])
async def test_a_job_ending_with_no_server_sends_its_webhook_and_email_itself(tmp_path, sig):
    receiver = Receiver()
    smtp = SMTPServer()
    await smtp.start()
    config = {
        "LocalSpawner": {"poll_interval": 0.5},
        "Notifier": notifier_config(smtp.port),
    }
    workdir = str(tmp_path)
    os.makedirs(tmp_path / "root")
    (tmp_path / "root" / "nightly.py").write_text(SCRIPT)
    first = ServerProcess(config=config, workdir=workdir).start()
    try:
        _, job, _ = await request(
            first,
            "POST",
            "jupyter-jobs/api/jobs",
            {
                "path": "nightly.py",
                "args": ["3"],
                "notify": {"on": "failure", "webhook": receiver.url, "email": ["a@example.org"]},
            },
            expect=201,
        )
        job_dir = os.path.join(first.job_root, job["id"])
        await until(lambda: os.path.exists(os.path.join(job_dir, ".started")), 30, "not started")
        first.proc.send_signal(sig)
        first.proc.wait(30)
    except BaseException:
        first._terminate()
        raise
    try:
        # no server runs now: the runner itself posts when the script fails
        await until(lambda: receiver.posts and smtp.messages, 30, "nothing was sent")
        with open(os.path.join(job_dir, ".notified")) as f:
            assert json.load(f)["by"] == "runner"
        (post,) = receiver.posts
        assert post["job"]["id"] == job["id"]
        assert post["job"]["status"] == "failed"
        assert post["job"]["exit_code"] == 3
        assert post["text"].startswith("jupyter-jobs: nightly.py failed")
        assert "https://hub.example.org/user/alice/" in post["text"]
        (mail,) = smtp.messages
        assert mail["to"] == ["a@example.org"]
        assert b"nightly.py failed" in mail["data"]

        # a server that comes back shows the failure and sends nothing a second time
        second = ServerProcess(config=config, workdir=workdir).start()
        try:
            deadline = time.monotonic() + 60
            while True:
                _, seen, _ = await request(
                    second, "GET", f"jupyter-jobs/api/jobs/{job['id']}", expect=200
                )
                if seen["status"] == "failed" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert seen["status"] == "failed", seen
            assert seen["exit_code"] == 3
            await asyncio.sleep(2.0)  # what the server would send, it would send by now
            assert len(receiver.posts) == 1 and len(smtp.messages) == 1
        finally:
            second.stop()
    finally:
        receiver.server.stop()
        assert smtp.server is not None
        smtp.server.close()


@pytest.mark.slow
async def test_a_job_whose_server_runs_is_notified_by_the_server_not_twice(tmp_path):
    """With its server alive the runner leaves the notification to it: exactly one post."""
    receiver = Receiver()
    workdir = str(tmp_path)
    os.makedirs(tmp_path / "root")
    (tmp_path / "root" / "nightly.py").write_text(SCRIPT)
    server = ServerProcess(config={"LocalSpawner": {"poll_interval": 0.5}}, workdir=workdir)
    server.start()
    try:
        _, job, _ = await request(
            server,
            "POST",
            "jupyter-jobs/api/jobs",
            {"path": "nightly.py", "args": ["0"], "notify": {"webhook": receiver.url}},
            expect=201,
        )
        await until(lambda: receiver.posts, 30, "nothing was sent")
        await asyncio.sleep(2.0)
        assert len(receiver.posts) == 1
        with open(os.path.join(server.job_root, job["id"], ".notified")) as f:
            assert json.load(f)["by"] == "server"
    finally:
        server.stop()
        receiver.server.stop()
