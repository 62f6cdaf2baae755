"""Pure builders for SLURM: the batch script and the ``sbatch`` argv.

Nothing here runs a command or touches the cluster, so every rule (which resource becomes which
``#SBATCH`` line, which names are refused, how the runner command is quoted) is unit-tested without
SLURM (``tests/unit/test_slurm_script.py``). The template uses batchspawner's variable names, so a
hub admin's ``batch_script`` carries over with few changes.
"""

from __future__ import annotations

import math
import re
import shlex
from importlib.resources import files
from typing import Any

import jinja2

from ..exceptions import BadRequest
from ..units import format_duration
from ..wire import label

#: SLURM output file in the job directory: SLURM's own messages, kept apart from output.log
SLURM_OUT = "slurm.out"
#: the rendered batch script, kept in the job directory
SCRIPT = "job.sbatch"

#: ``resources.extra`` keys that never reach sbatch: the spawner sets them itself
RESERVED_OPTIONS = frozenset(
    {
        "output",
        "error",
        "input",
        "chdir",
        "wrap",
        "parsable",
        "job-name",
        "uid",
        "gid",
        "export-file",
        "array",
        "test-only",
        "wait",
        "ntasks",
        "cpus-per-task",
        "mem",
        "time",
        "partition",
        "account",
        "qos",
        "gpus",
        "help",
        "usage",
        "version",
    }
)
_OPTION_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_VALUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+,=%\[\]-]{0,253}$")
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def default_template() -> str:
    """The packaged default batch script (``jupyter_jobs/templates/slurm.sh``)."""
    return (files("jupyter_jobs") / "templates" / "slurm.sh").read_text(encoding="utf-8")


def sanitize_job_name(name: str, prefix: str = "jupyter-", limit: int = 64) -> str:
    """A job name SLURM and a shell both take as is: letters, digits and ``._-`` only."""
    cleaned = _NAME_BAD.sub("_", name or "").strip("_.-") or "job"
    return (prefix + cleaned)[:limit]


def memory_option(n_bytes: int) -> str:
    """Bytes → sbatch's ``--mem`` value in MiB (rounded up: never less than asked)."""
    return f"{max(1, math.ceil(n_bytes / 1024**2))}M"


def gpu_option(gpus: int, style: str = "gpus", gres_name: str = "gpu") -> str | None:
    """``--gpus=N`` or ``--gres=<gres_name>:N``; None for no GPU."""
    if not gpus:
        return None
    if style == "gres":
        return f"--gres={gres_name}:{gpus}"
    if style == "gpus":
        return f"--gpus={gpus}"
    raise ValueError(f"gpu style must be 'gpus' or 'gres', not {style!r}")


def extra_options(extra: dict[str, Any] | None, field: str = "resources.extra") -> list[str]:
    """``{"constraint": "a100", "exclusive": True}`` → ``["--constraint=a100", "--exclusive"]``.

    Keys are sbatch long options without the dashes. ``True`` gives a bare flag, ``False``/None
    nothing. Options the spawner sets itself are refused, and so is anything that is not a plain
    name or value: the lines end up in a script, so no spaces, quotes or newlines get through.
    """
    out: list[str] = []
    for key, value in (extra or {}).items():
        f = f"{field}.{key}"
        what = label(field)  # "Extra options" (an administrator's profile: its config name)
        if not isinstance(key, str) or not _OPTION_RE.match(key):
            raise BadRequest(f"{what}: {key!r} is not an sbatch option name", field=f)
        if key in RESERVED_OPTIONS:
            raise BadRequest(
                f"{what}: --{key} is set by jupyter-jobs; use the resource fields (CPUs, Memory,"
                " Time limit, ...) instead",
                field=f,
            )
        if value is None or value is False:
            continue
        if value is True:
            out.append(f"--{key}")
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _VALUE_RE.match(value):
            raise BadRequest(
                f"{what}: --{key}={value!r} is not a valid sbatch value"
                " (letters, digits and ._:/@+,=%[]-)",
                field=f,
            )
        out.append(f"--{key}={value}")
    return out


def template_vars(
    resources: dict[str, Any],
    *,
    job_name: str,
    job_dir: str,
    cmd: list[str],
    username: str = "",
    defaults: dict[str, Any] | None = None,
    gpu_style: str = "gpus",
    gres_name: str = "gpu",
    options: list[str] | None = None,
    prologue: str = "",
    epilogue: str = "",
) -> dict[str, Any]:
    """The template's variables from normalised resources (``models.normalize_resources``).

    ``defaults`` are the admin's ``req_partition``/``req_account``/``req_qos``, used when the
    resources leave them out. ``queue`` is an alias of ``partition``.
    """
    defaults = defaults or {}
    partition = resources.get("partition")
    queue = resources.get("queue")
    if partition and queue and partition != queue:
        raise BadRequest(
            f"Queue ({queue!r}) and Partition ({partition!r}) differ: they name the same thing;"
            " give one of them",
            field="resources.queue",
        )
    return {
        "job_name": job_name,
        "job_dir": job_dir,
        "output": f"{job_dir}/{SLURM_OUT}",
        "req_nprocs": resources.get("cpus") or "",
        "req_memory": memory_option(resources["memory"]) if resources.get("memory") else "",
        "req_runtime": format_duration(resources["time_limit"])
        if resources.get("time_limit")
        else "",
        "req_ngpus": resources.get("gpus") or "",
        "req_gpu_option": gpu_option(resources.get("gpus") or 0, gpu_style, gres_name) or "",
        "req_partition": partition or queue or defaults.get("partition") or "",
        "req_account": resources.get("account") or defaults.get("account") or "",
        "req_qos": resources.get("qos") or defaults.get("qos") or "",
        "req_options": [*(options or []), *extra_options(resources.get("extra"))],
        "req_prologue": prologue,
        "req_epilogue": epilogue,
        "req_username": username,
        "cmd": shlex.join(cmd),
    }


def render_batch_script(template: str, variables: dict[str, Any]) -> str:
    """Render the (admin-replaceable) Jinja2 template. Refuses control characters in values."""
    for key, value in variables.items():
        if key in ("req_prologue", "req_epilogue"):
            continue  # admin-written shell, multi-line on purpose
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str) and any(ord(c) < 32 for c in v):
                raise BadRequest(f"{key}: control characters are not allowed in a batch script")
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    try:
        return env.from_string(template).render(**variables)
    except jinja2.TemplateError as e:
        raise BadRequest(f"the SLURM batch_script template is broken: {e}") from e


def mail_options(notify: dict[str, Any] | None) -> list[str]:
    """SLURM's own mail for a job's ``notify`` with ``slurm_mail``: ``--mail-type=FAIL`` (``on:
    failure``) or ``ALL`` (``always``) and ``--mail-user`` with the addresses (comma-separated,
    as sbatch takes them). Nothing without ``slurm_mail`` or addresses. The addresses were
    checked at the boundary (``validation.check_email``); checked again here: no space, comma
    or control character reaches sbatch."""
    notify = notify or {}
    emails = [str(e) for e in notify.get("email") or []]
    if not notify.get("slurm_mail") or not emails:
        return []
    for e in emails:
        if not _MAIL_RE.fullmatch(e):
            raise BadRequest(f"Notifications: {e!r} is not an e-mail address", field="notify")
    kind = "ALL" if notify.get("on") == "always" else "FAIL"
    return [f"--mail-type={kind}", f"--mail-user={','.join(emails)}"]


_MAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def sbatch_argv(
    script_path: str, *, job_name: str, job_dir: str, options: list[str] | None = None
) -> list[str]:
    """``sbatch --parsable …`` as an argv: paths go on the command line, never through a shell.
    ``options``: more sbatch options, one word each (the mail options of :func:`mail_options`)."""
    out = f"{job_dir}/{SLURM_OUT}"
    return [
        "sbatch",
        "--parsable",
        f"--job-name={job_name}",
        f"--output={out}",
        f"--error={out}",
        f"--chdir={job_dir}",
        *(options or []),
        script_path,
    ]


def field_of_message(message: str) -> str | None:
    """The request field an sbatch error is about, for the dialog to show it in place."""
    text = message.lower()
    for word, field in (
        ("partition", "resources.partition"),
        ("account", "resources.account"),
        ("qos", "resources.qos"),
        ("time limit", "resources.time_limit"),
        ("memory", "resources.memory"),
        ("gres", "resources.gpus"),
        ("gpu", "resources.gpus"),
        ("cpu", "resources.cpus"),
    ):
        if word in text:
            return field
    return None


#: ``afterok:123:124_5`` — the ``--dependency`` values :mod:`jupyter_jobs.dependencies` makes
_DEPENDENCY_RE = re.compile(r"^(afterok|afterany|afternotok)(:[0-9]+(_[0-9]+)?){1,100}$")


def dependency_options(dependency: str | None) -> list[str]:
    """``--dependency=afterok:<id>:<id>`` and ``--kill-on-invalid-dep=yes`` (SLURM cancels the
    job when a job it waits for ended the wrong way), or nothing. The value is made of SLURM job
    ids (never user input) and checked again here."""
    if not dependency:
        return []
    if not _DEPENDENCY_RE.fullmatch(dependency):
        raise ValueError(f"not a SLURM dependency: {dependency!r}")
    return [f"--dependency={dependency}", "--kill-on-invalid-dep=yes"]


def parse_sbatch_output(stdout: str) -> str:
    """``--parsable`` prints ``jobid`` or ``jobid;cluster``: the job id."""
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        raise ValueError("sbatch printed no job id")
    job_id = lines[-1].split(";", 1)[0]
    if not re.match(r"^\d+(_\d+)?$", job_id):
        raise ValueError(f"sbatch printed {lines[-1]!r}, not a job id")
    return job_id
