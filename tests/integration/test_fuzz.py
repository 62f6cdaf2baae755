"""Property-based fuzzing of the REST API from its served OpenAPI document (issue 10).

schemathesis reads ``jupyter-jobs/api/openapi.json`` from a live server (benchmarks/_server.py) and
runs all its phases — examples, coverage, fuzzing and stateful (links inferred from ``Location`` and
ids) — with every check on: no 5xx, every status code, content type, header and body as documented,
schema-invalid requests refused, schema-valid ones accepted, 405 with ``Allow`` for other methods,
authentication not ignored, deleted jobs gone. The run is bounded by the number of examples per
operation (``JUPYTER_JOBS_FUZZ_EXAMPLES``, default 30: about 1,700 requests for the 30-odd operations
in 80-150 s on two cores, one schemathesis worker) and seeded (``JUPYTER_JOBS_FUZZ_SEED``) so a
failure can be replayed. Its time is printed, never asserted (a loaded machine is slower, not wrong);
a run that hangs is killed after ``HANG_AFTER`` seconds.

Two settings, both in ``FUZZ_CONFIG`` with the reason:

- ``createJob`` and ``rerunJob`` may answer 400 to a request the document allows: which backends,
  profiles, files and resource values a server accepts is its configuration, not the document's.
- ``followJobLog`` is a websocket: an HTTP fuzzer cannot speak it. Its HTTP refusals are tested
  in test_openapi.py and test_hostile_input.py.

Fuzzed job submissions really run: the root holds only ``hello.py`` (it prints), at most two jobs
run at once, and every job still active at the end is cancelled; no job process may outlive the test.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time

import psutil
import pytest

from benchmarks._server import ServerProcess, request

API = "jupyter-jobs/api"
FINAL = ("completed", "failed", "cancelled", "lost")
EXAMPLES = int(os.environ.get("JUPYTER_JOBS_FUZZ_EXAMPLES", "30"))
SEED = int(os.environ.get("JUPYTER_JOBS_FUZZ_SEED", "20261201"))
#: a fuzz run still going after this long has hung (it is killed and the test fails)
HANG_AFTER = 600.0
FUZZ_CONFIG = """\
# which backends, profiles, files and resource values fit is the server's configuration, not the
# document's: a request the document allows may still be a 400 there (with the field at fault)
[[operations]]
include-operation-id = ["createJob", "rerunJob"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "404", "409"]

# the same for job definitions (their job fields are a job request; a schedule the document
# allows may name a minute 61), and a change based on an old revision is a 409
[[operations]]
include-operation-id = ["createJobDefinition", "updateJobDefinition", "runJobDefinition"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "404", "409"]

# any text of at most 200 characters is a schedule to the document; cron says which are
[[operations]]
include-operation-id = "previewSchedule"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403"]

# the job definitions' operations (issue 12) within the stage's bound: fewer random examples
# each, and no coverage phase for their two big bodies (the boundary cases of ~20 fields each took
# 40-60 s on a busy VM, as long as every other operation together; the job fields are createJob's,
# covered there, and the schedule fields' refusals are test_definitions.py's; random fuzzing of
# both stays on)
[[operations]]
include-operation-id = ["listJobDefinitions", "createJobDefinition", "getJobDefinition", "updateJobDefinition", "deleteJobDefinition", "runJobDefinition", "previewSchedule"]
generation.max-examples = 10

[[operations]]
include-operation-id = ["createJobDefinition", "updateJobDefinition"]
phases.coverage.enabled = false

# a websocket: an HTTP fuzzer cannot open it (its HTTP refusals are tested by hand)
[[operations]]
include-operation-id = "followJobLog"
enabled = false
"""


def schemathesis_cli() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    if sys.version_info < (3, 11):
        pytest.skip("schemathesis needs Python 3.11")
    assert os.path.exists(exe), "schemathesis is missing: pip install -e '.[test]'"
    return [exe]


async def cancel_everything(server: ServerProcess) -> list[dict]:
    """Cancel every job still active; wait until all are final. Returns all jobs."""
    deadline = time.monotonic() + 60
    while True:
        _, page, _ = await request(server, "GET", f"{API}/jobs?limit=1000", expect=200)
        active = [j for j in page["jobs"] if j["status"] not in FINAL]
        if not active:
            return page["jobs"]
        for job in active:
            if job["status"] != "cancelling":
                await request(server, "POST", f"{API}/jobs/{job['id']}/cancel")
        assert time.monotonic() < deadline, [(j["id"], j["status"]) for j in active]
        await asyncio.sleep(0.5)


async def delete_definitions(server: ServerProcess) -> None:
    """Delete every job definition the fuzzer saved (they fire runs on their schedules)."""
    _, page, _ = await request(server, "GET", f"{API}/job-definitions", expect=200)
    for definition in page["definitions"]:
        await request(server, "DELETE", f"{API}/job-definitions/{definition['id']}")


def job_processes(job_root: str) -> list[psutil.Process]:
    """Processes started for jobs of this server: runners are given their job's folder."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            environ = proc.info["environ"] or {}
        except (psutil.Error, TypeError):
            continue
        if job_root in cmdline or environ.get("JUPYTER_JOBS_DIR", "").startswith(job_root):
            found.append(proc)
    return found


@pytest.mark.slow
async def test_fuzzing_from_the_openapi_document_finds_nothing(tmp_path):
    workdir, fuzzer = tmp_path / "server", tmp_path / "fuzzer"
    root = workdir / "root"
    root.mkdir(parents=True)
    fuzzer.mkdir()
    (root / "hello.py").write_text("print('hello')\n")
    config = {
        "LocalSpawner": {"max_concurrent": 2, "poll_interval": 0.5},
        # a fuzzed grid is a sweep of up to 4 runs here (a larger one is a 400): the product of
        # generated lists would otherwise start thousands of real runs
        "JobManager": {"cancel_grace_period": 1.0, "max_sweep_children": 4},
    }
    server = ServerProcess(workdir=str(workdir), config=config).start()
    (fuzzer / "schemathesis.toml").write_text(FUZZ_CONFIG)
    argv = [
        *schemathesis_cli(),
        "--config-file",
        str(fuzzer / "schemathesis.toml"),
        "run",
        server.http_url(f"{API}/openapi.json"),
        "--url",
        server.http_url(API),
        "--header",
        f"Authorization: token {server.token}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        # one worker: hypothesis describes strategies with ast.parse, which CPython 3.11 does not
        # make safe across threads ("AST constructor recursion depth mismatch" with two)
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--continue-on-failure",
        "--no-color",
        "--request-timeout",
        "30",
    ]
    out = fuzzer / "schemathesis.txt"
    t0 = time.monotonic()
    try:
        with open(out, "w") as f:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=f, stderr=subprocess.STDOUT, cwd=str(fuzzer)
            )
            try:
                rc = await asyncio.wait_for(proc.wait(), HANG_AFTER)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
                raise
        elapsed = time.monotonic() - t0
        await delete_definitions(server)  # none fires while the jobs are cancelled
        jobs = await cancel_everything(server)
    finally:
        server._terminate()
    report = out.read_text(errors="replace")
    summary = re.search(r"(\d+) generated, .*", report)
    links = re.search(r"API Links: .*", report)
    print(
        f"schemathesis: {summary.group(0) if summary else '?'} in {elapsed:.0f} s;"
        f" stateful {links.group(0) if links else '?'}; {len(jobs)} jobs"
    )
    assert rc == 0, report[-8000:]
    assert summary and int(summary.group(1)) > 0, report[-3000:]

    log = open(server.log_path, encoding="utf-8", errors="replace").read()
    assert "Traceback" not in log, log[log.index("Traceback") - 2000 :][:6000]
    assert not re.search(r"\b5\d\d (GET|POST|DELETE|PUT|PATCH)\b", log), "a 5xx in the log"

    deadline = time.monotonic() + 15
    while (left := job_processes(server.job_root)) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    assert not left, [(p.pid, p.info["cmdline"]) for p in left]
    # nothing written but the server's own files, and in the root only the executed-notebook folder
    assert set(os.listdir(workdir)) <= {
        "root",
        "job-root",
        "config",
        "data",
        "runtime",
        "server.log",
    }
    assert set(os.listdir(root)) <= {"hello.py", "job-outputs"}
    assert all(j["status"] in FINAL for j in jobs)  # and every job the fuzzer made is final
