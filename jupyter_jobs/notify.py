"""Notifications off the browser: e-mail and a webhook when a job ends (docs/CONTRACT.md,
"Notifications").

A job's ``notify`` (``{"on": "failure"|"always", "email": [...], "webhook": url|null,
"slurm_mail": bool}``) is acted on by the job's owner when the job reaches a final status, exactly
once: the sender first makes ``.notified`` in the job's directory with ``O_EXCL`` (a server that
takes the job over, or a second look at the same end, finds it and sends nothing). E-mail goes
through the SMTP server of :class:`Notifier` (stdlib ``smtplib``, in a thread: the server's loop
never waits on it); the webhook is a JSON ``POST`` (tornado's ``AsyncHTTPClient``, with a timeout)
whose payload Slack and Microsoft Teams incoming webhooks both take: a ``text`` with a one-line
summary, plus ``job`` with the details. A notification that fails is logged (one warning line);
it never changes the job.

Who sends: the job's owner when it sees the end — and, first, the runner itself at the end of the
job when no server will see it soon (:func:`send_at_end`): a run fired by the engine (SLURM's
``--begin`` chain) while every server is culled or stopped, or a job whose server stopped
cleanly. The runner reads the ``Notifier`` settings from the same config files a server reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import smtplib
import sys
from email.message import EmailMessage
from typing import Any

from traitlets import Bool, Float, Integer, Unicode
from traitlets.config import LoggingConfigurable

from . import jobfiles
from .api_paths import API_PREFIX
from .models import COMPLETED, Job

#: made with O_EXCL in the job's directory by the one sender of its notification
NOTIFIED = ".notified"


def due(job: Job) -> bool:
    """Whether ``job``'s notification is to be sent now (it has ended, and ``on`` says so)."""
    notify = job.notify or {}
    if not job.is_final or not (notify.get("email") or notify.get("webhook")):
        return False
    return notify.get("on") == "always" or job.status != COMPLETED


def send_at_end(job_dir: str) -> bool:
    """From the runner, once it has written the job's final status: send the notification if it
    is due and no live server owns the job (its owner is the engine's chain, or left its lease
    with a clean stop — JupyterHub's culling —, or ran on this host and is gone). A lease on
    another host counts as live: that server (or the one that takes the job over) sends it.
    True when this call sent it. Never raises."""
    from .ownership import Leases

    try:
        record = jobfiles.read_json(os.path.join(job_dir, jobfiles.RECORD))
        status = jobfiles.read_json(os.path.join(job_dir, jobfiles.STATUS))
        if not isinstance(record, dict) or not isinstance(status, dict):
            return False
        job = Job.from_record(record)
        job.job_dir = job_dir
        if status.get("state") in jobfiles.RUNNER_FINAL_STATES:
            job.status = str(status["state"])
            job.exit_code = status.get("exit_code")
            job.reason = status.get("reason")
        if not due(job) or Leases(os.path.dirname(job_dir)).alive(job.owner):
            return False
        from . import serverconfig

        notifier = Notifier(config=serverconfig.load())
        return asyncio.run(notifier.send(job, by="runner"))
    except Exception as e:  # the job has ended already: nothing here may change that
        print(f"jupyter-jobs: notification of {job_dir} not sent: {_one(e)}", file=sys.stderr)
        return False


def summary(job: Job) -> str:
    """One line: ``jupyter-jobs: report.ipynb failed (exit code 1: NameError …)``."""
    what = job.status
    detail = job.reason or (f"exit code {job.exit_code}" if job.exit_code else "")
    if job.status == COMPLETED:
        detail = ""
    line = f"jupyter-jobs: {job.name} {what}" + (f" ({detail})" if detail else "")
    line = " ".join(line.split())  # one line, whatever the reason holds
    return line if len(line) <= 300 else line[:297] + "..."


def job_url(job: Job, base_url: str) -> str | None:
    """Where a person opens the job: its HTML report (else its executed notebook) in JupyterLab,
    else the job's JSON in the REST API; None when the server's public address is unknown."""
    if not base_url:
        return None
    base = base_url.rstrip("/") + "/"
    html = [o for o in job.outputs if o.endswith(".html")]
    if html or job.outputs:
        return f"{base}lab/tree/{(html or job.outputs)[0]}"
    return f"{base}{API_PREFIX}/jobs/{job.id}"


def payload(job: Job, base_url: str = "") -> dict[str, Any]:
    """The webhook's JSON: Slack/Teams' ``text`` plus the job's details."""
    url = job_url(job, base_url)
    text = summary(job) + (f" <{url}>" if url else "")
    return {
        "text": text,
        "job": {
            "id": job.id,
            "name": job.name,
            "status": job.status,
            "exit_code": job.exit_code,
            "reason": job.reason,
            "backend": job.backend,
            "definition_id": job.definition_id,
            "outputs": list(job.outputs),
            "url": url,
        },
    }


class Notifier(LoggingConfigurable):
    """Sends the notifications of jobs that end (configured as ``c.Notifier.…``)."""

    smtp_host = Unicode(
        "", help="SMTP server for e-mail notifications (empty: e-mail is not sent, and logged)."
    ).tag(config=True)
    smtp_port = Integer(25, help="SMTP port (587 with smtp_starttls, 465 with smtp_ssl).").tag(
        config=True
    )
    smtp_user = Unicode("", help="SMTP user name (empty: no login).").tag(config=True)
    smtp_password = Unicode("", help="SMTP password (with smtp_user).").tag(config=True)
    smtp_starttls = Bool(False, help="Upgrade the SMTP connection with STARTTLS.").tag(config=True)
    smtp_ssl = Bool(False, help="Connect to the SMTP server over TLS (port 465).").tag(config=True)
    sender = Unicode(
        "", help="The From address of the e-mails (default: jupyter-jobs@<this host>)."
    ).tag(config=True)
    timeout = Float(10.0, help="Seconds a webhook or an SMTP exchange may take.").tag(config=True)
    base_url = Unicode(
        "",
        help="""The server's public address for links in notifications, e.g.
        ``https://hub.example.org/user/alice/`` (default: from JupyterHub's environment,
        ``JUPYTERHUB_PUBLIC_URL`` + ``JUPYTERHUB_SERVICE_PREFIX``; empty: no link).""",
    ).tag(config=True)

    def public_url(self) -> str:
        if self.base_url:
            return self.base_url
        hub = os.environ.get("JUPYTERHUB_PUBLIC_URL", "")
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "")
        return hub.rstrip("/") + prefix if hub and prefix else ""

    async def send(self, job: Job, by: str = "server") -> bool:
        """Send ``job``'s notification if it is due and nobody sent it; True when this call
        took it on (``by`` says who in the marker). Never raises: failures are logged."""
        if not due(job) or not job.job_dir:
            return False
        try:
            marker = os.path.join(job.job_dir, NOTIFIED)
            if not jobfiles.create_exclusive(marker, {"status": job.status, "by": by}):
                return False
        except OSError as e:
            self.log.warning("jupyter-jobs: notification of job %s not sent: %s", job.id, e)
            return False
        notify = job.notify or {}
        sends = []
        if notify.get("webhook"):
            sends.append(self._webhook(job, notify["webhook"]))
        if notify.get("email"):
            sends.append(self._email(job, list(notify["email"])))
        await asyncio.gather(*sends)
        return True

    async def _webhook(self, job: Job, url: str) -> None:
        from tornado.httpclient import AsyncHTTPClient, HTTPRequest

        request = HTTPRequest(
            url,
            method="POST",
            body=json.dumps(payload(job, self.public_url())),
            headers={"Content-Type": "application/json"},
            connect_timeout=self.timeout,
            request_timeout=self.timeout,
            follow_redirects=False,
        )
        try:
            await AsyncHTTPClient().fetch(request)
        except Exception as e:  # any failure: logged, never the job's
            self.log.warning(
                "jupyter-jobs: webhook of job %s to %s failed: %s", job.id, _host(url), _one(e)
            )

    async def _email(self, job: Job, to: list[str]) -> None:
        if not self.smtp_host:
            self.log.warning(
                "jupyter-jobs: e-mail of job %s not sent: no SMTP server is configured"
                " (c.Notifier.smtp_host)",
                job.id,
            )
            return
        message = self.message(job, to)
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._smtp_send, message)
        except Exception as e:
            self.log.warning(
                "jupyter-jobs: e-mail of job %s through %s failed: %s",
                job.id,
                self.smtp_host,
                _one(e),
            )

    def message(self, job: Job, to: list[str]) -> EmailMessage:
        import socket

        info = payload(job, self.public_url())
        msg = EmailMessage()
        msg["Subject"] = summary(job)
        msg["From"] = self.sender or f"jupyter-jobs@{socket.getfqdn()}"
        msg["To"] = ", ".join(to)
        details = info["job"]
        lines = [summary(job), ""]
        for key in ("id", "status", "exit_code", "reason", "backend", "url"):
            if details.get(key) is not None:
                lines.append(f"{key}: {details[key]}")
        if job.outputs:
            lines.append("outputs: " + ", ".join(job.outputs))
        msg.set_content("\n".join(lines) + "\n")
        return msg

    def _smtp_send(self, message: EmailMessage) -> None:
        cls = smtplib.SMTP_SSL if self.smtp_ssl else smtplib.SMTP
        with cls(self.smtp_host, self.smtp_port, timeout=self.timeout) as smtp:
            if self.smtp_starttls and not self.smtp_ssl:
                smtp.starttls()
            if self.smtp_user:
                smtp.login(self.smtp_user, self.smtp_password)
            smtp.send_message(message)


def _host(url: str) -> str:
    """The host of a URL for a log line (a webhook's path is often its secret)."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def _one(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__
