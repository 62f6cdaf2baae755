"""The SLURM backend through the REST API of a real Jupyter server, on the real cluster."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import nbformat
import pytest

from jupyter_jobs.exceptions import BadRequest
from jupyter_jobs.manager import JobManager

GPU_PROFILE = {
    "name": "gpu",
    "display_name": "GPU: 1 GPU, 2 CPUs, 1 GB, 10 min",
    "description": "for tests",
    "resources": {"gpus": 1, "cpus": 2, "memory": "1G", "time_limit": "00:10:00"},
    "max_resources": {"cpus": 4, "gpus": 2},
    "kernels": True,
}
SMALL_PROFILE = {"name": "small", "resources": {"cpus": 1, "time_limit": 300}}

pytestmark = pytest.mark.usefixtures("running_manager")


@pytest.fixture
def jobs_config():
    return {
        "JobManager": {"enabled_backends": ["local", "slurm"]},
        "SlurmSpawner": {"poll_interval": 0.5, "profiles": [SMALL_PROFILE, GPU_PROFILE]},
    }


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_notebook(root, name="gpu.ipynb"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("label = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import os\nprint('gpu', os.environ.get('CUDA_VISIBLE_DEVICES'), label)"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(root / name))


async def wait_for(jobs_api, job_id, predicate, timeout=20):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await jobs_api.get(job_id)
        if predicate(job):
            return job
        assert asyncio.get_running_loop().time() < deadline, json.dumps(job)
        await asyncio.sleep(0.2)


async def test_backends_list_slurm_available_with_profiles(jobs_api):
    r = await jobs_api.request("GET", "backends")
    slurm = {b["name"]: b for b in json.loads(r.body)["backends"]}["slurm"]
    assert slurm["available"] is True and slurm["reason"] is None
    assert slurm["supports_kernels"] is True and slurm["display_name"] == "SLURM"
    assert [p["name"] for p in slurm["profiles"]] == ["small", "gpu"]
    assert slurm["profiles"][1]["kernels"] is True


async def test_notebook_on_gpu_profile_queues_behind_full_node_then_runs(
    jobs_api, jp_root_dir, node_cpus
):
    blocker = await jobs_api.submit(
        {"command": ["sleep", "60"], "backend": "slurm", "resources": {"cpus": node_cpus}}
    )
    await wait_for(jobs_api, blocker["id"], lambda j: j["status"] == "running")
    make_notebook(jp_root_dir)
    job = await jobs_api.submit(
        {
            "path": "gpu.ipynb",
            "backend": "slurm",
            "profile": "gpu",
            "parameters": {"label": "from-test"},
        }
    )
    assert job["resources"]["gpus"] == 1 and job["profile"] == "gpu"
    queued = await wait_for(
        jobs_api,
        job["id"],
        lambda j: j["status"] == "queued" and "(Resources)" in (j["reason"] or ""),
    )
    assert queued["backend_ref"] and queued["host"] is None
    r = await jobs_api.request("POST", f"jobs/{blocker['id']}/cancel")
    assert r.code == 202
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "completed" and done["exit_code"] == 0, done
    assert done["host"] == "localhost" and done["started_at"] and done["finished_at"]
    executed = nbformat.read(str(jp_root_dir / done["outputs"][0]), as_version=4)
    outputs = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "gpu 0 from-test" in outputs
    assert (await jobs_api.get(blocker["id"]))["status"] == "cancelled"


async def test_script_log_streams_while_it_runs_and_exit_code_is_kept(jobs_api, jp_root_dir):
    write(jp_root_dir, "steps.sh", "echo first\nsleep 4\necho second\nexit 3\n")
    job = await jobs_api.submit({"path": "steps.sh", "backend": "slurm"})
    await wait_for(jobs_api, job["id"], lambda j: j["status"] == "running" and j["log_size"] > 0)
    log = await jobs_api.log(job["id"])
    assert "first" in log and "second" not in log
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "failed" and done["exit_code"] == 3 and done["reason"] == "exit code 3"
    assert (await jobs_api.log(job["id"])).splitlines() == ["first", "second"]
    r = await jobs_api.request("GET", f"jobs/{job['id']}/usage")
    assert json.loads(r.body)["samples"], "the runner sampled usage on the compute node"


async def test_cancel_through_the_api(jobs_api):
    job = await jobs_api.submit({"command": ["sleep", "300"], "backend": "slurm"})
    await wait_for(jobs_api, job["id"], lambda j: j["status"] == "running")
    r = await jobs_api.request("POST", f"jobs/{job['id']}/cancel")
    assert r.code == 202 and json.loads(r.body)["status"] in ("cancelling", "cancelled")
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "cancelled"
    out = subprocess.run(
        ["squeue", "-h", "-j", done["backend_ref"], "-t", "all", "-o", "%T"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert out == "CANCELLED"


@pytest.mark.parametrize(
    ("resources", "field", "message"),
    [
        ({"partition": "nosuch"}, "resources.partition", "partitions are: debug, short"),
        ({"partition": "short", "time_limit": "02:00:00"}, "resources.time_limit", "time limit"),
        ({"cpus": 8}, "resources.cpus", "more than the profile allows"),
        ({"extra": {"uid": "0"}}, "resources.extra.uid", "not an sbatch option users may set"),
        ({"image": "python:3.11"}, "resources.image", "does not support resource"),
    ],
)
async def test_refused_requests_are_400_with_the_reason(jobs_api, resources, field, message):
    r = await jobs_api.request(
        "POST",
        "jobs",
        {"command": ["true"], "backend": "slurm", "profile": "gpu", "resources": resources},
    )
    assert r.code == 400, r.body
    body = json.loads(r.body)
    assert message.lower() in body["message"].lower() and body["field"] == field
    listed = json.loads((await jobs_api.request("GET", "jobs")).body)["jobs"]
    assert listed == []


async def test_server_restart_reattaches_slurm_jobs(jobs_api, manager):
    job = await jobs_api.submit(
        {"command": ["bash", "-c", "sleep 4; echo survived"], "backend": "slurm"}
    )
    await wait_for(jobs_api, job["id"], lambda j: j["status"] == "running")
    await manager.stop()  # the server goes away; the SLURM job does not
    again = JobManager(
        parent=manager.parent,
        config=manager.config,
        store=manager.store,
        job_root=manager.job_root,
        root_dir=manager.root_dir,
        emit=None,
    )
    try:
        await again.start()
        assert again.get(job["id"]).status in ("running", "completed")
        deadline = asyncio.get_running_loop().time() + 60
        while not again.get(job["id"]).is_final:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.2)
        final = again.get(job["id"])
        assert final.status == "completed" and final.exit_code == 0
        with open(os.path.join(final.job_dir, "output.log")) as f:
            assert f.read() == "survived\n"
    finally:
        await again.stop()


def slurm_job_ids() -> set[str]:
    user = os.environ.get("USER") or "root"
    out = subprocess.run(
        ["squeue", "-h", "-u", user, "-t", "all", "-o", "%i"], capture_output=True, text=True
    ).stdout
    return set(out.split())


async def test_backends_list_the_clusters_limits_per_partition(jobs_api, node_cpus):
    r = await jobs_api.request("GET", "backends")
    slurm = {b["name"]: b for b in json.loads(r.body)["backends"]}["slurm"]
    limits = slurm["limits"]
    assert set(limits) == {"debug", "short"}, limits
    assert limits["debug"]["cpus"] == node_cpus and limits["debug"]["default"] is True
    assert limits["debug"]["max_time_seconds"] is None
    assert limits["short"]["max_time_seconds"] == 600
    assert limits["debug"]["memory_bytes"] > 0 and limits["debug"]["gpus"] == 2


@pytest.mark.parametrize(
    ("resources", "field", "message"),
    [
        (
            {"cpus": "TWICE"},
            "resources.cpus",
            "no node in partition debug has {twice} CPUs; the largest has {cpus}",
        ),
        ({"gpus": 3}, "resources.gpus", "no node in partition debug has 3 GPUs; the largest has 2"),
        (
            {"memory": "4T"},
            "resources.memory",
            "no node in partition debug has 4T of memory; the largest has",
        ),
        (
            {"partition": "short", "time_limit": "00:20:00"},
            "resources.time_limit",
            "the time limit 00:20:00 is more than partition short allows (00:10:00)",
        ),
    ],
)
async def test_impossible_requests_are_refused_before_anything_exists(
    jobs_api, manager, node_cpus, resources, field, message
):
    spawner = manager.spawners["slurm"]
    resources = {k: (node_cpus * 2 if v == "TWICE" else v) for k, v in resources.items()}
    message = message.format(twice=node_cpus * 2, cpus=node_cpus)
    await spawner.cluster_limits()  # read once (it is then cached)
    before_dirs = set(os.listdir(manager.job_root))
    before_calls, before_ids = dict(spawner.calls), slurm_job_ids()
    r = await jobs_api.request(
        "POST",
        "jobs",
        {"command": ["true"], "backend": "slurm", "profile": "small", "resources": resources},
    )
    assert r.code == 400, r.body
    body = json.loads(r.body)
    assert message in body["message"] and body["field"] == field, body
    # nothing was created: no job directory, no index row, no sbatch, no SLURM job
    assert set(os.listdir(manager.job_root)) == before_dirs
    assert json.loads((await jobs_api.request("GET", "jobs")).body)["jobs"] == []
    assert spawner.calls.get("sbatch", 0) == before_calls.get("sbatch", 0)
    assert slurm_job_ids() == before_ids


async def test_a_request_that_fits_is_accepted_and_runs(jobs_api, node_cpus):
    job = await jobs_api.submit(
        {
            "command": ["bash", "-c", "echo fits"],
            "backend": "slurm",
            "profile": "small",
            "resources": {"cpus": node_cpus, "partition": "short", "time_limit": "00:10:00"},
        }
    )
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "completed", done
    assert await jobs_api.log(job["id"]) == "fits\n"


async def test_a_remote_kernel_that_cannot_fit_is_refused_too(jobs_api, manager):
    before_dirs = set(os.listdir(manager.job_root))
    with pytest.raises(BadRequest) as e:
        await manager.create_kernel_job(
            backend="slurm",
            profile="gpu",
            argv=["python", "-c", "pass"],
            name="too big a kernel",
            resources={"memory": "4T"},
        )
    assert "no node in partition debug has 4T of memory" in e.value.message
    assert e.value.field == "resources.memory"
    assert set(os.listdir(manager.job_root)) == before_dirs


async def test_a_slurm_job_gets_its_efficiency_summary(jobs_api):
    burn = "import time\nwhile time.process_time() < 1.0:\n    pass\n"
    job = await jobs_api.submit(
        {
            "command": ["python3", "-c", burn],
            "backend": "slurm",
            "profile": "small",
            "resources": {"cpus": 2, "memory": "8G", "time_limit": "04:00:00"},
        }
    )
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "completed", done
    eff = done["efficiency"]
    # the runner ran inside the SLURM job: its account of the job's processes
    assert eff["cpu"]["cores"] == 2 and 0.9 <= eff["cpu"]["used_core_seconds"] <= 2.5, eff
    # one busy process of two CPUs: at most about half (less on a loaded machine)
    assert 0.01 <= eff["cpu"]["ratio"] <= 0.55, eff
    assert (
        0 < eff["memory"]["peak_bytes"] < 1024**3
        and eff["memory"]["requested_bytes"] == 8 * 1024**3
    )
    assert eff["time"]["limit_seconds"] == 4 * 3600
    assert any("of 8G of memory: next time ask for 256M" in h for h in eff["hints"]), eff
