"""Results recorded inside real runs (``jupyter_jobs.record``) and read back: the job's JSON,
``GET jobs/{id}/results``, ``Job.results()``/``results_frame()``/``notebook()`` from a fresh
interpreter and ``jupyter jobs results`` (table, CSV, JSON), against the real ``jupyter server``
subprocess of ``test_cli.py``. Jobs that must stay running wait for a release file."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time

import nbformat
import pytest
from test_cli import Server, jj, jobs_server  # noqa: F401 - fixture `server`
from test_client import py

RECORD = """\
import jupyter_jobs
jupyter_jobs.record(loss=0.1, acc=0.9, label="x")
print("recorded", flush=True)
"""

#: records step=1, waits for the file named in argv[1], then records step=2 and done
LIVE = """\
import os, sys, time
import jupyter_jobs
jupyter_jobs.record(step=1)
print("step 1", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
jupyter_jobs.record(step=2, done=True)
"""

BAD = """\
import jupyter_jobs
jupyter_jobs.record(ok=1)
jupyter_jobs.record(weights=[0.1, 0.2])
"""


def write_recording_notebook(path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("lr = 0.1\nepochs = 2")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell("loss = round(1.0 / (epochs * 10), 4)\nprint('loss', loss)"),
        nbformat.v4.new_code_cell(
            "import jupyter_jobs\njupyter_jobs.record(loss=loss, lr=lr, epochs=epochs)"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def files(server: Server):
    (server.root / "record.py").write_text(RECORD)
    (server.root / "live.py").write_text(LIVE)
    (server.root / "bad.py").write_text(BAD)
    write_recording_notebook(server.root / "train.ipynb")
    return server


def submit(server: Server, *args: str) -> str:
    r = jj(server, "submit", "-q", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_a_script_records_values_that_the_job_json_api_python_and_cli_all_show(files):
    server = files
    job_id = submit(server, "record.py")
    job = server.wait_final(job_id)
    assert job["status"] == "completed", job
    expected = {"loss": 0.1, "acc": 0.9, "label": "x"}
    assert job["results"] == expected
    # kept in the record: the job dir's job.json has them
    job_dir = server.base / "job-root" / job_id
    with open(job_dir / "job.json") as f:
        assert json.load(f)["results"] == expected
    assert json.loads((job_dir / "results.json").read_text()) == expected

    table = server.api("GET", f"jobs/{job_id}/results")
    assert table["columns"] == ["id", "status", "duration_seconds", "loss", "acc", "label"]
    [row] = table["rows"]
    assert row[:2] == [job_id, "completed"] and row[3:] == [0.1, 0.9, "x"]
    assert isinstance(row[2], float) and row[2] >= 0

    out = py(
        server,
        f"""
        import json, jupyter_jobs, jupyter_jobs.client
        job = jupyter_jobs.client.get({job_id!r})
        print(json.dumps({{"results": job.results(), "table": job.results_table()}}))
        """,
    )
    assert out["results"] == expected and out["table"] == table

    r = jj(server, "results", job_id[:8])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["id", "status", "duration_seconds", "loss", "acc", "label"]
    assert lines[1].split()[:2] == [job_id[:8], "completed"]
    assert lines[1].split()[3:] == ["0.1", "0.9", "x"]
    assert lines[0].index("label") == lines[1].index("x")  # aligned (text to the left)

    r = jj(server, "results", job_id, "--csv")
    assert r.returncode == 0, r.stderr
    parsed = list(csv.reader(io.StringIO(r.stdout)))
    assert parsed[0] == ["id", "status", "duration_seconds", "loss", "acc", "label"]
    assert parsed[1][:2] == [job_id, "completed"] and parsed[1][3:] == ["0.1", "0.9", "x"]

    r = jj(server, "results", job_id, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["columns"] == table["columns"]


def test_submit_wait_results_from_python(files):
    out = py(
        files,
        """
        import json, jupyter_jobs, jupyter_jobs.client
        job = jupyter_jobs.submit("record.py")
        job.wait(timeout=120)
        print(json.dumps(job.results()))
        """,
    )
    assert out == {"loss": 0.1, "acc": 0.9, "label": "x"}


def test_a_running_job_shows_what_it_recorded_so_far(files, tmp_path):
    server = files
    release = tmp_path / "release"
    job_id = submit(server, "live.py", str(release))
    try:
        seen = None
        for _ in range(600):
            job = server.api("GET", f"jobs/{job_id}")
            table = server.api("GET", f"jobs/{job_id}/results")
            if job["status"] == "running" and "step" in table["columns"]:
                seen = table
                break
            assert job["status"] not in ("completed", "failed", "cancelled", "lost"), job
            time.sleep(0.1)
        assert seen is not None, "the running job's results never showed"
        assert seen["columns"] == ["id", "status", "duration_seconds", "step"]
        assert seen["rows"][0][1] == "running" and seen["rows"][0][3] == 1
        assert job["results"] == {}  # the record gets them at the end
        live = py(
            server,
            f"import json, jupyter_jobs.client; print(json.dumps(jupyter_jobs.client.get({job_id!r}).results()))",
        )
        assert live == {"step": 1}
    finally:
        release.touch()
    done = server.wait_final(job_id)
    assert done["status"] == "completed" and done["results"] == {"step": 2, "done": True}


def test_a_value_that_cannot_be_recorded_fails_the_run_with_a_clear_message(files):
    server = files
    job_id = submit(server, "bad.py")
    job = server.wait_final(job_id)
    assert job["status"] == "failed", job
    r = jj(server, "logs", job_id)
    assert (
        "TypeError: jupyter_jobs.record: weights=[0.1, 0.2] is a list; record takes numbers,"
        " strings, True/False or None"
    ) in r.stdout, r.stdout
    assert job["results"] == {"ok": 1}  # what was recorded before stays


def test_a_notebook_records_in_its_last_cell_and_comes_back_as_a_notebook(files):
    out = py(
        files,
        """
        import json, jupyter_jobs, jupyter_jobs.client
        job = jupyter_jobs.submit("train.ipynb", parameters={"epochs": 5})
        job.wait(timeout=170)
        nb = job.notebook()
        print(json.dumps({
            "status": job.status, "results": job.results(), "type": type(nb).__name__,
            "cells": [c.source for c in nb.cells],
            "printed": [o.get("text", "") for c in nb.cells for o in c.get("outputs", [])],
            "log": job.log(),
        }))
        """,
        timeout=240,
    )
    assert out["status"] == "completed", out["log"]
    assert out["results"] == {"loss": 0.02, "lr": 0.1, "epochs": 5}
    assert out["type"] == "NotebookNode"
    assert "epochs = 5" in "".join(out["cells"])  # papermill's injected parameters
    assert out["cells"][-1].startswith("import jupyter_jobs")
    assert "loss 0.02\n" in out["printed"]


def test_notebook_of_a_script_job_and_results_frame_without_pandas_say_what_is_wrong(files):
    server = files
    job_id = submit(server, "record.py")
    server.wait_final(job_id)
    out = py(
        server,
        f"""
        import json, sys
        import jupyter_jobs
        from jupyter_jobs.client import JobsClientError
        job = jupyter_jobs.client.get({job_id!r})
        try:
            job.notebook()
        except JobsClientError as e:
            notebook = str(e)
        sys.modules["pandas"] = None  # as if pandas were not installed
        try:
            job.results_frame()
        except ImportError as e:
            frame = str(e)
        print(json.dumps({{"notebook": notebook, "frame": frame}}))
        """,
    )
    assert out["notebook"] == (
        f"job {job_id[:8]} is a script job; only notebook jobs have an executed notebook"
    )
    assert out["frame"].startswith(
        "Job.results_frame() needs pandas, which is not installed here: pip install pandas"
    )


def test_results_frame_is_a_pandas_dataframe(files):
    pytest.importorskip("pandas", reason="pandas is not installed here (it is optional)")
    server = files
    job_id = submit(server, "record.py")
    server.wait_final(job_id)
    out = py(
        server,
        f"""
        import json, jupyter_jobs, jupyter_jobs.client
        frame = jupyter_jobs.client.get({job_id!r}).results_frame()
        print(json.dumps({{"type": type(frame).__name__, "columns": list(frame.columns),
                           "loss": float(frame["loss"][0]), "n": len(frame)}}))
        """,
    )
    assert out == {
        "type": "DataFrame",
        "columns": ["id", "status", "duration_seconds", "loss", "acc", "label"],
        "loss": 0.1,
        "n": 1,
    }


def test_an_unknown_job_is_a_404_and_the_cli_says_so(files):
    server = files
    r = jj(server, "results", "0000nosuchjob")
    assert r.returncode == 1
    assert "no job '0000nosuchjob'" in r.stderr, r.stderr


def test_record_outside_a_job_warns_once_and_records_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_JOBS_")}
    code = (
        "import jupyter_jobs\nprint(jupyter_jobs.record(loss=0.1), jupyter_jobs.record(loss=0.2))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "False False\n"
    assert r.stderr.count("not running as a job, so nothing is recorded") == 1, r.stderr
    assert os.listdir(tmp_path) == []
