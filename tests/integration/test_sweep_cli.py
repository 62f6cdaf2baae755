"""Sweeps from the command line and from Python, against the real ``jupyter server`` subprocess
of ``test_cli.py``: ``jupyter jobs submit train.ipynb --grid lr=0.1,0.5,1 --grid seed=0:3
--throttle 4`` is one sweep of 12 notebook runs whose parameters cells got their values, and
``jupyter_jobs.sweep(path, grid=..., throttle=...)`` from a fresh interpreter is one too, with
its results as one dict per child. The CLI's grid syntax is checked without a server."""

from __future__ import annotations

import argparse
import json

import nbformat
import pytest
from test_cli import Server, jj, jobs_server  # noqa: F401 - fixture `server`
from test_client import py

from jupyter_jobs.cli import _grid

SCRIPT = """\
import argparse
import jupyter_jobs
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
p.add_argument("--seed", type=int)
a = p.parse_args()
jupyter_jobs.record(acc=round(1 - a.lr / 10 + a.seed / 100, 4))
"""


def write_notebook(path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("lr = 0.0\nseed = -1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import jupyter_jobs\njupyter_jobs.record(acc=round(1 - lr / 10 + seed / 100, 4))"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("lr=0.1,0.5,1", ("lr", [0.1, 0.5, 1])),
        ("seed=0:3", ("seed", [0, 1, 2, 3])),
        ("seed=0:10:5", ("seed", [0, 5, 10])),
        ("opt=adam,sgd", ("opt", ["adam", "sgd"])),
        ("flag=true,false", ("flag", [True, False])),
    ],
)
def test_grid_syntax(text, parsed):
    assert _grid(text) == parsed


@pytest.mark.parametrize("text", ["lr", "seed=3:0", "seed=0:3:0"])
def test_bad_grid_syntax(text):
    with pytest.raises(argparse.ArgumentTypeError):
        _grid(text)


def test_cli_notebook_sweep_of_twelve_with_throttle(server: Server):
    write_notebook(server.root / "train.ipynb")
    r = jj(
        server,
        "submit",
        "--json",
        "--wait",
        "train.ipynb",
        "--grid",
        "lr=0.1,0.5,1",
        "--grid",
        "seed=0:3",
        "--throttle",
        "4",
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    sweep = json.loads(r.stdout)
    assert sweep["kind"] == "sweep" and sweep["status"] == "completed", sweep
    assert sweep["throttle"] == 4 and len(sweep["children"]) == 12
    assert sweep["grid"] == {"lr": [0.1, 0.5, 1], "seed": [0, 1, 2, 3]}
    r = jj(server, "results", sweep["id"], "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    rows = (
        answer
        if isinstance(answer, list)
        else [dict(zip(answer["columns"], row)) for row in answer["rows"]]
    )
    assert len(rows) == 12
    for row in rows:
        assert row["acc"] == pytest.approx(round(1 - row["lr"] / 10 + row["seed"] / 100, 4))


def test_python_sweep_of_a_script_and_its_results(server: Server):
    (server.root / "train.py").write_text(SCRIPT)
    out = py(
        server,
        """
        import json, jupyter_jobs
        job = jupyter_jobs.sweep("train.py", grid={"lr": [0.1, 1.0], "seed": [0, 1]}, throttle=2)
        job.wait()
        print(json.dumps({"data": job.data, "results": job.results()}))
        """,
    )
    assert out["data"]["kind"] == "sweep" and out["data"]["status"] == "completed", out["data"]
    results = out["results"]
    assert [(r["lr"], r["seed"]) for r in results] == [(0.1, 0), (0.1, 1), (1.0, 0), (1.0, 1)]
    assert [r["acc"] for r in results] == [0.99, 1.0, 0.9, 0.91]
