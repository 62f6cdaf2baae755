"""Notifications (docs/CONTRACT.md, "Notifications"), against a real Jupyter server and real
local runs: a webhook POSTed to a local tornado receiver (real HTTP), e-mail through a small
asyncio SMTP server written here (stdlib ``smtplib`` is the client), exactly once, only when ``on``
says so, and a failed notification is logged without touching the job."""

from __future__ import annotations

import asyncio
import email
import json
import logging
import os
import socket

import pytest
from tornado import httpserver, web

from jupyter_jobs.notify import NOTIFIED


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A webhook receiver: a tornado app on a loopback port that keeps every POST's JSON."""

    def __init__(self, status: int = 200):
        self.posts: list[dict] = []
        self.headers: list[dict] = []
        self.status = status
        self.port = free_port()
        receiver = self

        class Hook(web.RequestHandler):
            def post(self):
                receiver.posts.append(json.loads(self.request.body))
                receiver.headers.append(dict(self.request.headers))
                self.set_status(receiver.status)
                self.finish("ok")

        self.server = httpserver.HTTPServer(web.Application([(r"/hook/.*", Hook)]))
        self.server.listen(self.port, "127.0.0.1")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook/T000/B000/secret"


class SMTPServer:
    """Enough of SMTP (RFC 5321) for smtplib's send_message: EHLO, MAIL, RCPT, DATA, QUIT."""

    def __init__(self):
        self.messages: list[dict] = []
        self.port = free_port()
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.session, "127.0.0.1", self.port)

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 test SMTP")
        sender, rcpts = None, []
        while True:
            line = (await reader.readline()).decode()
            if not line:
                break
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                say("250-test")
                say("250 8BITMIME")
            elif verb == "MAIL":
                sender, rcpts = line.split(":", 1)[1].strip(), []
                say("250 OK")
            elif verb == "RCPT":
                rcpts.append(line.split(":", 1)[1].strip().strip("<>"))
                say("250 OK")
            elif verb == "DATA":
                say("354 go ahead")
                data = b""
                while True:
                    chunk = await reader.readline()
                    if chunk in (b".\r\n", b""):
                        break
                    data += chunk
                self.messages.append({"from": sender, "to": rcpts, "data": data})
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                await writer.drain()
                break
            else:
                say("250 OK")
            await writer.drain()
        writer.close()


@pytest.fixture
def smtp(jp_asyncio_loop):
    server = SMTPServer()
    jp_asyncio_loop.run_until_complete(server.start())
    yield server
    assert server.server is not None
    server.server.close()


def notifier_config(smtp_port: int) -> dict:
    """The Notifier settings of these tests: the loopback SMTP server, a public address."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "sender": "jobs@example.org",
        "base_url": "https://hub.example.org/user/alice/",
        "timeout": 5.0,
    }


@pytest.fixture
def jobs_config(smtp):
    return {"Notifier": notifier_config(smtp.port)}


async def eventually(check, timeout: float = 30.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.05)


async def settled(manager) -> None:
    """Every notification the manager started has been sent (or failed)."""
    await eventually(lambda: not [t for t in manager._background if not t.done()])


def job_dir(manager, job) -> str:
    return manager.root.job_dir(job["id"])


async def test_a_failing_job_posts_its_webhook_once(jobs_api, manager):
    hook = Receiver()
    job = await jobs_api.submit(
        {
            "command": ["python3", "-c", "import sys; sys.exit(3)"],
            "name": "nightly report",
            "notify": {"on": "failure", "webhook": hook.url},
        }
    )
    assert job["notify"] == {"on": "failure", "email": [], "webhook": hook.url, "slurm_mail": False}
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "failed"
    await eventually(lambda: hook.posts)
    await settled(manager)
    [post] = hook.posts
    assert post["text"].startswith("jupyter-jobs: nightly report failed (exit code 3)"), post
    assert "\n" not in post["text"]
    assert post["job"]["id"] == job["id"] and post["job"]["status"] == "failed"
    assert post["job"]["exit_code"] == 3 and post["job"]["name"] == "nightly report"
    assert post["job"]["url"] == (
        f"https://hub.example.org/user/alice/jupyter-jobs/api/jobs/{job['id']}"
    )
    assert hook.headers[0]["Content-Type"] == "application/json"
    # exactly once: the marker is there, and a second send (another look, a takeover) sends nothing
    assert os.path.exists(os.path.join(job_dir(manager, job), NOTIFIED))
    assert await manager.notifier.send(manager.get(job["id"])) is False
    assert len(hook.posts) == 1


async def test_on_failure_sends_nothing_for_a_completed_job_always_does(jobs_api, manager):
    hook = Receiver()
    quiet = await jobs_api.submit(
        {"command": ["true"], "notify": {"on": "failure", "webhook": hook.url}}
    )
    loud = await jobs_api.submit(
        {"command": ["true"], "name": "loud", "notify": {"on": "always", "webhook": hook.url}}
    )
    assert (await jobs_api.wait(quiet["id"]))["status"] == "completed"
    assert (await jobs_api.wait(loud["id"]))["status"] == "completed"
    await eventually(lambda: hook.posts)
    await settled(manager)
    assert [p["job"]["id"] for p in hook.posts] == [loud["id"]]
    assert (
        hook.posts[0]["text"]
        == "jupyter-jobs: loud completed <https://hub.example.org/user/alice/jupyter-jobs/api/jobs/"
        + loud["id"]
        + ">"
    )
    assert not os.path.exists(os.path.join(job_dir(manager, quiet), NOTIFIED))


async def test_an_email_goes_through_the_configured_smtp_server(jobs_api, manager, smtp):
    job = await jobs_api.submit(
        {
            "command": ["python3", "-c", "raise SystemExit(1)"],
            "name": "etl",
            "notify": {"email": ["alice@example.org", "ops@example.org"]},
        }
    )
    assert (await jobs_api.wait(job["id"]))["status"] == "failed"
    await eventually(lambda: smtp.messages)
    await settled(manager)
    [sent] = smtp.messages
    assert sent["to"] == ["alice@example.org", "ops@example.org"]
    message = email.message_from_bytes(sent["data"])
    assert message["Subject"] == "jupyter-jobs: etl failed (exit code 1)"
    assert message["From"] == "jobs@example.org"
    body = message.get_payload(decode=True).decode()
    assert f"id: {job['id']}" in body and "status: failed" in body


async def test_a_report_job_links_its_html_report(jobs_api, manager, jp_root_dir):
    import nbformat

    hook = Receiver()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 / 0")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, jp_root_dir / "r.ipynb")
    job = await jobs_api.submit(
        {"path": "r.ipynb", "output_formats": ["html"], "notify": {"webhook": hook.url}}
    )
    assert (await jobs_api.wait(job["id"], timeout=120))["status"] == "failed"
    await eventually(lambda: hook.posts)
    url = hook.posts[0]["job"]["url"]
    assert url == f"https://hub.example.org/user/alice/lab/tree/{job['outputs'][1]}"
    assert hook.posts[0]["job"]["outputs"] == job["outputs"]


async def test_a_failed_notification_is_logged_and_never_fails_the_job(jobs_api, manager, caplog):
    refusing = Receiver(status=500)
    nobody = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    caplog.set_level(logging.WARNING)
    first = await jobs_api.submit(
        {"command": ["true"], "notify": {"on": "always", "webhook": refusing.url}}
    )
    second = await jobs_api.submit(
        {"command": ["true"], "notify": {"on": "always", "webhook": nobody}}
    )
    assert (await jobs_api.wait(first["id"]))["status"] == "completed"
    assert (await jobs_api.wait(second["id"]))["status"] == "completed"
    await eventually(lambda: refusing.posts)
    await settled(manager)
    lines = [r.getMessage() for r in caplog.records if "webhook of job" in r.getMessage()]
    assert any(first["id"] in line and "500" in line for line in lines), lines
    assert any(second["id"] in line for line in lines), lines
    assert all("secret" not in line and "\n" not in line for line in lines)  # host only
    for job in (first, second):
        assert (await jobs_api.get(job["id"]))["status"] == "completed"


@pytest.mark.parametrize(
    "notify, words",
    [
        ({"webhook": "ftp://example.org/x"}, "not an http:// or https:// address"),
        ({"webhook": "https://exa mple.org/"}, "not an http:// or https:// address"),
        ({"webhook": "https://example.org/\nX-Evil: 1"}, "not an http:// or https:// address"),
        ({"webhook": "javascript:alert(1)"}, "not an http:// or https:// address"),
        ({"email": ["not-an-address"]}, "is not valid"),
        ({"email": ["a@b.org\r\nBcc: x@y.org"]}, "is not valid"),
        ({"email": ["Alice <a@b.org>"]}, "is not valid"),
        ({"email": "a@b.org", "on": "sometimes"}, "use failure"),
        ({"on": "always"}, "give an e-mail address or a webhook"),
        ({"webhook": "https://x.org/h", "slurm_mail": True}, "SLURM mail needs an e-mail"),
        ({"webhook": "https://x.org/h", "slurm_mail": "yes"}, "true or false"),
        ({"webhook": "https://x.org/h", "sms": "+4912345"}, "unknown setting"),
        ("https://x.org/h", "must be settings"),
    ],
)
async def test_bad_notify_settings_are_400s_that_create_nothing(jobs_api, notify, words):
    r = await jobs_api.request("POST", "jobs", {"command": ["true"], "notify": notify})
    assert r.code == 400, r.body
    answer = json.loads(r.body)
    assert answer["field"] == "notify" and answer["message"].startswith("Notifications"), answer
    assert words in answer["message"], answer
    assert json.loads((await jobs_api.request("GET", "jobs")).body)["total"] == 0
