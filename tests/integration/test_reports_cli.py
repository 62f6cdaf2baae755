"""Issue 12 from the CLI against the real ``jupyter server`` subprocess of ``test_cli.py``:
``submit NOTEBOOK --html --no-input --notify-on always --email … --extra-file …`` (options after
the notebook's path too), ``rerun --current``, and a bad address refused in the user's words."""

from __future__ import annotations

import json

import nbformat
from test_cli import jj, jobs_server  # noqa: F401 - fixture `server`


def test_submit_a_notebook_with_a_report_and_notify_then_rerun_current(server):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('cli-report')")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    (server.root / "clirep").mkdir()
    nbformat.write(nb, server.root / "clirep" / "r.ipynb")
    (server.root / "clirep" / "conf.yaml").write_text("a: 1\n")
    r = jj(
        server,
        "submit",
        "clirep/r.ipynb",
        "--html",
        "--no-input",
        "--notify-on",
        "always",
        "--email",
        "a@example.org",
        "--extra-file",
        "clirep/conf.yaml",
        "--wait",
        "--json",
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["status"] == "completed", job
    assert job["output_formats"] == ["ipynb", "html"] and job["report"] == {"no_input": True}
    assert job["notify"] == {
        "on": "always",
        "email": ["a@example.org"],
        "webhook": None,
        "slurm_mail": False,
    }
    assert job["pinned_files"] == ["input/r.ipynb", "input/conf.yaml"]
    assert "cli-report" in (server.root / job["outputs"][1]).read_text()
    r = jj(server, "rerun", job["id"], "--current", "-q")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip()) >= 8


def test_a_bad_address_is_refused_in_the_users_words(server):
    (server.root / "ok.py").write_text("print(1)\n")
    r = jj(server, "submit", "--email", "not-an-address", "ok.py")
    assert r.returncode != 0
    assert "Notifications: e-mail address 'not-an-address' is not valid" in r.stderr, r.stderr
