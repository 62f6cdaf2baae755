"""``jupyter jobs`` run as a real subprocess against a real ``jupyter server`` subprocess.

The server runs with its own runtime dir, so the CLI finds it through its ``jpserver-*.json``
file exactly as on a user's machine. Jobs that must stay running wait for a *release* file the
test creates, so nothing here depends on timing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
FINAL = {"completed", "failed", "cancelled", "lost"}

TRAIN = """\
import os, sys, time
print("args", sys.argv[1:], flush=True)
print("env", os.environ.get("GREETING"), flush=True)
print("cwd", os.getcwd(), flush=True)
code = int(os.environ.get("EXIT_CODE", "0"))
sys.exit(code)
"""

# Prints "started", then waits until the file named in its first argument exists.
BLOCK = """\
import os, sys, time
print("started", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
print("released", flush=True)
"""


def write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('alpha = 1\nname = "nobody"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell('print("result", alpha * 2, name, type(alpha).__name__)'),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@dataclasses.dataclass
class Server:
    url: str
    token: str
    root: Path
    base: Path
    env: dict[str, str]
    proc: subprocess.Popen

    def api(self, method: str, path: str, body: dict | None = None):
        req = urllib.request.Request(
            f"{self.url}jupyter-jobs/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def wait_final(self, job_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.api("GET", f"jobs/{job_id}")
            if job["status"] in FINAL:
                return job
            assert time.monotonic() < deadline, f"job stayed {job['status']}: {job}"
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(runtime_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_JOBS_")}
    env["JUPYTER_RUNTIME_DIR"] = str(runtime_dir)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_server(
    base: Path, port: int | None = None, token: str | None = None, extra_config: dict | None = None
) -> Server:
    """Start ``jupyter server`` with the extension in ``base`` (root, runtime dir, job root);
    again on the same base, port and token, it is the same server after a restart."""
    root, runtime = base / "root", base / "runtime"
    if not root.exists():
        (root / "sub").mkdir(parents=True)
        runtime.mkdir()
        (root / "train.py").write_text(TRAIN)
        (root / "block.py").write_text(BLOCK)
        write_notebook(root / "params.ipynb")
        config = {
            "ServerApp": {"jpserver_extensions": {"jupyter_jobs": True}},
            "JobsApp": {"job_root": str(base / "job-root")},
            "JobManager": {"cancel_grace_period": 2.0},
            "LocalSpawner": {"poll_interval": 0.3},
            **(extra_config or {}),
        }
        (base / "config").mkdir()
        (base / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    env = base_env(runtime)
    env["JUPYTER_CONFIG_DIR"] = str(base / "config")  # and no user config leaks in
    token, port = token or secrets.token_hex(16), port or free_port()
    argv = [
        sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
        f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    with open(base / "server.log", "ab") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=base)
    srv = Server(f"http://127.0.0.1:{port}/", token, root, base, env, proc)
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (base / "server.log").read_text()
        if (runtime / f"jpserver-{proc.pid}.json").exists():
            try:
                srv.api("GET", "backends")
                return srv
            except OSError:
                pass
        assert time.monotonic() < deadline, (base / "server.log").read_text()
        time.sleep(0.2)


def stop_server(srv: Server, cancel_jobs: bool = True) -> None:
    try:
        if cancel_jobs:  # leave no job running behind
            for job in srv.api("GET", "jobs?limit=1000")["jobs"]:
                if job["status"] not in FINAL:
                    srv.api("POST", f"jobs/{job['id']}/cancel")
    finally:
        stop_process(srv.proc)


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module", name="server")
def jobs_server(tmp_path_factory):
    """A real ``jupyter server`` with the extension, in a temp root and runtime dir."""
    srv = start_server(tmp_path_factory.mktemp("jobs-cli"))
    yield srv
    stop_server(srv)


def jj(server: Server, *args: str, cwd: Path | None = None, env=None, timeout=120):
    """Run ``jupyter jobs ARGS`` (the CLI module, as the console script does)."""
    return subprocess.run(
        [sys.executable, "-m", "jupyter_jobs.cli", *args],
        cwd=cwd or server.root,
        env=env or server.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def submit_id(server: Server, *args: str, cwd: Path | None = None) -> str:
    r = jj(server, "submit", "-q", *args, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


# ------------------------------------------------------------------ parsing (no server)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lr=0.01", ("lr", 0.01)),
        ("epochs=3", ("epochs", 3)),
        ("flag=true", ("flag", True)),
        ("sizes=[1, 2]", ("sizes", [1, 2])),
        ("name=alice", ("name", "alice")),
        ("expr=a=b", ("expr", "a=b")),
        ("empty=", ("empty", "")),
    ],
)
def test_parameters_are_json_when_they_parse_else_strings(text, expected):
    from jupyter_jobs.cli import _parameter

    assert _parameter(text) == expected


def test_options_before_path_and_everything_after_it_goes_to_the_script():
    from jupyter_jobs.cli import _split_command, build_parser

    parser = build_parser()
    a = parser.parse_args(["submit", "--cpus", "2", "--env", "A=1", "x.py", "--name", "-f"])
    assert (a.cpus, a.env, a.path, a.args) == (2, [("A", "1")], "x.py", ["--name", "-f"])
    head, command = _split_command(["submit", "--wait", "--", "make", "-j4", "--", "x"])
    assert (head, command) == (["submit", "--wait"], ["make", "-j4", "--", "x"])


def test_a_pasted_browser_url_gives_server_url_and_token():
    from jupyter_jobs.client import _split_token

    assert _split_token("http://h:8888/lab?token=abc") == ("http://h:8888/", "abc")
    assert _split_token("https://hub/user/me/lab/tree/x") == ("https://hub/user/me/", None)
    assert _split_token("https://hub/user/lab/lab?token=t") == ("https://hub/user/lab/", "t")
    assert _split_token("http://h:8888/tree/lab/x.py") == ("http://h:8888/", None)
    assert _split_token("http://h:8888") == ("http://h:8888/", None)
    assert _split_token("http://h:8888/base/") == ("http://h:8888/base/", None)


# ------------------------------------------------------------------------------ discovery


def test_no_running_server_exits_2_with_a_clear_message(tmp_path):
    (tmp_path / "runtime").mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "jupyter_jobs.cli", "list"],
        cwd=tmp_path,
        env=base_env(tmp_path / "runtime"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "no running Jupyter server found" in r.stderr
    assert "--url" in r.stderr
    assert "Traceback" not in r.stderr


def test_outside_every_server_root_exits_2_and_names_no_other_folder(server):
    outside = server.base / "elsewhere.py"
    outside.write_text("print(1)\n")
    r = jj(server, "submit", str(outside), cwd=server.base)
    assert r.returncode == 2
    assert f"no running Jupyter server serves {outside.resolve()}." in r.stderr
    assert str(server.root) not in r.stderr  # another server's folder is none of our business
    assert f"jupyter lab --notebook-dir={server.base.resolve()}" in r.stderr
    assert "--url" in r.stderr


def test_commands_about_jobs_use_the_one_running_server_from_anywhere(server):
    """``jupyter jobs list`` / ``show ID`` in a folder no server serves: with one server running
    it is the one meant (a second newcomer's trial found `show` refused from /tmp)."""
    job = submit_id(server, "--wait", "train.py", "anywhere")
    r = jj(server, "show", job[:8], cwd=server.base)
    assert r.returncode == 0, r.stderr
    assert job in r.stdout
    r = jj(server, "list", cwd=server.base)
    assert r.returncode == 0 and job[:8] in r.stdout, r.stderr


def test_explicit_url_and_token_work_without_runtime_files(server, tmp_path):
    env = base_env(tmp_path)  # an empty runtime dir: nothing to discover
    r = jj(server, "--url", server.url, "--token", server.token, "list", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert isinstance(json.loads(r.stdout), list)
    env["JUPYTER_JOBS_URL"] = f"{server.url}lab?token={server.token}"  # a pasted browser URL
    r = jj(server, "backends", env=env)
    assert r.returncode == 0, r.stderr
    assert "local" in r.stdout


def test_wrong_token_is_refused_with_a_hint(server, tmp_path):
    r = jj(server, "--url", server.url, "--token", "wrong", "list", env=base_env(tmp_path))
    assert r.returncode == 1
    assert "--token" in r.stderr and "403" in r.stderr


# --------------------------------------------------------------------------------- submit


def test_submit_script_passes_args_env_and_exits_with_the_job_code(server):
    r = jj(
        server, "submit", "--env", "GREETING=hello", "--env", "EXIT_CODE=3", "-f",
        "train.py", "--epochs", "3", "two words",
    )  # fmt: skip
    assert r.returncode == 3, r.stderr
    assert "args ['--epochs', '3', 'two words']" in r.stdout
    assert "env hello" in r.stdout
    assert "failed (exit code 3)" in r.stderr


def test_submit_wait_prints_two_status_lines_on_stderr_and_nothing_on_stdout(server):
    r = jj(server, "submit", "--wait", "train.py")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    first, last = r.stderr.splitlines()
    assert first.startswith("jupyter jobs: submitted job ") and " 'train.py' on local: " in first
    short = first.split()[4]
    assert last == f"jupyter jobs: job {short} completed (exit code 0)"


def test_submit_wait_quiet_prints_the_id_only_and_json_the_ended_job(server):
    r = jj(server, "submit", "-q", "--wait", "--env", "EXIT_CODE=4", "train.py")
    assert r.returncode == 4, r.stderr
    assert (r.stderr, len(r.stdout.strip())) == ("", 32)
    assert server.api("GET", f"jobs/{r.stdout.strip()}")["exit_code"] == 4
    r = jj(server, "submit", "--json", "--wait", "train.py")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "completed"


def test_options_after_a_notebook_path_are_ours(server):
    r = jj(server, "submit", "params.ipynb", "--wait", "--name", "nb-after", "-p", "alpha=5")
    assert r.returncode == 0, r.stderr
    assert "note:" not in r.stderr
    short = r.stderr.splitlines()[-1].split()[3]
    job = json.loads(jj(server, "show", "--json", short).stdout)
    assert (job["name"], job["parameters"], job["args"], job["status"]) == (
        "nb-after", {"alpha": 5}, [], "completed",
    )  # fmt: skip


def test_a_notebook_takes_no_arguments(server):
    before = len(server.api("GET", "jobs?limit=1000")["jobs"])
    r = jj(server, "submit", "params.ipynb", "extra")
    assert r.returncode == 2
    assert "a notebook takes no arguments (extra): give its parameters with -p" in r.stderr
    r = jj(server, "submit", "params.ipynb", "--", "x")
    assert r.returncode == 2
    assert "a notebook takes no arguments (x)" in r.stderr
    r = jj(server, "submit", "params.ipynb", "--bogus")
    assert r.returncode == 2
    assert "unrecognized arguments after params.ipynb: --bogus" in r.stderr
    r = jj(server, "submit", "params.ipynb", "--wait", "-f")
    assert r.returncode == 2
    assert "give -f/--follow or --wait, not both" in r.stderr
    r = jj(server, "submit", "params.ipynb", "--help")
    assert r.returncode == 0
    assert "jupyter jobs submit [OPTIONS] NOTEBOOK [OPTIONS]" in r.stdout
    assert len(server.api("GET", "jobs?limit=1000")["jobs"]) == before


def test_a_script_gets_options_after_its_path_with_one_note(server):
    r = jj(server, "submit", "-f", "train.py", "--name", "n", "--epochs", "2")
    assert r.returncode == 0, r.stderr
    assert "args ['--name', 'n', '--epochs', '2']" in r.stdout
    notes = [line for line in r.stderr.splitlines() if "note:" in line]
    assert notes == [
        "jupyter jobs: note: --name went to train.py as an argument; options of jupyter jobs go"
        " before the path (jupyter jobs submit [OPTIONS] train.py [ARGS])"
    ]
    r = jj(server, "submit", "-f", "train.py", "--", "--name", "n")  # after --: no note
    assert r.returncode == 0, r.stderr
    assert "args ['--name', 'n']" in r.stdout
    assert "note:" not in r.stderr


def test_help_shows_both_forms(server):
    r = jj(server, "submit", "--help")
    assert r.returncode == 0
    assert "jupyter jobs submit [OPTIONS] SCRIPT [ARGS...]" in r.stdout
    assert "jupyter jobs submit [OPTIONS] NOTEBOOK [OPTIONS]" in r.stdout
    assert "jupyter jobs submit report.ipynb -p alpha=0.5 --wait" in r.stdout


def test_an_absolute_path_picks_the_server_whose_root_holds_it(server, tmp_path):
    other = start_server(tmp_path / "other")  # the newest server: cwd-based discovery picks it
    try:
        env = dict(server.env, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
        for srv in (server, other):  # both runtime files in one runtime dir
            for f in Path(srv.env["JUPYTER_RUNTIME_DIR"]).glob(f"jpserver-{srv.proc.pid}*"):
                (tmp_path / "runtime").mkdir(exist_ok=True)
                shutil.copy(f, tmp_path / "runtime" / f.name)
        script = server.root / "train.py"
        r = jj(server, "submit", "-q", "--wait", str(script), "abs", cwd=tmp_path, env=env)
        assert r.returncode == 0, r.stderr
        job = server.api("GET", f"jobs/{r.stdout.strip()}")  # the first server ran it
        assert (job["path"], job["args"]) == ("train.py", ["abs"])
        r = jj(server, "submit", "-q", str(script), cwd=other.root, env=env)  # from other's root
        assert r.returncode == 0, r.stderr
        assert server.api("GET", f"jobs/{r.stdout.strip()}")["path"] == "train.py"
        outside = tmp_path / "nowhere.py"
        outside.write_text("print(1)\n")
        r = jj(server, "submit", str(outside), cwd=tmp_path, env=env)
        assert r.returncode == 2
        assert f"no running Jupyter server serves {outside.resolve()}." in r.stderr
        assert f"--notebook-dir={tmp_path.resolve()}`" in r.stderr
        assert str(server.root) not in r.stderr and str(other.root) not in r.stderr
        # a command about jobs outside both roots: which of the two is meant cannot be told
        r = jj(server, "list", cwd=tmp_path, env=env)
        assert r.returncode == 2
        assert "2 servers run, none of them for this directory" in r.stderr
        assert str(server.root) not in r.stderr and str(other.root) not in r.stderr
    finally:
        stop_server(other)


def test_submit_command_after_double_dash_runs_in_the_current_directory(server):
    job_id = submit_id(
        server, "--name", "where", "--", sys.executable, "-c", "import os; print(os.getcwd())",
        cwd=server.root / "sub",
    )  # fmt: skip
    job = server.wait_final(job_id)
    assert job["name"] == "where"
    assert job["kind"] == "command"
    r = jj(server, "logs", job_id)
    assert r.stdout.strip() == str((server.root / "sub").resolve())


def test_submit_notebook_injects_typed_parameters(server):
    r = jj(server, "submit", "--json", "-p", "alpha=21", "-p", "name=world", "params.ipynb")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["kind"] == "notebook"
    assert job["parameters"] == {"alpha": 21, "name": "world"}
    job = server.wait_final(job["id"])
    assert job["status"] == "completed", jj(server, "logs", job["id"]).stdout
    executed = nbformat.read(server.root / job["outputs"][0], as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "result 42 world int" in printed


def test_path_outside_the_root_is_refused_before_anything_is_sent(server):
    outside = server.base / "outside.py"
    outside.write_text("print('no')\n")
    before = len(server.api("GET", "jobs?limit=1000")["jobs"])
    r = jj(server, "submit", str(outside))
    assert r.returncode == 1
    assert "outside the Jupyter server's root directory" in r.stderr
    r = jj(server, "submit", "../outside.py")
    assert r.returncode == 1
    assert "outside" in r.stderr
    assert len(server.api("GET", "jobs?limit=1000")["jobs"]) == before


def test_bad_input_shows_the_server_message(server):
    r = jj(server, "submit", "--memory", "lots", "train.py")
    assert r.returncode == 1
    assert r.stderr == "jupyter jobs: error: Memory: 'lots' is not a size (try 4G or 512M)\n"
    r = jj(server, "submit", "--time", "soon", "train.py")
    assert "error: Time limit: 'soon' is not a duration" in r.stderr
    r = jj(server, "submit", "missing.py")
    assert r.returncode == 1
    assert "missing.py" in r.stderr
    assert "Traceback" not in r.stderr


def test_messages_use_the_cli_syntax(server):
    (server.root / "data.csv").write_text("a,b\n")
    r = jj(server, "submit", "data.csv")
    assert r.returncode == 1
    assert "(run anything else as a command: jupyter jobs submit [OPTIONS] -- CMD ARGS)" in r.stderr
    r = jj(server, "submit", "-p", "alpha=1", "train.py")
    assert r.returncode == 1
    assert (
        "Parameters are for notebooks; give a script its arguments after its path, a command"
        " after --" in r.stderr
    )
    for text in (r.stderr, jj(server, "submit", "data.csv").stderr):
        assert "argv" not in text and "'command'" not in text and "'args'" not in text


def test_submit_without_path_or_command_is_a_usage_error(server):
    r = jj(server, "submit")
    assert r.returncode == 2
    assert "give a PATH" in r.stderr
    r = jj(server, "list", "--", "x")
    assert r.returncode == 2


# ------------------------------------------------------------------- list / show / logs


def test_list_shows_a_table_and_filters_by_status(server):
    ok = submit_id(server, "train.py")
    bad = submit_id(server, "--env", "EXIT_CODE=4", "train.py")
    server.wait_final(ok), server.wait_final(bad)
    r = jj(server, "list")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert ok[:8] in r.stdout and bad[:8] in r.stdout
    r = jj(server, "list", "--status", "failed", "--json")
    jobs = json.loads(r.stdout)
    assert bad in [j["id"] for j in jobs]
    assert {j["status"] for j in jobs} == {"failed"}
    r = jj(server, "list", "-n", "1", "--json")
    assert len(json.loads(r.stdout)) == 1


def test_show_accepts_a_unique_id_prefix(server):
    job_id = submit_id(server, "--env", "EXIT_CODE=5", "train.py", "x")
    server.wait_final(job_id)
    r = jj(server, "show", job_id[:8])
    assert r.returncode == 0, r.stderr
    assert "id:" in r.stdout and job_id in r.stdout
    assert "exit code:" in r.stdout and "5" in r.stdout
    r = jj(server, "show", "--json", job_id[:6])
    assert json.loads(r.stdout)["args"] == ["x"]
    r = jj(server, "show", "zzzz")
    assert r.returncode == 1
    assert "no job 'zzzz'" in r.stderr


def test_show_names_fields_and_units_as_people_do(server):
    job_id = submit_id(
        server, "--cpus", "1", "--memory", "1G", "--time", "00:10:00", "--env", "GREETING=hi",
        "train.py", "x",
    )  # fmt: skip
    server.wait_final(job_id)
    lines = dict(line.split(": ", 1) for line in jj(server, "show", job_id).stdout.splitlines())
    assert lines["arguments"].strip() == "x"
    assert lines["environment"].strip() == "GREETING=hi"
    assert set(lines["resources"].strip().split(", ")) == {
        "CPUs 1", "Memory 1G", "Time limit 00:10:00",
    }  # fmt: skip
    assert not {"args", "cwd", "env", "backend ref"} & {k.strip() for k in lines}


def test_logs_prints_the_whole_log(server):
    job_id = submit_id(server, "train.py", "a")
    server.wait_final(job_id)
    r = jj(server, "logs", job_id)
    assert r.returncode == 0
    assert r.stdout.startswith("args ['a']\n")


@pytest.mark.parametrize("transport", ["websocket", "poll"])
def test_logs_follow_streams_while_the_job_runs(server, transport):
    release = server.base / f"release-{transport}"
    job_id = submit_id(server, "block.py", str(release))
    env = dict(server.env)
    if transport == "poll":
        env["JUPYTER_JOBS_FOLLOW"] = "poll"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_jobs.cli", "logs", "-f", job_id[:8]],
        cwd=server.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout.readline() == "started\n"  # arrives while the job still waits
        assert proc.poll() is None
        assert server.api("GET", f"jobs/{job_id}")["status"] == "running"
        release.touch()
        rest, err = proc.communicate(timeout=120)
    finally:
        release.touch()
        proc.kill()
    assert proc.returncode == 0, err
    assert rest == "released\n"


def test_logs_follow_survives_a_server_restart(tmp_path):
    """The job outlives the server; so does a follower: it reconnects and reads the rest."""
    srv = start_server(tmp_path)
    release = tmp_path / "release-restart"
    job_id = submit_id(srv, "block.py", str(release))
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_jobs.cli", "logs", "-f", job_id],
        cwd=srv.root, env=srv.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout.readline() == "started\n"
        stop_server(srv, cancel_jobs=False)
        srv = start_server(
            tmp_path, port=int(srv.url.rsplit(":", 1)[1].strip("/")), token=srv.token
        )
        assert proc.poll() is None  # still following, across the restart
        release.touch()
        rest, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert rest == "released\n"
    finally:
        release.touch()
        proc.kill()
        stop_server(srv)


def slurm_conf() -> str | None:
    """The running one-node cluster's slurm.conf (``scripts/slurm-up.sh``), or None."""
    base = os.environ.get("JUPYTER_JOBS_SLURM_BASE")
    conf = os.environ.get("SLURM_CONF") or (base and os.path.join(base, "etc", "slurm.conf"))
    if not conf or not os.path.isfile(conf) or shutil.which("scontrol") is None:
        return None
    env = {**os.environ, "SLURM_CONF": conf}
    r = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, env=env, timeout=30)
    return conf if " is UP" in r.stdout else None


@pytest.mark.slurm
def test_submit_to_slurm_follow_and_cancel(tmp_path, monkeypatch):
    conf = slurm_conf()
    if conf is None:
        pytest.skip("no SLURM cluster: scripts/slurm-up.sh BASE; JUPYTER_JOBS_SLURM_BASE=BASE")
    monkeypatch.setenv("SLURM_CONF", conf)  # the server subprocess inherits it via base_env
    srv = start_server(
        tmp_path,
        extra_config={
            "JobManager": {"enabled_backends": ["local", "slurm"], "cancel_grace_period": 2.0},
            "SlurmSpawner": {"poll_interval": 0.5},
        },
    )
    try:
        r = jj(srv, "submit", "--backend", "slurm", "--cpus", "1", "--time", "00:05:00",
               "-f", "train.py", "on-slurm")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert "args ['on-slurm']" in r.stdout
        job_id = submit_id(srv, "--backend", "slurm", "block.py", str(tmp_path / "never"))
        jobs = json.loads(jj(srv, "list", "--backend", "slurm", "--json").stdout)
        assert job_id in [j["id"] for j in jobs] and {j["backend"] for j in jobs} == {"slurm"}
        assert jj(srv, "cancel", job_id[:8]).returncode == 0
        assert srv.wait_final(job_id)["status"] == "cancelled"
    finally:
        stop_server(srv)


# --------------------------------------------------------------- cancel / rerun / rm


def test_cancel_stops_a_running_job(server):
    job_id = submit_id(server, "block.py", str(server.base / "never"))
    r = jj(server, "cancel", job_id[:8])
    assert r.returncode == 0, r.stderr
    assert server.wait_final(job_id)["status"] == "cancelled"
    r = jj(server, "cancel", job_id)
    assert r.returncode == 0
    assert "already cancelled" in r.stdout


def test_rerun_runs_the_same_job_again_as_a_new_job(server):
    job_id = submit_id(server, "--env", "EXIT_CODE=6", "train.py", "again")
    server.wait_final(job_id)
    r = jj(server, "rerun", "-q", "--wait", job_id[:8])
    assert r.returncode == 6, r.stderr
    new_id = r.stdout.strip()
    new = json.loads(jj(server, "show", "--json", new_id).stdout)
    assert new["id"] != job_id
    assert new["args"] == ["again"] and new["exit_code"] == 6


def test_rm_deletes_a_finished_job_and_refuses_an_active_one(server):
    release = server.base / "release-rm"
    active = submit_id(server, "block.py", str(release))
    deadline = time.monotonic() + 60
    while server.api("GET", f"jobs/{active}")["status"] != "running":  # it waits for `release`
        assert time.monotonic() < deadline
        time.sleep(0.1)
    r = jj(server, "rm", active)
    assert r.returncode == 1
    short = active[:8]
    assert r.stderr == (
        f"jupyter jobs: job {short} is running: cancel it first (jupyter jobs cancel {short})\n"
    )
    release.touch()
    server.wait_final(active)
    r = jj(server, "rm", active[:8])
    assert r.returncode == 0, r.stderr
    assert jj(server, "show", active).returncode == 1


def test_backends_lists_the_local_backend_as_default(server):
    r = jj(server, "backends")
    assert r.returncode == 0, r.stderr
    assert any(line.startswith("local *") for line in r.stdout.splitlines())
    data = json.loads(jj(server, "backends", "--json").stdout)
    assert data["default_backend"] == "local"


def test_kernelspec_is_handed_to_the_kernels_module(server):
    r = jj(server, "kernelspec", "--help")
    try:
        import jupyter_jobs.kernels.cli  # noqa: F401
    except ModuleNotFoundError:
        assert r.returncode == 2
        assert "kernelspec" in r.stderr and "not available" in r.stderr
    else:
        assert "usage" in (r.stdout + r.stderr).lower()


@pytest.mark.skipif(shutil.which("jupyter-jobs") is None, reason="package not installed")
def test_jupyter_jobs_subcommand_runs_the_cli(server):
    r = subprocess.run(
        ["jupyter", "jobs", "list", "--json"], cwd=server.root, env=server.env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert isinstance(json.loads(r.stdout), list)
