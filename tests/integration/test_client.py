"""The Python API (``jupyter_jobs.submit`` and the ``Job`` handle) from a real, kernel-free process.

Each test runs ``python -c CODE`` in the server's root dir against the real ``jupyter server``
subprocess of ``test_cli.py`` (found through its runtime file); the code prints one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_cli import Server, base_env, jobs_server  # noqa: F401 - fixture `server`


def py(server: Server, code: str, cwd: Path | None = None, env=None, timeout=180):
    """Run CODE in a fresh interpreter; answers the JSON it printed last."""
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd or server.root,
        env=env or server.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_submit_wait_and_log_of_a_script(server):
    out = py(
        server,
        """
        import json, jupyter_jobs
        job = jupyter_jobs.submit("train.py", args=["--lr", "0.1"], env={"GREETING": "hi"},
                                  name="api-train")
        first = job.data["status"]
        assert job.wait(timeout=120) is job
        print(json.dumps({"first": first, "status": job.status, "exit": job.exit_code,
                          "log": job.log(), "name": job.name, "kind": job.kind}))
        """,
    )
    assert out["first"] in ("pending", "queued", "running")
    assert out["status"] == "completed" and out["exit"] == 0
    assert out["name"] == "api-train" and out["kind"] == "script"
    assert "args ['--lr', '0.1']" in out["log"] and "env hi" in out["log"]


def test_failed_job_reports_its_exit_code_and_reason(server):
    out = py(
        server,
        """
        import json, jupyter_jobs
        job = jupyter_jobs.submit("train.py", env={"EXIT_CODE": "7"}).wait(timeout=120)
        print(json.dumps({"status": job.status, "exit": job.exit_code, "reason": job.reason}))
        """,
    )
    assert out == {"status": "failed", "exit": 7, "reason": out["reason"]}
    assert "7" in out["reason"]


def test_notebook_parameters_reach_the_executed_notebook(server):
    out = py(
        server,
        """
        import json, jupyter_jobs
        job = jupyter_jobs.submit("params.ipynb", parameters={"alpha": 5, "name": "api"})
        job.wait(timeout=150)
        print(json.dumps({"status": job.status, "outputs": job.outputs, "log": job.log()}))
        """,
    )
    assert out["status"] == "completed", out["log"]
    import nbformat

    executed = nbformat.read(server.root / out["outputs"][0], as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "result 10 api int" in printed


def test_follow_yields_the_log_while_the_job_runs_then_refreshes(server):
    release = server.base / "release-api-follow"
    out = py(
        server,
        f"""
        import json, pathlib, jupyter_jobs
        job = jupyter_jobs.submit("block.py", args=[{str(release)!r}])
        seen, during = [], None
        for text in job.follow():
            seen.append(text)
            if "started" in "".join(seen) and during is None:
                during = job.status           # asked while the job still waits for us
                pathlib.Path({str(release)!r}).touch()
        print(json.dumps({{"log": "".join(seen), "during": during, "after": job.data["status"]}}))
        """,
    )
    assert out["during"] == "running"
    assert out["log"] == "started\nreleased\n"
    assert out["after"] == "completed"


def test_cancel_and_wait_timeout(server):
    never = server.base / "never-api"
    out = py(
        server,
        f"""
        import json, jupyter_jobs
        from jupyter_jobs.client import JobsTimeout
        job = jupyter_jobs.submit("block.py", args=[{str(never)!r}])
        try:
            job.wait(timeout=0.5)
            timed_out = False
        except JobsTimeout as e:
            timed_out = isinstance(e, TimeoutError)
        job.cancel()
        job.wait(timeout=120)
        print(json.dumps({{"timed_out": timed_out, "status": job.status}}))
        """,
    )
    assert out == {"timed_out": True, "status": "cancelled"}


def test_rerun_and_delete(server):
    out = py(
        server,
        """
        import json, jupyter_jobs
        from jupyter_jobs.client import JobsClientError, get
        job = jupyter_jobs.submit("train.py", args=["one"]).wait(timeout=120)
        again = job.rerun().wait(timeout=120)
        job.delete()
        try:
            get(job.id)
            gone = None
        except JobsClientError as e:
            gone = e.status
        print(json.dumps({"same": again.id == job.id, "args": again.data["args"],
                          "status": again.status, "gone": gone,
                          "prefix": get(again.id[:10]).id == again.id}))
        """,
    )
    assert out == {"same": False, "args": ["one"], "status": "completed", "gone": 404,
                   "prefix": True}  # fmt: skip


def test_errors_carry_the_server_message_status_and_field(server):
    out = py(
        server,
        """
        import json, jupyter_jobs
        from jupyter_jobs.client import JobsClientError
        answers = {}
        for key, call in {
            "cpus": lambda: jupyter_jobs.submit("train.py", resources={"cpus": "many"}),
            "outside": lambda: jupyter_jobs.submit("/etc/hostname"),
            "both": lambda: jupyter_jobs.submit("train.py", command=["true"]),
            "argv": lambda: jupyter_jobs.submit(command="echo hi"),
        }.items():
            try:
                call()
                answers[key] = None
            except JobsClientError as e:
                answers[key] = [e.status, e.field, e.message]
        print(json.dumps(answers))
        """,
    )
    assert out["cpus"][0] == 400 and out["cpus"][1] == "resources.cpus"
    assert "whole number" in out["cpus"][2]
    assert out["outside"][0] is None and "outside the Jupyter server's root" in out["outside"][2]
    assert out["both"] is not None and out["argv"] is not None


def test_command_jobs_default_to_the_callers_directory(server):
    out = py(
        server,
        """
        import json, sys, jupyter_jobs
        job = jupyter_jobs.submit(command=[sys.executable, "-c", "import os; print(os.getcwd())"])
        print(json.dumps({"log": job.wait(timeout=120).log(), "cwd": job.data["cwd"]}))
        """,
        cwd=server.root / "sub",
    )
    assert out["cwd"] == "sub"
    assert out["log"].strip() == str((server.root / "sub").resolve())


def test_discovery_picks_the_server_whose_root_holds_the_cwd(server, tmp_path):
    """A newer server elsewhere must not win: the one serving the current directory does."""
    other_root = tmp_path / "elsewhere"
    other_root.mkdir()
    runtime = Path(server.env["JUPYTER_RUNTIME_DIR"])
    fake = runtime / "jpserver-999999999.json"
    # a live pid (this test process) so the file counts as a running server; newest of all
    fake.write_text(json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:9/", "token": "x",
                                "root_dir": str(other_root)}))  # fmt: skip
    try:
        code = """
            import json
            from jupyter_jobs.client import JobsClient, running_servers
            from jupyter_server.serverapp import list_running_servers
            c = JobsClient()
            same = sorted(s["pid"] for s in running_servers()) == sorted(
                s["pid"] for s in list_running_servers())
            print(json.dumps({"url": c.url, "root": c.root_dir, "same": same}))
            """
        here = py(server, code)
        there = py(server, code, cwd=other_root)
    finally:
        fake.unlink()
    assert here["url"] == server.url and here["root"] == str(server.root.resolve())
    assert there["url"] == "http://127.0.0.1:9/"
    assert here["same"] is True


def test_no_server_raises_server_not_found(tmp_path):
    (tmp_path / "rt").mkdir()
    r = subprocess.run(
        [sys.executable, "-c", "import jupyter_jobs; jupyter_jobs.submit('x.py')"],
        cwd=tmp_path, env=base_env(tmp_path / "rt"), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 1
    assert "ServerNotFound: no running Jupyter server found" in r.stderr


@pytest.mark.parametrize("where", ["env", "argument"])
def test_url_and_token_can_be_given(server, tmp_path, where):
    env = base_env(tmp_path)  # nothing to discover
    if where == "env":
        env.update(JUPYTER_JOBS_URL=server.url, JUPYTER_JOBS_TOKEN=server.token)
        make = "JobsClient()"
    else:
        make = f"JobsClient({server.url!r}, {server.token!r}, root_dir={str(server.root)!r})"
    out = py(
        server,
        f"""
        import json
        from jupyter_jobs.client import JobsClient
        c = {make}
        job = c.submit("train.py", args=["remote"]).wait(timeout=120)
        print(json.dumps({{"status": job.status, "path": job.data["path"]}}))
        """,
        env=env,
    )
    assert out == {"status": "completed", "path": "train.py"}


def test_cancel_right_after_submit_ends_cancelled_every_time(server):
    never = server.base / "never-api-now"
    out = py(
        server,
        f"""
        import json, jupyter_jobs
        seen = []
        for _ in range(9):
            job = jupyter_jobs.submit("block.py", args=[{str(never)!r}])
            job.cancel()
            job.wait(timeout=120)
            seen.append([job.status, job.exit_code])
        print(json.dumps(seen))
        """,
    )
    assert out == [["cancelled", None]] * 9
