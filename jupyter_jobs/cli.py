"""``jupyter jobs``: submit, list, follow and manage jobs of the running Jupyter server.

    jupyter jobs submit --cpus 2 train.py --epochs 3  # a script: what follows it is its arguments
    jupyter jobs submit analysis.ipynb -p lr=0.01 -f  # a notebook takes none: options anywhere
    jupyter jobs submit --cpus 4 -- make -j4          # a command, after --
    jupyter jobs list | show ID | logs [-f] ID | cancel ID | rerun ID | rm ID | backends
    jupyter jobs schedule --cron "0 6 * * 1-5" --tz Europe/Berlin report.ipynb  # a definition
    jupyter jobs definitions | definition show|pause|resume|run|runs|rm DEF-ID

IDs may be shortened to any unique prefix (``list`` shows 8 characters). Exit codes: 0 success,
1 an error answered by the server, 2 no server found / bad usage; ``submit --wait``/``-f`` exit with
the job's own exit code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
from datetime import datetime
from typing import Any

from . import client as client_module
from .client import FINAL_STATUSES, Job, JobsClient, JobsClientError, ServerNotFound
from .units import format_bytes, format_duration
from .wire import label

PROG = "jupyter jobs"


# ----------------------------------------------------------------------------- formatting


def _local_time(iso: str | None) -> str:
    if not iso:
        return "-"
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S")


#: an estimate further ahead is no estimate: SLURM puts a job that waits behind one without a
#: time limit about a year ahead (the UI's labels.MAX_EXPECTED_START_DAYS)
MAX_EXPECTED_START_DAYS = 300


def _expected_start(job: dict[str, Any]) -> str | None:
    """When a queued job is expected to start: its local time, "unknown" when the engine has no
    sensible estimate, None for a job that is not queued."""
    if job.get("status") != "queued":
        return None
    iso = job.get("expected_start")
    try:
        dt = datetime.fromisoformat(str(iso).replace("Z", "+00:00")) if iso else None
    except ValueError:
        dt = None
    if dt is None or (dt - datetime.now(dt.tzinfo)).days > MAX_EXPECTED_START_DAYS:
        return "unknown" if job.get("backend") == "slurm" else None
    return _local_time(iso)


def _elapsed(job: dict[str, Any]) -> str:
    start = job.get("started_at")
    if not start:
        return "-"
    try:
        t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
        end = job.get("finished_at")
        t1 = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else None
    except ValueError:
        return "-"
    return format_duration(((t1 or datetime.now(t0.tzinfo)) - t0).total_seconds())


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]
    ]
    return "\n".join(lines)


def _status_text(job: dict[str, Any]) -> str:
    status = str(job.get("status"))
    progress = job.get("progress") or {}
    if status == "running" and progress.get("fraction") is not None:
        status += f" {int(float(progress['fraction']) * 100)}%"
    return status


def _progress_text(progress: dict[str, Any]) -> str:
    fraction = progress.get("fraction")
    percent = "" if fraction is None else f"{float(fraction) * 100:.0f}%"
    return f"{percent} {progress.get('message') or ''}".strip()


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def efficiency_lines(eff: dict[str, Any] | None) -> list[tuple[str, str]]:
    """``show``: the ended job's efficiency summary (the job JSON's ``efficiency``) as lines."""
    if not eff:
        return []
    out: list[tuple[str, str]] = []
    cpu, memory, spent = eff.get("cpu") or {}, eff.get("memory") or {}, eff.get("time") or {}
    used = cpu.get("used_core_seconds")
    used_text = "" if used is None else f"{used:.1f}" if used < 10 else f"{used:.0f}"
    if "ratio" in cpu:
        out.append(
            (
                "CPU efficiency",
                f"{cpu['ratio'] * 100:.1f}% ({used_text} CPU-seconds of"
                f" {cpu['cores']} CPU{'s' if cpu['cores'] != 1 else ''}"
                f" for {format_duration(cpu['wall_seconds'])})",
            )
        )
    elif "used_core_seconds" in cpu:
        out.append(("CPU time", f"{used_text} CPU-seconds"))
    if "peak_bytes" in memory:
        text = format_bytes(memory["peak_bytes"])
        if "requested_bytes" in memory:
            text += f" of {format_bytes(memory['requested_bytes'])} ({memory['ratio'] * 100:.1f}%)"
        out.append(("memory", text))
    if "used_seconds" in spent:
        text = format_duration(spent["used_seconds"])
        if "limit_seconds" in spent:
            text += f" of {format_duration(spent['limit_seconds'])} ({spent['ratio'] * 100:.1f}%)"
        out.append(("time", text))
    out += [("hint", hint) for hint in eff.get("hints") or []]
    return out


#: what the engine calls a job's id (the run dialog's words)
_ENGINE_ID = {"slurm": "SLURM job", "kubernetes": "pod", "local": "process"}


def _resources_text(resources: dict[str, Any]) -> str:
    """``CPUs 2, Memory 4G, Time limit 01:00:00``: labels and units as the run dialog shows them."""
    shown = []
    for key, value in resources.items():
        if key == "memory" and isinstance(value, int):
            value = format_bytes(value)
        elif key == "time_limit" and isinstance(value, (int, float)):
            value = format_duration(value)
        elif isinstance(value, dict):
            value = json.dumps(value)
        shown.append(f"{label('resources.' + key)} {value}")
    return ", ".join(shown)


def _describe(job: dict[str, Any]) -> str:
    """``show``: the job as ``key: value`` lines, the empty ones left out."""
    resources = job.get("resources") or {}
    progress = job.get("progress") or {}
    fields = [
        ("id", job.get("id")),
        ("name", job.get("name")),
        ("kind", job.get("kind")),
        ("path", job.get("path")),
        ("command", " ".join(job.get("command") or [])),
        ("arguments", " ".join(job.get("args") or [])),
        ("working directory", job.get("cwd")),
        ("parameters", json.dumps(job["parameters"]) if job.get("parameters") else None),
        ("environment", " ".join(f"{k}={v}" for k, v in (job.get("env") or {}).items())),
        ("backend", f"{job.get('backend')} (profile {job.get('profile')})"),
        ("resources", _resources_text(resources)),
        ("status", job.get("status")),
        ("reason", job.get("reason")),
        (
            "waits for",
            f"{', '.join(i[:8] for i in job['after'])} (start when: {job.get('when') or 'ok'})"
            if job.get("after")
            else None,
        ),
        ("exit code", job.get("exit_code")),
        ("progress", _progress_text(progress)),
        ("host", job.get("host")),
        (_ENGINE_ID.get(str(job.get("backend")), "engine id"), job.get("backend_ref")),
        ("created", _local_time(job.get("created_at"))),
        ("started", _local_time(job.get("started_at")) if job.get("started_at") else None),
        ("finished", _local_time(job.get("finished_at")) if job.get("finished_at") else None),
        ("expected start", _expected_start(job)),
        ("duration", _elapsed(job)),
        ("log size", f"{job.get('log_size', 0)} bytes"),
        ("outputs", "\n  ".join(job.get("outputs") or [])),
        *efficiency_lines(job.get("efficiency")),
    ]
    if not progress:
        fields = [f for f in fields if f[0] != "progress"]
    shown = [(k, v) for k, v in fields if v not in (None, "", "-")]
    width = max(len(k) for k, _ in shown)
    return "\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in shown)


# -------------------------------------------------------------------------------- parsing


def _key_value(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{what} must be KEY=VALUE, not {text!r}")
    return key, value


def _parameter(text: str) -> tuple[str, Any]:
    """``-p key=value``: the value is JSON when it parses (numbers, true, lists), else a string."""
    key, value = _key_value(text, "a parameter")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _env(text: str) -> tuple[str, str]:
    return _key_value(text, "--env")


def _resource(text: str) -> tuple[str, Any]:
    """``-r partition=gpu``: a string (the server checks it); ``extra`` takes a JSON object."""
    key, value = _key_value(text, "a resource")
    if key == "extra":
        try:
            return key, json.loads(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"extra must be a JSON object, not {value!r}")
    return key, value


def _grid(text: str) -> tuple[str, list[Any]]:
    """``--grid alpha=0.1,0.5,1`` (JSON values, else strings) or ``seed=0:3`` (0, 1, 2, 3: both
    ends included, as SLURM's ``--array=0-3``) or ``seed=0:10:2`` (with a step)."""
    key, value = _key_value(text, "a grid")
    parts = value.split(":")
    if len(parts) in (2, 3) and all(re.fullmatch(r"-?[0-9]+", p.strip()) for p in parts):
        start, stop = int(parts[0]), int(parts[1])
        step = int(parts[2]) if len(parts) == 3 else 1
        if step <= 0 or stop < start:
            raise argparse.ArgumentTypeError(
                f"{key}: {value!r} is not a range (START:STOP or START:STOP:STEP, STOP >= START)"
            )
        if (stop - start) // step >= 100_000:
            raise argparse.ArgumentTypeError(f"{key}: {value!r} has too many values")
        return key, list(range(start, stop + 1, step))
    values: list[Any] = []
    for item in value.split(","):
        try:
            values.append(json.loads(item))
        except ValueError:
            values.append(item)
    return key, values


SUBMIT_USAGE = """\
jupyter jobs submit [OPTIONS] SCRIPT [ARGS...]     what follows SCRIPT is its arguments
       jupyter jobs submit [OPTIONS] NOTEBOOK [OPTIONS]   a notebook takes no arguments
       jupyter jobs submit [OPTIONS] -- CMD [ARGS...]     a command (no shell)"""
SUBMIT_DESCRIPTION = """\
Submit a script (.py, .sh, .R), a notebook (.ipynb) or a command to the running Jupyter server.

As with sbatch, everything after a script's path is passed to the script: put the options of
jupyter jobs before the path. A notebook takes no arguments, so options after its path are
jupyter jobs options too (give notebook parameters with -p NAME=VALUE)."""
SUBMIT_EXAMPLES = """\
examples:
  jupyter jobs submit --cpus 2 --wait train.py --epochs 3   # train.py gets --epochs 3
  jupyter jobs submit train.py -- --name x                  # train.py gets --name x
  jupyter jobs submit report.ipynb -p alpha=0.5 --wait      # options after a notebook
  jupyter jobs submit --memory 4G -- make -j4 all           # a command"""


def _add_submit_options(p: argparse.ArgumentParser) -> None:
    """The options of ``submit`` (shared by the options after a notebook's path)."""
    p.add_argument(
        "-p",
        "--param",
        dest="params",
        action="append",
        type=_parameter,
        default=[],
        metavar="KEY=VALUE",
        help="notebook parameter (JSON value, else string)",
    )
    p.add_argument(
        "--env",
        action="append",
        type=_env,
        default=[],
        metavar="K=V",
        help="environment variable for the job",
    )
    p.add_argument("--name", help="a name for the job (default: the file name)")
    p.add_argument(
        "--kind",
        choices=["script", "notebook", "command"],
        help="how to run PATH (default: from its extension)",
    )
    p.add_argument("--cwd", help="working directory (default: the current directory)")
    p.add_argument("--backend", help="local, slurm, kubernetes, ... (see `backends`)")
    p.add_argument("--profile", help="resource profile of the backend")
    p.add_argument("--cpus", type=int, help="CPUs")
    p.add_argument("--memory", help="memory, e.g. 4G")
    p.add_argument("--gpus", type=int, help="GPUs")
    p.add_argument(
        "--time", dest="time_limit", metavar="LIMIT", help="time limit, seconds or HH:MM:SS"
    )
    p.add_argument(
        "-r",
        "--resource",
        action="append",
        type=_resource,
        default=[],
        metavar="KEY=VALUE",
        help="another resource (partition=gpu, account=...)",
    )
    p.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="follow the log until the job ends; exit with its exit code",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for the job to end; exit with its exit code (status lines on stderr)",
    )
    # dependencies (docs/cli.md, "Jobs that wait for others")
    p.add_argument(
        "--after",
        action="append",
        default=[],
        metavar="ID",
        help="start only after this job (an id or unique prefix) ended; repeat for several",
    )
    p.add_argument(
        "--when",
        choices=["ok", "any", "failed"],
        help="with --after: start when every one completed (ok, the default), ended however"
        " (any), or none completed (failed); otherwise the job ends cancelled",
    )
    # sweeps (docs/cli.md, "Sweeps")
    p.add_argument(
        "--grid",
        action="append",
        type=_grid,
        default=[],
        metavar="NAME=VALUES",
        help="sweep NAME over VALUES: 0.1,0.5,1 (a list) or 0:3 (0 to 3) or 0:10:2; repeat"
        " for a grid (one run per combination)",
    )
    p.add_argument("--throttle", type=int, help="a sweep: the most runs at once")
    p.add_argument(
        "--params-as",
        dest="parameters_as",
        choices=["args", "env"],
        help="a script's sweep: parameters as --NAME VALUE (args, the default) or JJ_PARAM_NAME",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print only the job id")
    p.add_argument(
        "--json", action="store_true", help="print the job as JSON (with --wait: once it ended)"
    )


def _add_report_notify_options(p: argparse.ArgumentParser) -> None:
    """``submit``'s options of issue 12 (docs/cli.md, "Reports, notifications, pinned inputs")."""
    p.add_argument("--html", action="store_true", help="a notebook: also write an HTML report")
    p.add_argument("--no-input", action="store_true", help="the HTML report hides the code")
    p.add_argument(
        "--notify-on", choices=["failure", "always"], help="when to notify (default: failure)"
    )
    p.add_argument("--webhook", metavar="URL", help="POST a JSON message here when the job ends")
    p.add_argument(
        "--email", action="append", default=[], metavar="ADDRESS", help="mail here; repeat"
    )
    p.add_argument(
        "--slurm-mail", action="store_true", help="SLURM: also SLURM's own mail (--mail-type)"
    )
    p.add_argument(
        "--extra-file",
        action="append",
        default=[],
        metavar="PATH",
        help="copy this file with the job's file (pinned with it); repeat",
    )


def _report_notify_fields(a: argparse.Namespace) -> dict[str, Any]:
    """The request fields of :func:`_add_report_notify_options` (only those given)."""
    out: dict[str, Any] = {}
    if a.html:
        out["output_formats"] = ["ipynb", "html"]
    if a.no_input:
        out["report"] = {"no_input": True}
    if a.webhook or a.email or a.notify_on or a.slurm_mail:
        out["notify"] = {
            "on": a.notify_on,
            "email": list(a.email) or None,
            "webhook": a.webhook,
            "slurm_mail": a.slurm_mail or None,
        }
    if a.extra_file:
        out["extra_files"] = list(a.extra_file)
    return out


def _notebook_options(a: argparse.Namespace, tail: list[str], path: str) -> None:
    """Options given after a notebook's path (it takes no arguments): parse them into ``a``."""
    p = argparse.ArgumentParser(prog=f"{PROG} submit", usage=SUBMIT_USAGE, add_help=False)
    _add_submit_options(p)
    if getattr(a, "command", None) == "submit":
        _add_report_notify_options(p)
    more, extra = p.parse_known_args(tail)
    unknown = [x for x in extra if x.startswith("-")]
    if unknown:
        p.error(f"unrecognized arguments after {path}: {' '.join(unknown)}")
    if extra:
        p.error(
            f"a notebook takes no arguments ({' '.join(extra)}): give its parameters with "
            "-p NAME=VALUE"
        )
    for key, value in vars(more).items():
        if value in (None, False, []):
            continue
        current = getattr(a, key)
        setattr(a, key, [*current, *value] if isinstance(current, list) else value)


def _our_options_in(args: list[str]) -> list[str]:
    """The arguments of a script that are spelled like options of ``submit``."""
    ours = set(_submit_option_strings())
    found = []
    for arg in args:
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        if name in ours and name not in found:
            found.append(name)
    return found


def _submit_option_strings() -> list[str]:
    p = argparse.ArgumentParser(add_help=False)
    _add_submit_options(p)
    _add_report_notify_options(p)
    return [s for action in p._actions for s in action.option_strings]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Background and launcher jobs of the running Jupyter server.",
        epilog="Options of `submit` go before a script's path (what follows it is the script's "
        "arguments) and anywhere for a notebook: see `jupyter jobs submit --help`. Job IDs may be "
        "shortened to a unique prefix. `jupyter jobs kernelspec ...` manages kernel specs for "
        "remote kernels.",
    )
    parser.add_argument("--url", help="server URL (default: $JUPYTER_JOBS_URL, else discovery)")
    parser.add_argument("--token", help="server token (default: $JUPYTER_JOBS_TOKEN)")
    parser.add_argument(
        "--root-dir", help="the server's root directory, to map local paths with --url"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "submit",
        help="submit a script, notebook or command",
        usage=SUBMIT_USAGE,
        description=SUBMIT_DESCRIPTION,
        epilog=SUBMIT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_submit_options(p)
    _add_report_notify_options(p)
    p.add_argument("path", nargs="?", metavar="PATH", help="script or notebook")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments for a script")

    p = sub.add_parser("list", aliases=["ls"], help="list jobs, newest first")
    p.add_argument(
        "-s", "--status", help="only jobs in these statuses (comma-separated: running,queued)"
    )
    p.add_argument("--backend", help="only jobs of this backend")
    p.add_argument("-n", "--limit", type=int, default=50, help="at most N jobs (default 50)")
    p.add_argument("-a", "--all", action="store_true", help="all jobs, no limit")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("show", help="show one job")
    p.add_argument("id", metavar="ID")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("logs", aliases=["log"], help="print a job's log")
    p.add_argument("id", metavar="ID")
    p.add_argument("-f", "--follow", action="store_true", help="follow until the job ends")

    p = sub.add_parser("cancel", help="cancel jobs")
    p.add_argument("ids", nargs="+", metavar="ID")

    p = sub.add_parser("rerun", help="run a job again, as a new job")
    p.add_argument("id", metavar="ID")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("-f", "--follow", action="store_true", help="follow the new job's log")
    mode.add_argument("--wait", action="store_true", help="wait for the new job to end")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the new job id")
    p.add_argument(
        "--current",
        action="store_true",
        help="run the file as it is now (default: the pinned copy the job ran)",
    )

    p = sub.add_parser("rm", aliases=["delete"], help="delete finished jobs and their files")
    p.add_argument("ids", nargs="+", metavar="ID")

    p = sub.add_parser("backends", help="list the backends and their profiles")
    p.add_argument("--json", action="store_true", help="print JSON")

    # -- results (issue 13): what runs recorded with jupyter_jobs.record(...)
    p = sub.add_parser(
        "results",
        help="show what a run (or each run of a sweep) recorded",
        description="The results table of a job: its id, status, duration, parameters and the"
        " values it recorded with jupyter_jobs.record(name=value, ...); a sweep has one row per"
        " run. A running job shows what it recorded so far.",
    )
    p.add_argument("id", metavar="ID")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="print CSV (full ids, no alignment)")
    fmt.add_argument(
        "--json", action="store_true", help='print JSON: {"columns": [...], "rows": [...]}'
    )

    _add_definition_parsers(sub)

    sub.add_parser("kernelspec", help="manage kernel specs for remote kernels", add_help=False)
    return parser


def _split_command(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``submit [OPTIONS] -- CMD ...``: the part before the first ``--``, and the command."""
    if "--" not in argv:
        return argv, None
    i = argv.index("--")
    return argv[:i], argv[i + 1 :]


#: where a server message (neutral, as the run dialog shows it) names something the CLI spells
#: its own way: field → (the server's words, the CLI's words)
_CLI_SYNTAX = {
    "path": (
        "(run anything else as a command)",
        f"(run anything else as a command: {PROG} submit [OPTIONS] -- CMD ARGS)",
    ),
    "args": ("give it parameters instead", "give it parameters with -p NAME=VALUE"),
    "parameters": (
        "give a script or command arguments instead",
        "give a script its arguments after its path, a command after --",
    ),
}


def _in_cli_words(e: JobsClientError) -> str:
    words = _CLI_SYNTAX.get(e.field or "")
    return e.message.replace(*words) if words else e.message


# ------------------------------------------------------------------------------- commands


def _wait_or_follow(job: Job, follow: bool, quiet: bool = False) -> int:
    """Follow the log or wait; the job's exit code (1 when it ended without one).

    The final status goes to stderr as one line (``jupyter jobs: job 1a2b3c4d completed (exit
    code 0)``), unless ``quiet``.
    """
    try:
        if follow:
            for text in job.follow():
                sys.stdout.write(text)
                sys.stdout.flush()
        job.wait()
    except KeyboardInterrupt:
        print(
            f"\n{PROG}: stopped {'following' if follow else 'waiting'}; job {job.id[:8]} keeps running "
            f"(`{PROG} cancel {job.id[:8]}` stops it)",
            file=sys.stderr,
        )
        return 130
    status, code = job.data["status"], job.data.get("exit_code")
    if not quiet:
        exit_text = "" if code is None else f" (exit code {code})"
        reason = f": {job.reason}" if job.reason and job.reason not in exit_text else ""
        print(f"{PROG}: job {job.id[:8]} {status}{exit_text}{reason}", file=sys.stderr)
    if code is not None:
        return int(code)
    return 0 if status == "completed" else 1


def _announce(job: Job, quiet: bool, waits: bool, verb: str = "submitted") -> None:
    """The job id alone (``-q``), or a line for people: on stderr when the command waits for the
    job (``-f``: stdout is the log; ``--wait``: stdout stays empty), else on stdout with how to
    follow it."""
    if quiet:
        print(job.id, flush=True)
        return
    d = job.data
    line = f"{verb} job {job.id[:8]} {d.get('name')!r} on {d.get('backend')}: {d.get('status')}"
    if waits:
        print(f"{PROG}: {line}", file=sys.stderr, flush=True)
    else:
        print(f"{line}\n  follow: {PROG} logs -f {job.id[:8]}")


def _is_notebook(a: argparse.Namespace) -> bool:
    return a.kind == "notebook" or (a.kind is None and a.path.lower().endswith(".ipynb"))


def _note_options_passed_on(path: str, args: list[str]) -> None:
    """One line on stderr when a script's arguments are spelled like our own options."""
    ours = _our_options_in(args)
    if ours:
        went = f"{', '.join(ours)} went to {path} as " + (
            "its arguments" if ours[1:] else "an argument"
        )
        print(
            f"{PROG}: note: {went}; options of {PROG} go before the path"
            f" ({PROG} submit [OPTIONS] {path} [ARGS])",
            file=sys.stderr,
        )


def _job_fields(a: argparse.Namespace, command: list[str] | None) -> dict[str, Any]:
    """The keyword arguments ``submit``, ``sweep`` and ``schedule`` take alike, from the options
    of ``submit`` / ``schedule``: the command, its arguments, env, name, backend, resources."""
    args = list(a.args)
    if command is not None and a.path is not None:
        args += command  # `submit train.py -- --flag`: the part after -- is for the script
        command = None
    resources: dict[str, Any] = dict(a.resource)
    for key in ("cpus", "memory", "gpus", "time_limit"):
        if getattr(a, key) is not None:
            resources[key] = getattr(a, key)
    return dict(
        command=command,
        args=args,
        env=dict(a.env) or None,
        name=a.name,
        backend=a.backend,
        profile=a.profile,
        resources=resources or None,
        parameters=dict(a.params) or None,
        cwd=a.cwd,
    )


def cmd_submit(client: JobsClient, a: argparse.Namespace, command: list[str] | None) -> int:
    if a.path is not None:
        _note_options_passed_on(a.path, list(a.args))
    fields = _job_fields(a, command)
    if a.grid or a.throttle is not None or a.parameters_as:
        if not a.grid:
            raise SystemExit(f"{PROG} submit: --throttle and --params-as are for sweeps (--grid)")
        job = client.sweep(
            a.path,
            grid=dict(a.grid),
            throttle=a.throttle,
            parameters_as=a.parameters_as,
            after=a.after or None,
            when=a.when,
            **fields,
        )
    else:
        job = client.submit(
            a.path,
            **fields,
            kind=a.kind,
            after=a.after or None,
            when=a.when,
            **_report_notify_fields(a),
        )
    if a.json and not a.wait:
        _print_json(job.data)
    elif not a.json:
        _announce(job, a.quiet, a.follow or a.wait)
    if a.follow or a.wait:
        code = _wait_or_follow(job, a.follow, quiet=a.quiet or a.json)
        if a.json and a.wait:
            _print_json(job.data)  # the job as it ended
        return code
    return 0


def cmd_list(client: JobsClient, a: argparse.Namespace) -> int:
    limit = None if a.all else a.limit
    jobs = client.jobs(status=a.status, backend=a.backend, limit=limit)
    if a.json:
        _print_json([j.data for j in jobs])
        return 0
    if not jobs:
        print("no jobs" + (f" with status {a.status}" if a.status else ""))
        return 0
    rows = [
        [
            j.id[:8],
            str(j.data.get("name") or "")[:40],
            _status_text(j.data),
            str(j.data.get("backend")),
            _local_time(j.data.get("created_at")),
            _elapsed(j.data),
            "" if j.data.get("exit_code") is None else str(j.data["exit_code"]),
        ]
        for j in jobs
    ]
    print(_table(rows, ["ID", "NAME", "STATUS", "BACKEND", "CREATED", "DURATION", "EXIT"]))
    return 0


def cmd_show(client: JobsClient, a: argparse.Namespace) -> int:
    job = client.job(a.id)
    if a.json:
        _print_json(job.data)
    else:
        print(_describe(job.data))
    return 0


def cmd_logs(client: JobsClient, a: argparse.Namespace) -> int:
    job = client.job(a.id)
    out = sys.stdout.buffer
    if not a.follow:
        offset = 0
        while True:
            data, size = client.read_log(job.id, offset)
            out.write(data)
            offset += len(data)
            if not data or offset >= size:
                break
        out.flush()
        return 0
    try:
        for chunk in job.follow_bytes():
            out.write(chunk)
            out.flush()
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_cancel(client: JobsClient, a: argparse.Namespace) -> int:
    failed = 0
    for job_id in a.ids:
        try:
            job = client.job(job_id)
            if job.data.get("status") in FINAL_STATUSES:
                print(f"job {job.id[:8]} already {job.data['status']}")
                continue
            job.cancel()
            print(f"job {job.id[:8]} {job.data.get('status')}")
        except JobsClientError as e:
            print(f"{PROG}: {job_id}: {_in_cli_words(e)}", file=sys.stderr)
            failed = 1
    return failed


def cmd_rerun(client: JobsClient, a: argparse.Namespace) -> int:
    new = client.job(a.id).rerun(**({"input": "current"} if a.current else {}))
    _announce(new, a.quiet, a.follow or a.wait, verb="rerun as")
    if a.follow or a.wait:
        return _wait_or_follow(new, a.follow, quiet=a.quiet)
    return 0


def cmd_rm(client: JobsClient, a: argparse.Namespace) -> int:
    failed = 0
    for job_id in a.ids:
        job = None
        try:
            job = client.job(job_id)
            job.delete()
            print(f"deleted job {job.id[:8]}")
        except JobsClientError as e:
            if e.status == 409 and job is not None:  # active: the server's message, in CLI terms
                short = job.id[:8]
                status = job.data.get("status")
                message = f"job {short} is {status}: cancel it first ({PROG} cancel {short})"
            else:
                message = f"{job_id}: {_in_cli_words(e)}"
            print(f"{PROG}: {message}", file=sys.stderr)
            failed = 1
    return failed


def cmd_backends(client: JobsClient, a: argparse.Namespace) -> int:
    data = client.backends()
    if a.json:
        _print_json(data)
        return 0
    default = data.get("default_backend")
    rows = []
    for b in data.get("backends", []):
        profiles = ", ".join(p.get("name", "?") for p in b.get("profiles") or [])
        state = "yes" if b.get("available") else f"no: {b.get('reason') or 'unavailable'}"
        name = b.get("name", "?") + (" *" if b.get("name") == default else "")
        rows.append([name, str(b.get("display_name", "")), state, profiles])
    print(_table(rows, ["NAME", "DISPLAY NAME", "AVAILABLE", "PROFILES"]))
    return 0


def cmd_results(client: JobsClient, a: argparse.Namespace) -> int:
    """``results ID [--csv|--json]``: the job's results table (``GET jobs/{id}/results``)."""
    from .results import format_csv, format_text

    table = client.job(a.id).results_table()
    if a.json:
        _print_json(table)
    elif a.csv:
        sys.stdout.write(format_csv(table))
    else:
        print(format_text(table))
    return 0


def _kernelspec(argv: list[str]) -> int:
    """``jupyter jobs kernelspec ...`` belongs to the remote-kernels module when it is there."""
    try:
        module = importlib.import_module("jupyter_jobs.kernels.cli")
    except ModuleNotFoundError:
        print(
            f"{PROG}: kernelspec: remote kernels are not available in this version", file=sys.stderr
        )
        return 2
    return int(module.main(argv) or 0)


# ------------------------------------------------------------- job definitions (issue 12)

SCHEDULE_USAGE = (
    f"{PROG} schedule --cron CRON [--tz ZONE] [OPTIONS] PATH [ARGS ...]\n"
    f"       {PROG} schedule --cron CRON [--tz ZONE] [OPTIONS] -- CMD [ARGS ...]"
)
SCHEDULE_EXAMPLES = f"""examples:
  {PROG} schedule --cron "0 6 * * 1-5" --tz Europe/Berlin report.ipynb -p day=today
  {PROG} schedule --cron "*/15 * * * *" --overlap skip --retries 2 sync.py --full
  {PROG} schedule --cron @daily --backend slurm --cpus 4 -- make nightly

CRON has 5 fields: minute hour day-of-month month day-of-week (lists 1,15, ranges 1-5, steps
*/15, names MON..SUN and JAN..DEC), or @hourly, @daily, @weekly, @monthly, @yearly.
"""


def _add_definition_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "schedule",
        help="save a script, notebook or command with a schedule (a job definition)",
        usage=SCHEDULE_USAGE,
        description="Save a job definition: the job (as `submit` takes it) and when it runs."
        " Each run is an ordinary job (`list` shows it). Options go before a script's path.",
        epilog=SCHEDULE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cron", required=True, metavar="CRON", help='when it runs: "0 6 * * *"')
    p.add_argument(
        "--tz",
        "--timezone",
        dest="timezone",
        metavar="ZONE",
        help="IANA time zone the schedule is read in (default: this machine's, else UTC)",
    )
    p.add_argument(
        "--overlap",
        choices=["skip", "queue", "allow"],
        help="when the previous run is still going: skip (default), queue or allow",
    )
    p.add_argument("--retries", type=int, help="run again after a failure, N times (default 0)")
    p.add_argument("--retry-delay", type=int, metavar="SECONDS", help="before a retry (60)")
    p.add_argument("--max-history", type=int, metavar="N", help="ended runs kept (default 100)")
    p.add_argument("--paused", action="store_true", help="save it paused (it fires nothing)")
    _add_submit_options(p)
    p.add_argument("path", nargs="?", metavar="PATH", help="script or notebook")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments for a script")

    p = sub.add_parser("definitions", help="list the job definitions (schedules)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser(
        "definition",
        help="show, pause, resume, run or delete a job definition",
        description="Act on one job definition (its id may be shortened to a unique prefix).",
    )
    p.add_argument("action", choices=["show", "pause", "resume", "run", "runs", "rm"])
    p.add_argument("id", metavar="DEF-ID")
    p.add_argument("--json", action="store_true", help="print JSON")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("-f", "--follow", action="store_true", help="run: follow the run's log")
    mode.add_argument("--wait", action="store_true", help="run: wait for the run to end")


def _local_zone() -> str | None:
    """This machine's IANA zone name (the run dialog uses the browser's), if it has one."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and "/" in tz and not tz.startswith("/"):
        return tz
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return None
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else None


def _next_text(d: dict[str, Any]) -> str:
    return _local_time(d.get("next_run_at")) if d.get("active") else "paused"


def _definition_lines(d: dict[str, Any]) -> str:
    last = d.get("last_run") or {}
    what = d.get("path") or " ".join(d.get("command") or [])
    rows = [
        ("ID", d["id"]),
        ("Name", str(d.get("name"))),
        ("Runs", what),
        ("Schedule", f"{d['schedule']} ({d['schedule_description']}, {d['timezone']})"),
        ("Next run", _next_text(d)),
        (
            "Backend",
            f"{d.get('backend') or 'default'}"
            + (" (fired by the engine)" if d.get("fired_by") == "engine" else ""),
        ),
        ("Overlap", d.get("overlap", "")),
        ("Retries", f"{d.get('retries')} (after {d.get('retry_delay')} s)"),
        ("History limit", str(d.get("max_history"))),
        (
            "Last run",
            f"{last['id'][:8]} {last['status']} {_local_time(last['at'])}" if last else "none yet",
        ),
        ("Runs kept", str(d.get("run_count", 0))),
    ]
    skipped = d.get("last_skipped")
    if skipped:
        rows.append(("Last skipped", f"{_local_time(skipped['at'])}: {skipped['reason']}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in rows)


def cmd_schedule(client: JobsClient, a: argparse.Namespace, command: list[str] | None) -> int:
    d = client_module.schedule(
        a.path,
        cron=a.cron,
        timezone=a.timezone or _local_zone(),
        **_job_fields(a, command),
        kind=a.kind,
        active=False if a.paused else None,
        overlap=a.overlap,
        retries=a.retries,
        retry_delay=a.retry_delay,
        max_history=a.max_history,
        client=client,
    )
    if a.json:
        _print_json(d.data)
    elif a.quiet:
        print(d.id)
    else:
        data = d.data
        print(
            f"saved job definition {d.id[:8]}: {data['schedule_description']}"
            f" ({data['timezone']}); next run {_next_text(data)}"
        )
    return 0


def cmd_definitions(client: JobsClient, a: argparse.Namespace) -> int:
    found = client_module.definitions(client)
    if a.json:
        _print_json([d.data for d in found])
        return 0
    if not found:
        print(f"no job definitions (save one with {PROG} schedule)")
        return 0
    rows = []
    for d in found:
        data, last = d.data, d.data.get("last_run") or {}
        rows.append(
            [
                d.id[:8],
                str(data.get("name") or "")[:30],
                f"{data['schedule_description']} ({data['timezone']})"[:50],
                _next_text(data),
                f"{last.get('status')} {_local_time(last.get('at'))}" if last else "-",
            ]
        )
    print(_table(rows, ["ID", "NAME", "SCHEDULE", "NEXT RUN", "LAST RUN"]))
    return 0


def cmd_definition(client: JobsClient, a: argparse.Namespace) -> int:
    d = client_module.definition(a.id, client)
    short = d.id[:8]
    if a.action == "show":
        print(json.dumps(d.data, indent=2) if a.json else _definition_lines(d.data))
    elif a.action in ("pause", "resume"):
        d = d.pause() if a.action == "pause" else d.resume()
        if a.json:
            _print_json(d.data)
        else:
            state = "paused" if a.action == "pause" else f"resumed; next run {_next_text(d.data)}"
            print(f"job definition {short} {state}")
    elif a.action == "run":
        job = d.run()
        if a.json and not a.wait:
            _print_json(job.data)
        elif not a.json:
            _announce(job, False, a.follow or a.wait, verb="started")
        if a.follow or a.wait:
            return _wait_or_follow(job, a.follow)
    elif a.action == "runs":
        jobs = d.runs()
        if a.json:
            _print_json([j.data for j in jobs])
            return 0
        rows = [
            [
                j.id[:8],
                _status_text(j.data),
                _local_time(j.data.get("scheduled_for"))
                if j.data.get("scheduled_for")
                else "by hand",
                str(j.data.get("attempt") or ""),
                _local_time(j.data.get("created_at")),
                "" if j.data.get("exit_code") is None else str(j.data["exit_code"]),
            ]
            for j in jobs
        ]
        print(
            _table(rows, ["ID", "STATUS", "SCHEDULED FOR", "ATTEMPT", "CREATED", "EXIT"])
            if rows
            else "no runs yet"
        )
    else:  # rm
        d.delete()
        print(f"deleted job definition {short} (its runs stay: {PROG} rm ID deletes one)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["kernelspec"]:
        return _kernelspec(argv[1:])
    parser = build_parser()
    head, command = _split_command(argv)
    a = parser.parse_args(head)
    if command is not None and a.command not in ("submit", "schedule"):
        parser.error("`--` is only used by submit and schedule")
    if a.command in ("submit", "schedule"):
        verb = a.command
        if a.path is None and not command:
            parser.error(f"{verb}: give a PATH to run, or a command after --")
        if a.path is not None and _is_notebook(a):
            if command is not None:
                parser.error(
                    f"{verb}: a notebook takes no arguments ({' '.join(command)}): give its "
                    "parameters with -p NAME=VALUE"
                )
            if {"-h", "--help"} & set(a.args):
                parser.parse_args([verb, "--help"])  # prints the command's help and exits
            _notebook_options(a, a.args, a.path)
            a.args = []
        if a.follow and a.wait:
            parser.error("submit: give -f/--follow or --wait, not both")
        if a.command == "schedule" and (a.follow or a.wait):
            parser.error(
                "schedule: -f/--follow and --wait are for one run: start one with"
                f" `{PROG} definition run DEF-ID --wait`"
            )
    if a.command == "kernelspec":
        return _kernelspec([])
    try:
        # the server whose root holds the path
        path = a.path if a.command in ("submit", "schedule") else None
        client = JobsClient(a.url, a.token, root_dir=a.root_dir, path=path)
        if a.command == "submit":
            return cmd_submit(client, a, command)
        if a.command == "schedule":
            return cmd_schedule(client, a, command)
        handler = {
            "list": cmd_list,
            "ls": cmd_list,
            "show": cmd_show,
            "logs": cmd_logs,
            "log": cmd_logs,
            "cancel": cmd_cancel,
            "rerun": cmd_rerun,
            "rm": cmd_rm,
            "delete": cmd_rm,
            "backends": cmd_backends,
            "results": cmd_results,
            "definitions": cmd_definitions,
            "definition": cmd_definition,
        }[a.command]
        return handler(client, a)
    except ServerNotFound as e:
        print(f"{PROG}: {e.message}", file=sys.stderr)
        return 2
    except JobsClientError as e:
        print(f"{PROG}: error: {_in_cli_words(e)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `jupyter jobs logs ID | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
