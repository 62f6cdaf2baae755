"""Local background jobs through the REST API of a real server, with real processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys

import nbformat
import psutil
import pytest


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_notebook(root, name="analysis.ipynb"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1\nlabel = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell("result = alpha * 2\nprint('result', result, label)"),
        nbformat.v4.new_markdown_cell("# done"),
        nbformat.v4.new_code_cell("print('finished')"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(root / name))


async def test_python_script_runs_with_args_env_and_cwd(jobs_api, jp_root_dir):
    write(
        jp_root_dir,
        "proj/train.py",
        "import os, sys\nprint('args', sys.argv[1:])\nprint('env', os.environ['LR'])\n"
        "print('cwd', os.getcwd())\nprint('exe', sys.executable)\n",
    )
    job = await jobs_api.submit(
        {"path": "proj/train.py", "args": ["--epochs", "3"], "env": {"LR": "0.1"}}
    )
    assert job["kind"] == "script" and job["name"] == "train.py"
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "completed" and done["exit_code"] == 0, done
    log = await jobs_api.log(job["id"])
    assert "args ['--epochs', '3']" in log
    assert "env 0.1" in log
    assert f"cwd {os.path.realpath(jp_root_dir / 'proj')}" in log
    assert f"exe {sys.executable}" in log
    assert done["started_at"] and done["finished_at"] and done["host"]


async def test_shell_script_and_exit_code(jobs_api, jp_root_dir):
    write(jp_root_dir, "fail.sh", "echo from bash $BASH_VERSION\nexit 3\n")
    job = await jobs_api.submit({"path": "fail.sh"})
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "failed"
    assert done["exit_code"] == 3
    assert done["reason"] == "exit code 3"
    assert "from bash" in await jobs_api.log(job["id"])


async def test_r_script_needs_rscript(jobs_api, jp_root_dir):
    write(jp_root_dir, "model.R", "cat('hello from R\\n')\n")
    if shutil.which("Rscript") is None:
        r = await jobs_api.request("POST", "jobs", {"path": "model.R"})
        assert r.code == 400
        body = json.loads(r.body)
        assert "Rscript" in body["message"] and "not installed" in body["message"]
    else:
        job = await jobs_api.submit({"path": "model.R"})
        done = await jobs_api.wait(job["id"])
        assert done["status"] == "completed"
        assert "hello from R" in await jobs_api.log(job["id"])


async def test_command_argv_reaches_no_shell(jobs_api, jp_root_dir):
    canary = jp_root_dir / "canary"
    nasty = [
        f"; touch {canary}",
        f"$(touch {canary})",
        f"`touch {canary}`",
        "a|b&&c>d",
        "ünïcødé ✓",
    ]
    job = await jobs_api.submit(
        {
            "command": [
                sys.executable,
                "-c",
                "import sys, json; print(json.dumps(sys.argv[1:]))",
                *nasty,
            ],
            "name": "name; rm -rf / $(x) ✓",
            "env": {"NASTY": f"$(touch {canary})"},
        }
    )
    assert job["name"] == "name; rm -rf / $(x) ✓"
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "completed", done
    printed = json.loads((await jobs_api.log(job["id"])).strip().splitlines()[-1])
    assert printed == nasty
    assert not canary.exists()


async def test_notebook_with_parameters_produces_executed_notebook(jobs_api, jp_root_dir):
    make_notebook(jp_root_dir)
    job = await jobs_api.submit(
        {"path": "analysis.ipynb", "parameters": {"alpha": 21, "label": "from test"}}
    )
    assert job["kind"] == "notebook"
    assert len(job["outputs"]) == 1
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "completed", (done, await jobs_api.log(job["id"]))
    out = nbformat.read(str(jp_root_dir / done["outputs"][0]), as_version=4)
    text = "".join(
        o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "result 42 from test" in text
    assert done["progress"]["fraction"] == 1.0
    assert "of" in done["progress"]["message"]
    assert "result 42 from test" in await jobs_api.log(job["id"])


async def test_failing_notebook_is_failed_with_output_kept(jobs_api, jp_root_dir):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise ValueError('boom')")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(jp_root_dir / "bad.ipynb"))
    job = await jobs_api.submit({"path": "bad.ipynb"})
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "failed" and done["exit_code"] == 1
    assert "ValueError: boom" in await jobs_api.log(job["id"])
    assert (jp_root_dir / done["outputs"][0]).exists()


async def test_cancel_kills_the_whole_tree(jobs_api, jp_root_dir):
    write(
        jp_root_dir,
        "tree.sh",
        # a background child, a grandchild in its own session, and one that ignores SIGTERM
        "sleep 300 &\nsetsid sleep 301 &\n(trap '' TERM; sleep 302) &\necho started\nwait\n",
    )
    job = await jobs_api.submit({"path": "tree.sh"})
    await jobs_api.wait(job["id"], statuses=("running",))
    for _ in range(100):
        if "started" in await jobs_api.log(job["id"]):
            break
        await asyncio.sleep(0.05)

    def sleepers():
        # this job's processes only: every one of them carries the job id in its environment
        mine = []
        for p in psutil.process_iter(["cmdline"]):
            try:
                if (
                    p.info["cmdline"]
                    and p.info["cmdline"][0] == "sleep"
                    and (p.environ().get("JUPYTER_JOBS_JOB_ID") == job["id"])
                ):
                    mine.append(p)
            except psutil.Error:
                continue
        return mine

    for _ in range(300):  # a loaded machine may take a while to start all three
        if len(sleepers()) == 3:
            break
        await asyncio.sleep(0.1)
    assert len(sleepers()) == 3
    r = await jobs_api.request("POST", f"jobs/{job['id']}/cancel")
    assert r.code == 202
    assert json.loads(r.body)["status"] in ("cancelling", "cancelled")
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "cancelled"
    assert sleepers() == []


async def test_cancel_final_job_is_409(jobs_api, jp_root_dir):
    job = await jobs_api.submit({"command": ["true"]})
    await jobs_api.wait(job["id"])
    r = await jobs_api.request("POST", f"jobs/{job['id']}/cancel")
    assert r.code == 409
    assert "already completed" in json.loads(r.body)["message"]


@pytest.fixture
def one_slot_config():
    return {"LocalSpawner": {"max_concurrent": 1, "poll_interval": 0.5}}


@pytest.mark.parametrize("jobs_config", [{"LocalSpawner": {"max_concurrent": 1}}])
async def test_queue_runs_at_most_max_concurrent_in_order(jobs_api, jp_root_dir, jobs_config):
    write(
        jp_root_dir, "slow.py", "import sys, time\nprint('start', sys.argv[1]); time.sleep(0.6)\n"
    )
    jobs = [await jobs_api.submit({"path": "slow.py", "args": [str(i)]}) for i in range(3)]
    assert jobs[0]["status"] == "running"
    assert [j["status"] for j in jobs[1:]] == ["queued", "queued"]
    assert "waiting for a free slot" in jobs[1]["reason"]
    # cancel one that waits: it never starts
    r = await jobs_api.request("POST", f"jobs/{jobs[1]['id']}/cancel")
    assert json.loads(r.body)["status"] == "cancelled"
    finals = [await jobs_api.wait(j["id"]) for j in jobs]
    assert [f["status"] for f in finals] == ["completed", "cancelled", "completed"]
    assert finals[2]["started_at"] >= finals[0]["finished_at"]
    assert await jobs_api.log(jobs[1]["id"]) == ""


async def test_cpus_pin_the_job(jobs_api, jp_root_dir):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs")
    job = await jobs_api.submit(
        {
            "command": [sys.executable, "-c", "import os; print(len(os.sched_getaffinity(0)))"],
            "resources": {"cpus": 1},
        }
    )
    await jobs_api.wait(job["id"])
    assert (await jobs_api.log(job["id"])).strip() == "1"


async def test_memory_limit_kills_with_reason(jobs_api, jp_root_dir):
    write(
        jp_root_dir,
        "hog.py",
        "import time\nblocks = []\nfor i in range(400):\n"
        "    blocks.append(bytearray(8 * 1024 * 1024)); time.sleep(0.01)\ntime.sleep(30)\n",
    )
    job = await jobs_api.submit({"path": "hog.py", "resources": {"memory": "200M"}})
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "failed"
    assert "memory limit exceeded" in done["reason"]


async def test_time_limit_kills_with_reason(jobs_api, jp_root_dir):
    job = await jobs_api.submit(
        {"command": ["sleep", "60"], "resources": {"time_limit": "00:00:02"}}
    )
    done = await jobs_api.wait(job["id"])
    assert done["status"] == "failed"
    assert done["reason"] == "time limit exceeded (00:00:02)"


async def test_progress_from_api_and_from_tqdm(jobs_api, jp_root_dir):
    write(
        jp_root_dir,
        "api.py",
        "import time, jupyter_jobs\njupyter_jobs.progress(0.25, 'quarter')\ntime.sleep(1.5)\n",
    )
    write(
        jp_root_dir,
        "bar.py",
        "import sys, time\nsys.stderr.write('Epoch 1:  45%|####5     | 45/100 [00:01<00:01]\\r')\n"
        "sys.stderr.flush(); time.sleep(1.5)\n",
    )
    a = await jobs_api.submit({"path": "api.py"})
    b = await jobs_api.submit({"path": "bar.py"})
    for job, fraction, message in ((a, 0.25, "quarter"), (b, 0.45, "Epoch 1 45/100")):
        for _ in range(60):
            got = (await jobs_api.get(job["id"]))["progress"]
            if got:
                break
            await asyncio.sleep(0.1)
        assert got == {"fraction": fraction, "message": message}


async def test_log_by_offset_and_usage(jobs_api, jp_root_dir):
    write(jp_root_dir, "out.py", "import time\nprint('0123456789' * 3)\ntime.sleep(1.2)\n")
    job = await jobs_api.submit({"path": "out.py"})
    await jobs_api.wait(job["id"])
    r = await jobs_api.request("GET", f"jobs/{job['id']}/log", offset="5", limit="10")
    assert r.body == b"5678901234"
    assert r.headers["X-Log-Size"] == "31"
    assert r.headers["Content-Type"].startswith("text/plain")
    r = await jobs_api.request("GET", f"jobs/{job['id']}/usage")
    samples = json.loads(r.body)["samples"]
    assert samples and {"t", "cpu_percent", "rss_bytes"} <= set(samples[0])
    assert all(s["rss_bytes"] > 0 for s in samples)


async def test_rerun_with_overrides_and_delete(jobs_api, jp_root_dir, manager):
    write(jp_root_dir, "echo.py", "import sys\nprint(sys.argv[1:])\n")
    job = await jobs_api.submit({"path": "echo.py", "args": ["one"]})
    await jobs_api.wait(job["id"])
    r = await jobs_api.request("POST", f"jobs/{job['id']}/rerun", {"args": ["two"]})
    assert r.code == 201
    again = json.loads(r.body)
    assert again["id"] != job["id"] and again["path"] == "echo.py"
    assert r.headers["Location"].endswith(f"/jupyter-jobs/api/jobs/{again['id']}")
    await jobs_api.wait(again["id"])
    assert "['two']" in await jobs_api.log(again["id"])

    long = await jobs_api.submit({"command": ["sleep", "30"]})
    r = await jobs_api.request("DELETE", f"jobs/{long['id']}")
    assert r.code == 409
    await jobs_api.request("POST", f"jobs/{long['id']}/cancel")
    await jobs_api.wait(long["id"])

    job_dir = manager.get(job["id"]).job_dir
    assert os.path.isdir(job_dir)
    r = await jobs_api.request("DELETE", f"jobs/{job['id']}")
    assert r.code == 204
    assert not os.path.exists(job_dir)
    assert (await jobs_api.request("GET", f"jobs/{job['id']}")).code == 404


async def test_list_newest_first_with_filters_and_cursor(jobs_api):
    ids = [(await jobs_api.submit({"command": ["true"], "name": f"j{i}"}))["id"] for i in range(5)]
    for i in ids:
        await jobs_api.wait(i)
    r = await jobs_api.request("GET", "jobs", limit="2")
    page = json.loads(r.body)
    assert [j["id"] for j in page["jobs"]] == ids[::-1][:2]
    r = await jobs_api.request("GET", "jobs", limit="2", cursor=page["next_cursor"])
    assert [j["id"] for j in json.loads(r.body)["jobs"]] == ids[::-1][2:4]
    r = await jobs_api.request("GET", "jobs", status="failed")
    assert json.loads(r.body)["jobs"] == []
    r = await jobs_api.request("GET", "jobs", status="completed", backend="local")
    assert len(json.loads(r.body)["jobs"]) == 5


async def test_events_for_every_status_change(jobs_api, jp_serverapp, jp_root_dir):
    from jupyter_jobs.events import SCHEMA_ID

    seen = []

    async def listener(logger, schema_id, data):
        seen.append(data)

    jp_serverapp.event_logger.add_listener(schema_id=SCHEMA_ID, listener=listener)
    write(
        jp_root_dir,
        "p.py",
        "import jupyter_jobs, time\njupyter_jobs.progress(0.5)\ntime.sleep(1)\n",
    )
    job = await jobs_api.submit({"path": "p.py"})
    await jobs_api.wait(job["id"])
    await asyncio.sleep(0.2)
    mine = [d for d in seen if d["job_id"] == job["id"]]
    assert mine[0]["action"] == "created"
    statuses = [d["status"] for d in mine]
    assert "running" in statuses and statuses[-1] == "completed"
    assert any((d["job"] or {}).get("progress") == {"fraction": 0.5, "message": None} for d in mine)
    await jobs_api.request("DELETE", f"jobs/{job['id']}")
    await asyncio.sleep(0.1)
    assert seen[-1]["action"] == "deleted" and seen[-1]["job"] is None


async def test_log_follow_websocket_resumes_from_offset(jobs_api, jp_ws_fetch, jp_root_dir):
    write(
        jp_root_dir,
        "talk.py",
        "import time\nfor i in range(20):\n    print(f'line {i} ✓', flush=True); time.sleep(0.05)\n",
    )
    job = await jobs_api.submit({"path": "talk.py"})

    async def follow(offset, stop_after=None):
        ws = await jp_ws_fetch(
            "jupyter-jobs",
            "api",
            "jobs",
            job["id"],
            "log",
            "follow",
            params={"offset": str(offset)},
        )
        text, next_offset, end = "", offset, None
        while True:
            msg = await ws.read_message()
            if msg is None:
                break
            frame = json.loads(msg)
            if frame["type"] == "data":
                assert frame["offset"] == next_offset
                text += frame["data"]
                next_offset = frame["next_offset"]
                if stop_after and len(text) >= stop_after:
                    break
            elif frame["type"] == "end":
                end = frame
                break
        ws.close()
        return text, next_offset, end

    first, offset, end = await follow(0, stop_after=20)
    assert end is None
    rest, final_offset, end = await follow(offset)
    assert end is not None and end["status"] == "completed"
    full = await jobs_api.log(job["id"])
    assert first + rest == full
    assert final_offset == len(full.encode())


async def test_job_of_a_disabled_backend_stays_readable(jobs_api, manager):
    job = await jobs_api.submit({"command": ["echo", "kept"]})
    await jobs_api.wait(job["id"])
    stored = manager.store.get(job["id"])
    stored.backend = "retired"  # as if the admin disabled the backend it ran on
    manager.store.save(stored)
    assert (await jobs_api.get(job["id"]))["backend"] == "retired"
    assert await jobs_api.log(job["id"]) == "kept\n"
    r = await jobs_api.request("DELETE", f"jobs/{job['id']}")
    assert r.code == 204


async def test_backends_hide_admin_only_profile_keys(jobs_api, manager):
    manager.spawners["local"].profiles = [
        {
            "name": "ml",
            "display_name": "ML",
            "python": "/opt/secret/env/bin/python",
            "resources": {"cpus": 1},
        }
    ]
    r = await jobs_api.request("GET", "backends")
    local = next(b for b in json.loads(r.body)["backends"] if b["name"] == "local")
    assert local["profiles"][0]["name"] == "ml"
    assert "python" not in local["profiles"][0]
    assert "/opt/secret" not in r.body.decode()


async def test_notebook_log_holds_cell_output_as_printed(jobs_api, jp_root_dir):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("print('one')\nprint('two')"),
        nbformat.v4.new_code_cell("import sys\nsys.stderr.write('three\\n')"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(jp_root_dir / "lines.ipynb"))
    job = await jobs_api.submit({"path": "lines.ipynb"})
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "completed"
    log = await jobs_api.log(job["id"])
    assert "one\ntwo\n" in log and "three\n" in log
    assert "\n\n" not in log.split("one", 1)[1]  # no blank lines between printed lines
