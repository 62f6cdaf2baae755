"""Remote SLURM kernels from any jupyter_client process, with no Jupyter server running: nbclient,
papermill, ``jupyter nbconvert --execute`` and plain ``KernelManager`` code, configured from the same
``jupyter_server_config`` a server reads. The whole kernel protocol goes through; the kernel job is
recorded in the job root; no allocation is left after any test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import nbformat
import pytest

from .conftest import KERNEL_PROFILES, active_slurm_jobs, kernel_records, standalone_env

pytestmark = pytest.mark.slow
KERNEL = "jupyter-jobs-slurm-default"


@pytest.fixture
def client_env(slurm_cluster, tmp_path):
    """A user's Jupyter dirs: the server config (job root, SLURM profiles) and the kernel specs
    written by ``jupyter jobs kernelspec install``; no server runs."""
    env, job_root = standalone_env(
        tmp_path,
        {
            "JobManager": {"enabled_backends": ["slurm"], "cancel_grace_period": 1.0},
            "SlurmSpawner": {"poll_interval": 0.5, "profiles": KERNEL_PROFILES},
        },
        "slurm",
    )
    before = set(active_slurm_jobs())
    yield {"env": env, "job_root": job_root, "tmp": tmp_path}
    deadline = time.monotonic() + 20  # a job that just ended is COMPLETING for a moment
    while (left := set(active_slurm_jobs()) - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"allocations left behind: {left}"


def run_py(env, code, timeout=240):
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "SLURM", "language": "python"}
    nbformat.write(nb, path)


def test_nbclient_runs_a_notebook_inside_a_slurm_job(client_env):
    nb_path = client_env["tmp"] / "where.ipynb"
    notebook(nb_path, "import os\nprint(os.environ.get('SLURM_JOB_ID', 'none'))", "6 * 7")
    out = run_py(
        client_env["env"],
        f"""
        import json, nbformat
        from nbclient import NotebookClient
        nb = nbformat.read({str(nb_path)!r}, as_version=4)
        NotebookClient(nb, kernel_name={KERNEL!r}, timeout=120).execute()
        print(json.dumps({{"job": nb.cells[0].outputs[0]["text"].strip(),
                          "answer": nb.cells[1].outputs[0]["data"]["text/plain"]}}))
        """,
    )
    assert out["job"].isdigit() and out["answer"] == "42", out
    [record] = kernel_records(client_env["job_root"])  # recorded where every server looks
    assert record["backend_ref"] == out["job"] and record["status"] == "cancelled"
    assert record["state"]["client"] == "standalone"


def test_papermill_and_nbconvert_execute_on_the_cluster(client_env):
    src = client_env["tmp"] / "analysis.ipynb"
    notebook(src, "import os\njob = os.environ['SLURM_JOB_ID']\nprint(job)")
    bindir = os.path.dirname(sys.executable)
    out_nb = client_env["tmp"] / "out.ipynb"
    r = subprocess.run(
        [os.path.join(bindir, "papermill"), str(src), str(out_nb), "-k", KERNEL],
        env=client_env["env"], capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    cell = nbformat.read(out_nb, as_version=4).cells[-1]
    assert cell.outputs[0]["text"].strip().isdigit()
    r = subprocess.run(
        [os.path.join(bindir, "jupyter"), "nbconvert", "--to", "notebook", "--execute",
         f"--ExecutePreprocessor.kernel_name={KERNEL}", "--output", "converted", str(src)],
        env=client_env["env"], capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    cell = nbformat.read(client_env["tmp"] / "converted.ipynb", as_version=4).cells[-1]
    assert cell.outputs[0]["text"].strip().isdigit()
    records = kernel_records(client_env["job_root"])
    assert len(records) == 2 and all(r["status"] in ("cancelled", "completed") for r in records)


PROTOCOL = f"""
import asyncio, json
from jupyter_client.manager import AsyncKernelManager

async def until_idle(kc, msg_id, timeout=60):
    got = []
    while True:
        msg = await kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        got.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return got

async def execute(kc, code, **kw):
    msg_id = kc.execute(code, **kw)
    iopub = await until_idle(kc, msg_id)
    reply = await kc._async_get_shell_msg(timeout=60)
    return reply, iopub

async def main():
    km = AsyncKernelManager(kernel_name={KERNEL!r})
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=120)
    out = {{}}
    info = await kc.kernel_info(reply=True, timeout=60)
    out["kernel_info"] = info["content"]["language_info"]["name"]
    reply, iopub = await execute(kc, "import os, time\\nx = 42\\nprint('hello')\\n"
                                     "from IPython.display import display, HTML\\n"
                                     "display(HTML('<b>hi</b>'))\\nx + 1")
    kinds = {{m["msg_type"] for m in iopub}}
    out["stream"] = [m["content"]["text"] for m in iopub if m["msg_type"] == "stream"]
    out["display"] = [m["content"]["data"].get("text/html") for m in iopub
                      if m["msg_type"] == "display_data"]
    out["result"] = [m["content"]["data"]["text/plain"] for m in iopub
                     if m["msg_type"] == "execute_result"]
    reply, iopub = await execute(kc, "1/0")
    out["error"] = [m["content"]["ename"] for m in iopub if m["msg_type"] == "error"]
    out["error_reply"] = reply["content"]["status"]
    r = await kc.complete("os.pa", 5, reply=True, timeout=60)
    out["complete"] = "path" in r["content"]["matches"] and r["content"]["cursor_start"] == 3
    r = await kc.inspect("len", 3, reply=True, timeout=60)
    out["inspect"] = "text/plain" in r["content"]["data"]
    r = await kc.is_complete("for i in range(3):", reply=True, timeout=60)
    out["is_complete"] = r["content"]["status"]
    r = await kc.history(hist_access_type="tail", n=5, reply=True, timeout=60)
    out["history"] = any("x = 42" in h[2] for h in r["content"]["history"])
    # comms: the kernel opens a comm on request and sends a message on it
    reply, iopub = await execute(kc, "from comm import create_comm\\n"
                                     "c = create_comm(target_name='jj-test', data={{'a': 1}})\\n"
                                     "c.send({{'b': 2}})")
    out["comm"] = [m["msg_type"] for m in iopub if m["msg_type"].startswith("comm_")]
    # stdin: input() answered by the client
    msg_id = kc.execute("answer = input('name? ')\\nprint('got', answer)", allow_stdin=True)
    req = await kc.get_stdin_msg(timeout=60)
    out["stdin_prompt"] = req["content"]["prompt"]
    kc.input("ada")
    iopub = await until_idle(kc, msg_id)
    await kc._async_get_shell_msg(timeout=60)
    out["stdin"] = [m["content"]["text"] for m in iopub if m["msg_type"] == "stream"]
    # interrupt a long sleep
    msg_id = kc.execute("time.sleep(60)")
    await asyncio.sleep(1.5)
    await km.interrupt_kernel()
    iopub = await until_idle(kc, msg_id, timeout=30)
    out["interrupt"] = [m["content"]["ename"] for m in iopub if m["msg_type"] == "error"]
    reply, iopub = await execute(kc, "x")
    out["after_interrupt"] = [m["content"]["data"]["text/plain"] for m in iopub
                              if m["msg_type"] == "execute_result"]
    # restart: a new kernel (a new job), state gone
    await km.restart_kernel()
    await kc.wait_for_ready(timeout=120)
    reply, iopub = await execute(kc, "'x' in dir()")
    out["after_restart"] = [m["content"]["data"]["text/plain"] for m in iopub
                            if m["msg_type"] == "execute_result"]
    kc.stop_channels()
    await km.shutdown_kernel()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_the_whole_kernel_protocol_through_a_slurm_kernel(client_env):
    out = run_py(client_env["env"], PROTOCOL, timeout=400)
    assert out["kernel_info"] == "python"
    assert out["stream"] == ["hello\n"] and out["display"] == ["<b>hi</b>"]
    assert out["result"] == ["43"]
    assert out["error"] == ["ZeroDivisionError"] and out["error_reply"] == "error"
    assert out["complete"], out
    assert out["inspect"], out
    assert out["history"], out
    assert out["is_complete"] == "incomplete"
    assert out["comm"] == ["comm_open", "comm_msg"]
    assert out["stdin_prompt"] == "name? " and out["stdin"] == ["got ada\n"]
    assert out["interrupt"] == ["KeyboardInterrupt"] and out["after_interrupt"] == ["42"]
    assert out["after_restart"] == ["False"]
    [record] = kernel_records(client_env["job_root"])  # the restart kept the allocation
    assert record["status"] in ("cancelled", "completed"), record
    with open(os.path.join(client_env["job_root"], record["id"], "status.json")) as f:
        assert json.load(f)["generation"] == 1  # the kernel started a second time in the job


def test_jupyter_run_and_jupyter_kernel_use_the_cluster(client_env):
    env, bindir = client_env["env"], os.path.dirname(sys.executable)
    script = client_env["tmp"] / "where.py"
    script.write_text("import os\nprint('on', os.environ['SLURM_JOB_ID'])\n")
    r = subprocess.run(
        [os.path.join(bindir, "jupyter"), "run", f"--kernel={KERNEL}", str(script)],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split()[0] == "on" and r.stdout.split()[1].isdigit(), r.stdout

    # `jupyter kernel` keeps a kernel up for others to connect to, until it is interrupted
    conn = client_env["tmp"] / "kernel.json"
    proc = subprocess.Popen(
        [os.path.join(bindir, "jupyter"), "kernel", f"--kernel={KERNEL}",
         f"--KernelManager.connection_file={conn}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        out = run_py(
            env,
            f"""
            import json, os, time
            from jupyter_client import BlockingKernelClient
            deadline = time.time() + 120
            while True:  # the file is written once the kernel job runs
                try:
                    info = json.load(open({str(conn)!r}))
                    if info.get("shell_port"):
                        break
                except (OSError, ValueError):
                    pass
                assert time.time() < deadline
                time.sleep(0.2)
            kc = BlockingKernelClient(connection_file={str(conn)!r})
            kc.load_connection_file()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            got = []
            kc.execute_interactive("import os; print(os.environ['SLURM_JOB_ID'])",
                                   output_hook=lambda m: got.append(m), timeout=60)
            text = [m["content"]["text"] for m in got if m["msg_type"] == "stream"]
            print(json.dumps({{"job": "".join(text).strip()}}))
            """,
        )
        assert out["job"].isdigit()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    records = kernel_records(client_env["job_root"])
    assert len(records) == 2 and all(r["status"] != "running" for r in records), records


def test_jupyter_console_runs_code_inside_a_slurm_job(client_env):
    """``jupyter console`` as a user types into it (lines on its stdin): the code runs inside
    the SLURM job; leaving the console ends the job."""
    before = set(active_slurm_jobs())
    bindir = os.path.dirname(sys.executable)
    typed = "import os; print('job', os.environ['SLURM_JOB_ID'])\nexit\n"
    r = subprocess.run(
        [os.path.join(bindir, "jupyter"), "console", f"--kernel={KERNEL}", "--simple-prompt",
         "--ZMQTerminalInteractiveShell.confirm_exit=False"],
        input=typed, env=client_env["env"], capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    words = r.stdout.split()
    assert "job" in words, r.stdout[-3000:]
    job = words[words.index("job") + 1]
    assert job.isdigit(), r.stdout[-3000:]
    [record] = kernel_records(client_env["job_root"])
    assert record["backend_ref"] == job and record["state"]["client"] == "standalone"
    deadline = time.monotonic() + 20  # the console shut its kernel down: the job leaves squeue
    while job in active_slurm_jobs() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job not in active_slurm_jobs() and not (set(active_slurm_jobs()) - before)
