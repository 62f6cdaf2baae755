"""Results recorded inside SLURM jobs on the real cluster (``jupyter_jobs.record`` on the compute
node, the job dir on the shared job root), through the REST API of a real Jupyter server."""

from __future__ import annotations

import asyncio
import json

import nbformat
import pytest

pytestmark = pytest.mark.usefixtures("running_manager")

SMALL_PROFILE = {"name": "small", "resources": {"cpus": 1, "time_limit": 300}}

#: records, then waits for the release file named in argv[1], then records again
SCRIPT = """\
import os, socket, sys, time
import jupyter_jobs
jupyter_jobs.record(loss=0.1, acc=0.9, label="x", node=socket.gethostname(),
                    slurm_job=os.environ.get("SLURM_JOB_ID"))
print("recorded", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
jupyter_jobs.record(acc=0.95)
"""


@pytest.fixture
def jobs_config():
    return {
        "JobManager": {"enabled_backends": ["local", "slurm"]},
        "SlurmSpawner": {"poll_interval": 0.5, "profiles": [SMALL_PROFILE]},
    }


async def wait_running_with(jobs_api, job_id, column, timeout=60):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await jobs_api.get(job_id)
        r = await jobs_api.request("GET", f"jobs/{job_id}/results")
        assert r.code == 200, r.body
        table = json.loads(r.body)
        if job["status"] == "running" and column in table["columns"]:
            return job, table
        assert job["status"] not in ("completed", "failed", "cancelled", "lost"), job
        assert asyncio.get_running_loop().time() < deadline, (job, table)
        await asyncio.sleep(0.2)


async def test_a_slurm_script_records_results_read_live_and_kept_at_the_end(
    jobs_api, jp_root_dir, tmp_path
):
    (jp_root_dir / "record.py").write_text(SCRIPT)
    release = jp_root_dir / "release"
    job = await jobs_api.submit(
        {"path": "record.py", "args": [str(release)], "backend": "slurm", "profile": "small"}
    )
    try:
        running, table = await wait_running_with(jobs_api, job["id"], "loss")
        assert table["columns"][:3] == ["id", "status", "duration_seconds"]
        row = dict(zip(table["columns"], table["rows"][0]))
        assert (row["loss"], row["acc"], row["label"]) == (0.1, 0.9, "x")
        # recorded inside the SLURM job itself
        assert row["slurm_job"] == running["backend_ref"], (row, running)
    finally:
        release.touch()
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "completed", done
    assert done["results"]["acc"] == 0.95 and done["results"]["loss"] == 0.1
    assert list(done["results"]) == ["loss", "acc", "label", "node", "slurm_job"]
    r = await jobs_api.request("GET", f"jobs/{job['id']}/results")
    final = json.loads(r.body)
    assert final["rows"][0][1] == "completed" and final["rows"][0][4] == 0.95


async def test_a_slurm_notebook_records_in_its_last_cell(jobs_api, jp_root_dir):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("lr = 0.1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import os, jupyter_jobs\n"
            "jupyter_jobs.record(lr=lr, score=lr * 10, slurm=bool(os.environ.get('SLURM_JOB_ID')))"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(jp_root_dir / "train.ipynb"))
    job = await jobs_api.submit(
        {"path": "train.ipynb", "backend": "slurm", "profile": "small", "parameters": {"lr": 0.5}}
    )
    done = await jobs_api.wait(job["id"], timeout=180)
    assert done["status"] == "completed", (done, await jobs_api.log(job["id"]))
    assert done["results"] == {"lr": 0.5, "score": 5.0, "slurm": True}
    r = await jobs_api.request("GET", f"jobs/{job['id']}/results")
    table = json.loads(r.body)
    assert table["columns"] == [
        "id", "status", "duration_seconds", "lr", "result.lr", "score", "slurm",
    ]  # fmt: skip
    assert table["rows"][0][3:] == [0.5, 0.5, 5.0, True]
