"""Pinned inputs (docs/CONTRACT.md, "Pinned inputs"), against a real Jupyter server and real
local runs: the job's file is copied into ``<job_dir>/input/`` at submit and that copy runs, so an
edit while the job is queued (one slot, taken by a blocker) never reaches it; extra files come
along at their place; the working directory stays; a rerun runs the pinned copy or the current
file; refusals are 4xx that create nothing."""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture
def jobs_config():
    return {"LocalSpawner": {"max_concurrent": 1}}


BLOCKER = "import os, time\nwhile not os.path.exists('release'):\n    time.sleep(0.05)\n"


async def submit_blocker(jobs_api, root):
    (root / "block.py").write_text(BLOCKER)
    return await jobs_api.submit({"path": "block.py"})


async def test_an_edit_while_the_job_is_queued_never_reaches_it(jobs_api, jp_root_dir):
    root = jp_root_dir
    blocker = await submit_blocker(jobs_api, root)
    (root / "proj").mkdir()
    (root / "proj" / "data.txt").write_text("data-v1\n")
    (root / "proj" / "helper.py").write_text("WHO = 'helper-v1'\n")
    (root / "proj" / "unpinned.py").write_text("WHO = 'unpinned-v1'\n")
    script = root / "proj" / "train.py"
    script.write_text(
        "import os, helper, unpinned\n"
        "print('version-1', helper.WHO, unpinned.WHO, open('data.txt').read().strip())\n"
        "print('cwd', os.getcwd())\n"
        "print('file', __file__)\n"
    )
    job = await jobs_api.submit({"path": "proj/train.py", "extra_files": ["proj/helper.py"]})
    queued = await jobs_api.get(job["id"])
    assert queued["status"] == "queued", queued  # the one slot is the blocker's
    assert queued["pinned_path"] == os.path.join(job_dir(jobs_api, job), "input", "train.py")
    assert queued["pinned_files"] == ["input/train.py", "input/helper.py"]
    assert queued["extra_files"] == ["proj/helper.py"]
    # edits while it waits: the script, the pinned helper, a module not pinned, a data file
    script.write_text("print('version-2')\n")
    (root / "proj" / "helper.py").write_text("WHO = 'helper-v2'\n")
    (root / "proj" / "unpinned.py").write_text("WHO = 'unpinned-v2'\n")
    (root / "proj" / "data.txt").write_text("data-v2\n")
    (root / "release").write_text("")
    assert (await jobs_api.wait(blocker["id"]))["status"] == "completed"
    done = await jobs_api.wait(job["id"])
    log = await jobs_api.log(job["id"])
    assert done["status"] == "completed", log
    # the pinned script and helper ran; the module not pinned and the data are read as they are
    assert "version-1 helper-v1 unpinned-v2 data-v2" in log, log
    assert "version-2" not in log
    assert f"cwd {os.path.realpath(root / 'proj')}" in log  # the working directory is unchanged
    assert f"file {done['pinned_path']}" in log
    assert done["command"][1] == done["pinned_path"]


def job_dir(jobs_api, job) -> str:
    manager_root = jobs_api.root.parent / "job-root"
    return str(manager_root / job["id"])


async def test_a_queued_notebook_runs_its_pinned_copy(jobs_api, jp_root_dir):
    import nbformat

    root = jp_root_dir
    blocker = await submit_blocker(jobs_api, root)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('nb-version-1')")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "report.ipynb")
    job = await jobs_api.submit({"path": "report.ipynb"})
    assert (await jobs_api.get(job["id"]))["status"] == "queued"
    nb.cells = [nbformat.v4.new_code_cell("print('nb-version-2')")]
    nbformat.write(nb, root / "report.ipynb")
    (root / "release").write_text("")
    await jobs_api.wait(blocker["id"])
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "completed", await jobs_api.log(job["id"])
    executed = nbformat.read(root / done["outputs"][0], as_version=4)
    text = "".join(o.get("text", "") for o in executed.cells[0].outputs)
    assert "nb-version-1" in text and "nb-version-2" not in text


async def test_rerun_runs_the_pinned_copy_by_default_or_the_current_file(jobs_api, jp_root_dir):
    root = jp_root_dir
    (root / "v.py").write_text("print('run-v1')\n")
    first = await jobs_api.submit({"path": "v.py"})
    assert (await jobs_api.wait(first["id"]))["status"] == "completed"
    (root / "v.py").write_text("print('run-v2')\n")

    r = await jobs_api.request("POST", f"jobs/{first['id']}/rerun")
    assert r.code == 201, r.body
    again = await jobs_api.wait(json.loads(r.body)["id"])
    assert "run-v1" in await jobs_api.log(again["id"])

    r = await jobs_api.request("POST", f"jobs/{first['id']}/rerun", {"input": "current"})
    assert r.code == 201, r.body
    current = await jobs_api.wait(json.loads(r.body)["id"])
    assert "run-v2" in await jobs_api.log(current["id"])

    # the file deleted: a pinned rerun still runs the copy
    os.unlink(root / "v.py")
    r = await jobs_api.request("POST", f"jobs/{first['id']}/rerun", {"input": "pinned"})
    assert r.code == 201, r.body
    gone = await jobs_api.wait(json.loads(r.body)["id"])
    assert gone["status"] == "completed" and "run-v1" in await jobs_api.log(gone["id"])

    # the pinned copy removed by hand: a clear 409, nothing created
    os.unlink(first["pinned_path"])
    before = json.loads((await jobs_api.request("GET", "jobs")).body)["total"]
    r = await jobs_api.request("POST", f"jobs/{first['id']}/rerun", {"input": "pinned"})
    assert r.code == 409, r.body
    assert "pinned copy" in json.loads(r.body)["message"]
    r = await jobs_api.request("POST", f"jobs/{first['id']}/rerun", {"input": "yesterday"})
    assert r.code == 400 and json.loads(r.body)["field"] == "input", r.body
    assert json.loads((await jobs_api.request("GET", "jobs")).body)["total"] == before


async def test_a_command_pins_nothing_and_its_rerun_runs_it_again(jobs_api):
    job = await jobs_api.submit({"command": ["python3", "-c", "print('cmd')"]})
    assert job["pinned_path"] is None and job["pinned_files"] == []
    await jobs_api.wait(job["id"])
    r = await jobs_api.request("POST", f"jobs/{job['id']}/rerun", {"input": "pinned"})
    assert r.code == 409, r.body
    r = await jobs_api.request("POST", f"jobs/{job['id']}/rerun")
    assert r.code == 201, r.body


@pytest.mark.parametrize(
    "extra, code, words",
    [
        (["elsewhere/x.py"], 400, "not in the folder"),
        (["../outside.py"], 400, "outside the server's root"),
        (["/etc/passwd"], 400, "relative to the server's root"),
        (["proj/missing.py"], 404, "does not exist"),
        (["proj/sub"], 400, "is not a file"),
        ("proj/helper.py", 400, "must be a list"),
        ([f"proj/f{i}.py" for i in range(101)], 400, "too many"),
    ],
)
async def test_bad_extra_files_are_refused_and_create_nothing(
    jobs_api, jp_root_dir, extra, code, words
):
    root = jp_root_dir
    (root / "proj" / "sub").mkdir(parents=True)
    (root / "elsewhere").mkdir()
    (root / "elsewhere" / "x.py").write_text("")
    (root / "proj" / "helper.py").write_text("")
    (root / "proj" / "main.py").write_text("print(1)\n")
    r = await jobs_api.request("POST", "jobs", {"path": "proj/main.py", "extra_files": extra})
    assert r.code == code, r.body
    answer = json.loads(r.body)
    assert answer["field"] == "extra_files" and words in answer["message"], answer
    assert answer["message"].startswith("Extra files")
    assert json.loads((await jobs_api.request("GET", "jobs")).body)["total"] == 0


async def test_extra_files_larger_than_the_cap_are_a_413(jobs_api, jp_root_dir):
    from jupyter_jobs.validation import MAX_EXTRA_BYTES

    root = jp_root_dir
    (root / "main.py").write_text("print(1)\n")
    with open(root / "big.bin", "wb") as f:
        f.truncate(MAX_EXTRA_BYTES + 1)
    r = await jobs_api.request("POST", "jobs", {"path": "main.py", "extra_files": ["big.bin"]})
    assert r.code == 413, r.body
    assert "MiB" in json.loads(r.body)["message"]
    assert os.listdir(jobs_api.root.parent / "job-root") == [
        n for n in os.listdir(jobs_api.root.parent / "job-root") if not len(n) == 32
    ]
