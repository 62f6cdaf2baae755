"""Issue 12 from Python (``jupyter_jobs.submit``/``Job.rerun``) against the real ``jupyter server``
subprocess of ``test_cli.py``: an HTML report, notify settings and an extra file in one submit; a
rerun of the current file after an edit."""

from __future__ import annotations

from test_cli import jobs_server  # noqa: F401 - fixture `server`
from test_client import py


def test_submit_with_report_notify_and_extra_files_then_rerun_current(server):
    (server.root / "pin").mkdir()
    (server.root / "pin" / "util.py").write_text("V = 'util-v1'\n")
    (server.root / "pin" / "run.py").write_text("import util\nprint('run-v1', util.V)\n")
    out = py(
        server,
        """
        import json, jupyter_jobs
        job = jupyter_jobs.submit("pin/run.py", extra_files=["pin/util.py"],
                                  notify={"on": "failure", "email": ["a@example.org"]})
        job.wait(timeout=120)
        open("pin/run.py", "w").write("import util\\nprint('run-v2', util.V)\\n")
        again = job.rerun()
        again.wait(timeout=120)
        current = job.rerun(input="current")
        current.wait(timeout=120)
        print(json.dumps({"data": job.data, "log": job.log(), "again": again.log(),
                          "current": current.log()}))
        """,
    )
    assert out["data"]["pinned_files"] == ["input/run.py", "input/util.py"]
    assert out["data"]["extra_files"] == ["pin/util.py"]
    assert out["data"]["notify"]["email"] == ["a@example.org"]
    assert "run-v1 util-v1" in out["log"] and "run-v1 util-v1" in out["again"]
    assert "run-v2 util-v1" in out["current"]
