"""Job definitions from the command line (``jupyter jobs schedule``, ``definitions``,
``definition show|pause|resume|run|runs|rm``) and from Python (``jupyter_jobs.schedule``), against
a real server process (issue 12)."""

from __future__ import annotations

import json
import os
import sys

import pytest

from benchmarks._server import ServerProcess
from jupyter_jobs.client import JobsClient, JobsClientError, schedule
from tests.multi.servers import jj

REPORT = "import sys; print('report', *sys.argv[1:])\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("definitions-cli")
    os.makedirs(workdir / "root")
    (workdir / "root" / "report.py").write_text(REPORT)
    srv = ServerProcess(workdir=str(workdir), config={"LocalSpawner": {"poll_interval": 0.3}})
    srv.start()
    yield srv
    srv.stop()


def test_schedule_list_pause_resume_run_and_delete(server):
    r = jj(
        server,
        "schedule",
        "-q",
        "--cron",
        "0 6 * * 1-5",
        "--tz",
        "Europe/Berlin",
        "report.py",
        "--day",
        "mon",
    )
    assert r.returncode == 0, r.stderr
    def_id = r.stdout.strip()
    assert len(def_id) == 32
    short = def_id[:8]

    r = jj(server, "definitions")
    assert r.returncode == 0, r.stderr
    assert short in r.stdout and "every weekday at 06:00 (Europe/Berlin)" in r.stdout

    r = jj(server, "definition", "show", short)
    assert r.returncode == 0, r.stderr
    assert (
        "Schedule:" in r.stdout
        and "0 6 * * 1-5 (every weekday at 06:00, Europe/Berlin)" in r.stdout
    )
    assert "Last run:" in r.stdout and "none yet" in r.stdout

    r = jj(server, "definition", "pause", short)
    assert r.returncode == 0 and f"job definition {short} paused" in r.stdout, r.stderr
    r = jj(server, "definitions")
    assert "paused" in r.stdout
    r = jj(server, "definition", "resume", short)
    assert r.returncode == 0 and "resumed; next run" in r.stdout, r.stderr

    r = jj(server, "definition", "run", short, "--wait")
    assert r.returncode == 0, r.stderr
    r = jj(server, "definition", "runs", short, "--json")
    runs = json.loads(r.stdout)
    assert len(runs) == 1 and runs[0]["definition_id"] == def_id
    assert runs[0]["status"] == "completed" and runs[0]["scheduled_for"] is None
    r = jj(server, "logs", runs[0]["id"][:8])
    assert r.stdout.strip() == "report --day mon"
    r = jj(server, "definition", "runs", short)
    assert "by hand" in r.stdout and runs[0]["id"][:8] in r.stdout

    r = jj(server, "definition", "rm", short)
    assert r.returncode == 0 and f"deleted job definition {short}" in r.stdout
    r = jj(server, "definitions")
    assert "no job definitions" in r.stdout
    # its run stays, an ordinary job
    r = jj(server, "show", runs[0]["id"][:8], "--json")
    assert json.loads(r.stdout)["definition_id"] == def_id


def test_a_bad_schedule_is_refused_in_the_users_words(server):
    r = jj(server, "schedule", "--cron", "61 * * * *", "report.py")
    assert r.returncode == 1
    assert "Schedule: '61 * * * *' — minute 61 is out of range 0\u201359" in r.stderr
    r = jj(server, "schedule", "--cron", "0 6 * * *", "--tz", "Mars/Olympus", "report.py")
    assert r.returncode == 1 and "Time zone: 'Mars/Olympus' is not a known time zone" in r.stderr
    r = jj(server, "schedule", "--cron", "@daily", "--wait", "report.py")
    assert r.returncode == 2 and "definition run DEF-ID --wait" in r.stderr
    r = jj(server, "definition", "pause", "ffffffff")
    assert r.returncode == 1 and "no job definition 'ffffffff'" in r.stderr
    r = jj(server, "definitions", "--json")
    assert json.loads(r.stdout) == []


def test_schedule_from_python(server):
    client = JobsClient(server.url, server.token, root_dir=server.root_dir)
    d = schedule(
        command=[sys.executable, "-c", "print('from python')"],
        cron="*/30 * * * *",
        timezone="America/New_York",
        overlap="queue",
        retries=1,
        client=client,
    )
    assert d.description == "every 30 minutes" and d.active and d.next_run_at
    assert d.pause().active is False and d.data["revision"] == 2
    assert d.resume().active is True
    job = d.run()
    assert job.wait(60).status == "completed" and job.log().strip() == "from python"
    assert [j.id for j in d.runs()] == [job.id]
    assert d.update(schedule="0 12 * * SAT").description == "every Saturday at 12:00"
    d.delete()
    with pytest.raises(JobsClientError) as e:
        d.refresh()
    assert e.value.status == 404
    with pytest.raises(JobsClientError) as e:
        schedule(command=["true"], cron="0 6 * * 8", client=client)
    assert e.value.field == "schedule" and "day of the week 8 is out of range" in e.value.message
