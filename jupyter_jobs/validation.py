"""Turns a job request (the ``POST jobs`` body) into a checked, normalised spec.

Every rejection is a :class:`~jupyter_jobs.exceptions.BadRequest` whose message says what to fix
in a person's words (fields by their labels: :data:`~jupyter_jobs.wire.FIELD_LABELS`) and whose
``field`` names the part of the request at fault. Nothing here runs anything: commands are
argv lists and stay argv lists all the way to ``exec``.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from . import sweeps
from .exceptions import BadRequest, NotFound, PayloadTooLarge
from .models import normalize_resources
from .wire import JOB_ID_PATTERN, label, show

_JOB_ID_RE = re.compile(JOB_ID_PATTERN)
REQUEST_KEYS = {
    "path",
    "command",
    "name",
    "kind",
    "args",
    "env",
    "cwd",
    "backend",
    "profile",
    "resources",
    "parameters",
    # issue 13: dependencies (jupyter_jobs/dependencies.py)
    "after",
    "when",
    # issue 12: reports, notifications, pinned extra files
    "output_formats",
    "report",
    "notify",
    "extra_files",
    # issue 13: sweeps (jupyter_jobs/sweeps.py)
    "grid",
    "parameter_sets",
    "throttle",
    "parameters_as",
}
#: what ``POST jobs/{id}/rerun`` takes besides the fields of a request: which input to run
RERUN_KEYS = REQUEST_KEYS | {"input", "only"}
RERUN_INPUTS = ("pinned", "current")
OUTPUT_FORMATS = ("ipynb", "html")
REPORT_KEYS = frozenset({"no_input"})
NOTIFY_ON = ("failure", "always")
NOTIFY_KEYS = frozenset({"on", "email", "webhook", "slurm_mail"})
MAX_EMAILS = 20
MAX_URL = 2048
#: an e-mail address: one ``@``, no spaces, quotes, commas, angle brackets or control characters
EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})")
#: extra files a request may name, and their total size (the job's own input file is not counted)
MAX_EXTRA_FILES = 100
MAX_EXTRA_BYTES = 50 * 1024 * 1024
SCRIPT_LANGUAGES = {".py": "python", ".sh": "bash", ".bash": "bash", ".r": "R"}
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PARAMETER_NAME_RE = ENV_NAME_RE
#: variables the runner sets itself (``JUPYTER_JOBS_DIR``, ``JUPYTER_JOBS_JOB_ID``, …): any
#: ``JUPYTER_JOBS_*``, in any case
RESERVED_ENV_PREFIXES = ("JUPYTER_JOBS_",)
#: dynamic-loader variables (glibc, musl, macOS, IRIX): they change which code *every* program
#: of the job loads — the runner's helpers, shells and interpreters jupyter-jobs starts — not just
#: the user's program. Refused in any case (``ld_preload`` too, so no variant slips through).
LOADER_ENV_PREFIXES = ("LD_", "DYLD_", "_RLD")
#: variables that make a loader, shell or interpreter run code that is not the job's program
#: when it starts (start-up files, injected options, module search roots of the interpreter
#: itself). Variables that only point the job's own program at its libraries (``PATH``,
#: ``PYTHONPATH``, ``R_LIBS``) are allowed: the job's own code is the user's anyway.
HIJACK_ENV = frozenset(
    {
        "LIBPATH",  # AIX loader
        "SHLIB_PATH",  # HP-UX loader
        "GCONV_PATH",  # glibc loads gconv modules from it
        "BASH_ENV",  # read by every non-interactive bash
        "ENV",  # read by sh
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "IFS",
        "PYTHONSTARTUP",
        "PYTHONINSPECT",
        "PYTHONHOME",
        "PYTHONEXECUTABLE",
        "PERL5OPT",
        "PERL5LIB",
        "PERLLIB",
        "PERL5DB",
        "RUBYOPT",
        "RUBYLIB",
        "NODE_OPTIONS",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
    }
)
MAX_ARGS = 1000
MAX_ARG_LEN = 128 * 1024
MAX_NAME = 200
MAX_ENV = 1000
MAX_ENV_NAME = 256
MAX_PARAMETERS = 1000
#: fields of a request that may be null (= as if absent: the default); ``path`` and ``command``
#: may not (give one of them)
NULLABLE_KEYS = REQUEST_KEYS - {"path", "command"}


def env_refusal(name: str) -> str | None:
    """Why the environment variable ``name`` may not be set by a request (None: it may)."""
    upper = name.upper()
    if upper.startswith(RESERVED_ENV_PREFIXES):
        return f"Environment: variable {name} is set by jupyter-jobs (JUPYTER_JOBS_* are reserved)"
    if upper.startswith(LOADER_ENV_PREFIXES):
        return (
            f"Environment: variable {name} is refused: dynamic-loader variables (LD_*, DYLD_*)"
            " would change the code every process of the job loads; set it inside the job's"
            " script if its program needs it (an administrator can set it for every job with"
            " c.JobManager.extra_env)"
        )
    if upper in HIJACK_ENV:
        return (
            f"Environment: variable {name} is refused: it makes a shell or interpreter run code"
            " that is not the job's program when it starts (see 'Validation' in docs/CONTRACT.md)"
        )
    return None


@dataclass
class JobRequest:
    """A checked request; paths are absolute and inside the root."""

    kind: str
    name: str
    path: str | None  # relative to root, as the user gave it (normalised)
    abs_path: str | None
    command: list[str]
    args: list[str]
    env: dict[str, str]
    cwd: str  # relative to root ("" = the root)
    abs_cwd: str
    backend: str | None
    profile: str | None
    resources: Any
    parameters: dict[str, Any] = field(default_factory=dict)
    #: the jobs this one waits for (ids, checked for shape only: the manager checks they exist)
    #: and how they must end (docs/CONTRACT.md, "Dependencies")
    after: list[str] = field(default_factory=list)
    when: str = "ok"
    #: notebook outputs: ``["ipynb"]`` or ``["ipynb", "html"]`` (``[]`` for scripts, commands)
    output_formats: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    #: ``{"on", "email", "webhook", "slurm_mail"}``, or None (no notification)
    notify: dict[str, Any] | None = None
    #: extra files the request named: (relative to the root, absolute real path)
    extra_files: list[tuple[str, str]] = field(default_factory=list)
    #: where the pinned copies come from (a pinned rerun: the old job's copies), keyed by their
    #: place under ``input/``; None: the files as they are now
    pin_sources: dict[str, str] | None = None
    #: a sweep (docs/CONTRACT.md, "Sweeps"): the grid asked (or None), the parameter sets (the
    #: grid expanded, or as given; empty: not a sweep), the throttle, how a script gets them
    grid: dict[str, list[Any]] | None = None
    parameter_sets: list[dict[str, Any]] = field(default_factory=list)
    throttle: int | None = None
    parameters_as: str | None = None


def _text(
    value: Any, what: str, fld: str, *, allow_empty: bool = False, max_len: int = 4096
) -> str:
    """``value`` checked as text; ``what`` names it in messages ("Name", "Argument 2")."""
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be text, not {_type(value)}", field=fld)
    if "\x00" in value:
        raise BadRequest(f"{what} must not contain NUL characters", field=fld)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(
            f"{what} holds a character that is not valid Unicode (a lone surrogate)", field=fld
        ) from None
    if not allow_empty and not value.strip():
        raise BadRequest(f"{what} must not be empty", field=fld)
    if len(value) > max_len:
        raise BadRequest(
            f"{what} is too long ({len(value)} characters, at most {max_len})", field=fld
        )
    return value


def _type(value: Any) -> str:
    return {
        type(None): "nothing (null)",
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a set of names and values",
    }.get(type(value), type(value).__name__)


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def _display_name(value: Any) -> str:
    name = _text(value, "Name", "name", max_len=MAX_NAME)
    if any(_is_control(ch) for ch in name):
        raise BadRequest("Name must not contain control characters (newlines, tabs…)", field="name")
    return name.strip()


#: the longest file name and path the usual Linux file systems take (NAME_MAX, PATH_MAX - 1)
NAME_MAX = 255
PATH_MAX = 4095


def resolve_in_root(
    root_dir: str, rel: Any, fld: str, *, must_exist: bool = True
) -> tuple[str, str]:
    """``rel`` (relative to the root, ``/`` separators) → (normalised rel, absolute real path).

    Refuses absolute paths, ``..`` escapes and symlinks that lead outside the root.
    """
    what = label(fld)
    rel = _text(rel, what, fld, allow_empty=True)
    if rel.startswith("/") or rel.startswith("\\") or re.match(r"^[A-Za-z]:", rel):
        raise BadRequest(
            f"{what} must be relative to the server's root directory, not absolute ({rel!r})",
            field=fld,
        )
    longest = max(
        (len(part.encode("utf-8", "surrogatepass")) for part in re.split(r"[/\\]", rel)), default=0
    )
    if longest > NAME_MAX or len(rel.encode("utf-8", "surrogatepass")) > PATH_MAX:
        # the file system could hold no such file (ENAMETOOLONG): say so before touching it
        raise BadRequest(
            f"{what} {show(rel)} is longer than a file system allows (a name at most"
            f" {NAME_MAX} bytes, a path at most {PATH_MAX})",
            field=fld,
        )
    root = os.path.realpath(root_dir)
    literal = os.path.join(root, rel)
    candidate = os.path.realpath(literal)
    if candidate != root and not candidate.startswith(root + os.sep):
        raise BadRequest(f"{what} {rel!r} is outside the server's root directory", field=fld)
    if must_exist and not os.path.exists(candidate):
        raise NotFound(f"{what} {rel!r} does not exist", field=fld)
    if must_exist and not os.path.exists(literal):
        # realpath reads 'hello.py/' as 'hello.py'; the system does not
        raise BadRequest(
            f"{what} {rel!r} uses a file as a folder"
            + (" (drop the trailing '/')" if rel.endswith(("/", "\\")) else ""),
            field=fld,
        )
    norm = os.path.relpath(candidate, root)
    return ("" if norm == "." else norm.replace(os.sep, "/")), candidate


def _check_keys(body: dict, known: set[str] = REQUEST_KEYS) -> None:
    unknown = set(body) - known
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(sorted(map(repr, unknown)))};"
            f" known: {', '.join(sorted(known))}",
            field=sorted(unknown)[0],
        )
    for key in ("path", "command"):
        if key in body and body[key] is None:
            raise BadRequest(
                f"{label(key)} must not be null: give a path (a script or notebook) or a command",
                field=key,
            )
    if body.get("path") is not None and body.get("command") is not None:
        raise BadRequest(
            "Command: give a path (a script or notebook) or a command, not both", field="command"
        )


def _check_kind(kind: Any) -> str | None:
    if kind is not None and kind not in ("script", "notebook", "command"):
        raise BadRequest(
            f"Kind: unknown kind {show(kind)}; use script, notebook or command", field="kind"
        )
    return kind


def _check_path(path: Any, root_dir: str, *, must_exist: bool = True) -> tuple[str, str, str]:
    """(relative path, absolute path, inferred kind) of a runnable file in the root
    (``must_exist=False``: a pinned rerun, whose file may be gone: its copy runs)."""
    must_exist = must_exist or os.path.lexists(os.path.join(root_dir, str(path)))
    rel_path, abs_path = resolve_in_root(root_dir, path, "path", must_exist=must_exist)
    if not rel_path:
        raise BadRequest("Path must name a file, not the root directory", field="path")
    if os.path.isdir(abs_path):
        raise BadRequest(f"Path {rel_path!r} is a folder, not a file", field="path")
    if must_exist and not os.path.isfile(abs_path):
        raise BadRequest(f"Path {rel_path!r} is not a regular file", field="path")
    ext = os.path.splitext(abs_path)[1].lower()
    inferred = "notebook" if ext == ".ipynb" else "script"
    if inferred == "script" and ext not in SCRIPT_LANGUAGES:
        raise BadRequest(
            f"Path: cannot run {rel_path!r}: the files jupyter-jobs runs are .py, .sh, .R and"
            " .ipynb (run anything else as a command)",
            field="path",
        )
    return rel_path, abs_path, inferred


def _check_command(command: Any) -> list[str]:
    if not isinstance(command, list) or not command:
        raise BadRequest(
            "Command: give the program and its arguments, one word each"
            ' (e.g. ["python", "-V"]): no shell reads it',
            field="command",
        )
    if len(command) > MAX_ARGS:
        raise BadRequest(
            f"Command has too many words ({len(command)}, at most {MAX_ARGS})", field="command"
        )
    argv = [
        _text(a, f"Command word {i + 1}", "command", allow_empty=True, max_len=MAX_ARG_LEN)
        for i, a in enumerate(command)
    ]
    if not argv[0].strip():
        raise BadRequest("Command: the program (its first word) must not be empty", field="command")
    return argv


def _check_args(args_in: Any) -> list[str]:
    args_in = [] if args_in is None else args_in
    if not isinstance(args_in, list):
        raise BadRequest(f"Arguments must be a list of words, not {_type(args_in)}", field="args")
    if len(args_in) > MAX_ARGS:
        raise BadRequest(f"Arguments: too many ({len(args_in)}, at most {MAX_ARGS})", field="args")
    return [
        _text(a, f"Argument {i + 1}", "args", allow_empty=True, max_len=MAX_ARG_LEN)
        for i, a in enumerate(args_in)
    ]


def _check_env(env_in: Any) -> dict[str, str]:
    env_in = {} if env_in is None else env_in
    if not isinstance(env_in, dict):
        raise BadRequest(
            f"Environment must be names and values (NAME=value), not {_type(env_in)}", field="env"
        )
    if len(env_in) > MAX_ENV:
        raise BadRequest(f"Environment: too many variables (at most {MAX_ENV})", field="env")
    env: dict[str, str] = {}
    for k, v in env_in.items():
        if not ENV_NAME_RE.fullmatch(k) or len(k) > MAX_ENV_NAME:
            raise BadRequest(
                f"Environment: variable name {show(k)} is not valid: use letters, digits and _,"
                f" not starting with a digit, at most {MAX_ENV_NAME} characters",
                field="env",
            )
        refusal = env_refusal(k)
        if refusal:
            raise BadRequest(refusal, field="env")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        what = f"Environment variable {k}"
        env[k] = _text(v, what, "env", allow_empty=True, max_len=MAX_ARG_LEN)
    return env


def _check_cwd(cwd_in: Any, root_dir: str) -> tuple[str, str]:
    cwd, abs_cwd = resolve_in_root(root_dir, cwd_in, "cwd")
    if not os.path.isdir(abs_cwd):
        raise BadRequest(f"Working directory {cwd!r} is not a folder", field="cwd")
    return cwd, abs_cwd


def _check_parameters(parameters: Any) -> dict[str, Any]:
    parameters = {} if parameters is None else parameters
    if not isinstance(parameters, dict):
        raise BadRequest(
            f"Parameters must be names and values (name=value), not {_type(parameters)}",
            field="parameters",
        )
    if len(parameters) > MAX_PARAMETERS:
        raise BadRequest(f"Parameters: too many (at most {MAX_PARAMETERS})", field="parameters")
    for k in parameters:
        if not PARAMETER_NAME_RE.fullmatch(k) or keyword.iskeyword(k) or len(k) > 200:
            raise BadRequest(
                f"Parameters: {show(k)} is not a Python name (ASCII letters, digits and _,"
                " not a keyword)",
                field="parameters",
            )
    return parameters


def _check_output_formats(value: Any, kind: str | None) -> list[str]:
    """``output_formats``: a notebook's ``["ipynb"]`` (the default) or ``["ipynb", "html"]``;
    the executed notebook is always written, so ``["html"]`` means both."""
    what = label("output_formats")
    if value is None:
        return ["ipynb"] if kind == "notebook" else []
    if not isinstance(value, list):
        raise BadRequest(
            f'{what} must be a list such as ["ipynb", "html"], not {_type(value)}',
            field="output_formats",
        )
    formats: list[str] = []
    for item in value:
        if item not in OUTPUT_FORMATS:
            raise BadRequest(
                f"{what}: {show(item)} is not a format; use ipynb (the executed notebook) and"
                " html (a report)",
                field="output_formats",
            )
        if item not in formats:
            formats.append(item)
    if kind != "notebook":
        if "html" in formats:
            raise BadRequest(
                f"{what}: an HTML report is made of a notebook; this job runs a {kind}",
                field="output_formats",
            )
        return []
    return ["ipynb"] + [f for f in formats if f != "ipynb"]


def _check_report(value: Any) -> dict[str, Any]:
    what = label("report")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(
            f'{what} must be options such as {{"no_input": true}}, not {_type(value)}',
            field="report",
        )
    unknown = set(value) - REPORT_KEYS
    if unknown:
        raise BadRequest(
            f"{what}: unknown option(s) {', '.join(sorted(map(show, unknown)))}; known: no_input",
            field="report",
        )
    out: dict[str, Any] = {}
    if value.get("no_input") is not None:
        if not isinstance(value["no_input"], bool):
            raise BadRequest(
                f"{what}: hide input cells (no_input) must be true or false", field="report"
            )
        out["no_input"] = value["no_input"]
    return out


def check_email(value: Any, fld: str = "notify") -> str:
    """One e-mail address (``name@example.org``): no display name, spaces or control characters."""
    what = f"{label(fld)}: e-mail address"
    text = _text(value, what, fld, max_len=254)
    if any(_is_control(ch) for ch in text) or not EMAIL_RE.fullmatch(text):
        raise BadRequest(
            f"{what} {show(text)} is not valid (write it as name@example.org)", field=fld
        )
    return text


def check_webhook(value: Any, fld: str = "notify") -> str:
    """A webhook URL: ``http://`` or ``https://`` with a host, no spaces or control characters."""
    from urllib.parse import urlsplit

    what = f"{label(fld)}: webhook"
    text = _text(value, what, fld, max_len=MAX_URL)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(_is_control(ch) or ch.isspace() for ch in text)
    ):
        raise BadRequest(
            f"{what} {show(text)} is not an http:// or https:// address"
            " (e.g. https://hooks.slack.com/services/...)",
            field=fld,
        )
    return text


def _check_notify(value: Any) -> dict[str, Any] | None:
    """``notify``: when (``on``: failure | always) and how (``email``, ``webhook``,
    ``slurm_mail``). None when absent; a notify that names no way to send is refused."""
    what = label("notify")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(
            f'{what} must be settings such as {{"on": "failure", "webhook": "https://..."}},'
            f" not {_type(value)}",
            field="notify",
        )
    unknown = set(value) - NOTIFY_KEYS
    if unknown:
        raise BadRequest(
            f"{what}: unknown setting(s) {', '.join(sorted(map(show, unknown)))};"
            f" known: {', '.join(sorted(NOTIFY_KEYS))}",
            field="notify",
        )
    on = "failure" if value.get("on") is None else value["on"]
    if on not in NOTIFY_ON:
        raise BadRequest(
            f"{what}: send {show(on)}? use failure (when the job fails, is cancelled or lost)"
            " or always",
            field="notify",
        )
    emails_in = value.get("email")
    if emails_in is None:
        emails_in = []
    elif isinstance(emails_in, str):
        emails_in = [emails_in]
    if not isinstance(emails_in, list):
        raise BadRequest(f"{what}: e-mail must be a list of addresses", field="notify")
    if len(emails_in) > MAX_EMAILS:
        raise BadRequest(
            f"{what}: too many e-mail addresses ({len(emails_in)}, at most {MAX_EMAILS})",
            field="notify",
        )
    emails = list(dict.fromkeys(check_email(e) for e in emails_in))
    webhook = None if value.get("webhook") is None else check_webhook(value["webhook"])
    slurm_mail = value.get("slurm_mail")
    if slurm_mail is None:
        slurm_mail = False
    if not isinstance(slurm_mail, bool):
        raise BadRequest(f"{what}: SLURM mail (slurm_mail) must be true or false", field="notify")
    if slurm_mail and not emails:
        raise BadRequest(
            f"{what}: SLURM mail needs an e-mail address to send to (email)", field="notify"
        )
    if not emails and webhook is None:
        raise BadRequest(f"{what}: give an e-mail address or a webhook to send to", field="notify")
    return {"on": on, "email": emails, "webhook": webhook, "slurm_mail": slurm_mail}


def pinned_place(abs_file: str, abs_input: str) -> str | None:
    """Where an extra file goes under ``input/``: its path relative to the folder of the job's
    input file (None when it is not in that folder or below)."""
    base = os.path.dirname(abs_input)
    rel = os.path.relpath(abs_file, base)
    if rel.startswith("..") or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")


def _check_extra_files(
    value: Any, root_dir: str, abs_input: str | None, *, pinned: bool = False
) -> list[tuple[str, str]]:
    """``extra_files``: files under the root, in the folder of the job's input file or below,
    copied with it into ``input/`` (at most :data:`MAX_EXTRA_FILES`, :data:`MAX_EXTRA_BYTES`
    together). ``pinned``: a pinned rerun, whose files come from the old job's copies (they
    need not exist any more)."""
    what = label("extra_files")
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(
            f'{what} must be a list of paths such as ["utils.py"], not {_type(value)}',
            field="extra_files",
        )
    if value and abs_input is None:
        raise BadRequest(
            f"{what} are copied with the job's script or notebook; a command job has none"
            " (its files are read where they are)",
            field="extra_files",
        )
    if len(value) > MAX_EXTRA_FILES:
        raise BadRequest(
            f"{what}: too many ({len(value)}, at most {MAX_EXTRA_FILES})", field="extra_files"
        )
    out: list[tuple[str, str]] = []
    total = 0
    for item in value:
        rel, abs_file = resolve_in_root(root_dir, item, "extra_files", must_exist=not pinned)
        assert abs_input is not None
        if pinned_place(abs_file, abs_input) is None or abs_file == abs_input:
            folder = os.path.dirname(os.path.relpath(abs_input, os.path.realpath(root_dir)))
            raise BadRequest(
                f"{what}: {rel!r} is not in the folder of the job's file"
                f" ({folder.replace(os.sep, '/') or 'the root'}) or below it: only those are"
                " copied with it",
                field="extra_files",
            )
        if pinned and not os.path.exists(abs_file):
            out.append((rel, abs_file))
            continue
        if not os.path.isfile(abs_file):
            raise BadRequest(f"{what}: {rel!r} is not a file", field="extra_files")
        total += os.path.getsize(abs_file)
        if total > MAX_EXTRA_BYTES:
            raise PayloadTooLarge(
                f"{what}: the files come to more than {MAX_EXTRA_BYTES // 1024**2} MiB; pin"
                " only the files the job's code needs (data files are read where they are)",
                field="extra_files",
            )
        if (rel, abs_file) not in out:
            out.append((rel, abs_file))
    return out


def _check_names(body: dict) -> None:
    for key in ("backend", "profile"):
        if body.get(key) is not None:
            _text(body[key], label(key), key, max_len=100)


def parse_request(
    body: Any, root_dir: str, *, pinned_from: dict[str, str] | None = None
) -> JobRequest:
    """Check a ``POST jobs`` body. The backend, the profile and whether the resources fit them
    are checked later by the manager against the chosen spawner; everything else is here.

    ``pinned_from`` (a pinned rerun): the old job's copies by their place under ``input/``; the
    job's file then need not exist any more (its copy is run)."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    _check_keys(body)
    path = body.get("path")
    command = body.get("command")
    kind = _check_kind(body.get("kind"))
    if path is None and command is None:
        raise BadRequest("nothing to run: give a path (a script or notebook) or a command")

    rel_path = abs_path = None
    argv: list[str] = []
    if path is not None:
        if kind == "command":
            raise BadRequest("Kind: a command job runs a command, not a path", field="kind")
        rel_path, abs_path, inferred = _check_path(path, root_dir, must_exist=pinned_from is None)
        if kind is not None and kind != inferred:
            raise BadRequest(f"Kind: {rel_path!r} is not a {kind}", field="kind")
        kind = inferred
    else:
        if kind not in (None, "command"):
            raise BadRequest(f"Kind: a {kind} job runs a path, not a command", field="kind")
        kind = "command"
        argv = _check_command(command)

    args = _check_args(body.get("args"))
    if kind == "notebook" and args:
        raise BadRequest(
            "Arguments: a notebook takes no arguments; give it parameters instead", field="args"
        )
    env = _check_env(body.get("env"))

    if body.get("cwd") is not None:
        cwd, abs_cwd = _check_cwd(body["cwd"], root_dir)
    elif abs_path is not None:
        abs_cwd = os.path.dirname(abs_path)
        cwd = os.path.dirname(rel_path or "")
    else:
        cwd, abs_cwd = "", os.path.realpath(root_dir)

    parameters = _check_parameters(body.get("parameters"))
    if parameters and kind != "notebook":
        raise BadRequest(
            "Parameters are for notebooks; give a script or command arguments instead",
            field="parameters",
        )

    if body.get("name") is not None:
        name = _display_name(body["name"])
    elif rel_path:
        name = os.path.basename(rel_path)
    else:
        name = "".join(" " if _is_control(ch) else ch for ch in " ".join(argv))[:MAX_NAME]

    _check_names(body)
    # types, units and ranges of the shared vocabulary; the spawner checks the rest
    normalize_resources(body.get("resources"))
    output_formats = _check_output_formats(body.get("output_formats"), kind)
    report = _check_report(body.get("report"))
    notify = _check_notify(body.get("notify"))
    after, when = check_after(body.get("after"), body.get("when"), kind)
    extra_files = _check_extra_files(
        body.get("extra_files"), root_dir, abs_path, pinned=pinned_from is not None
    )
    pin_sources = None
    if pinned_from is not None and abs_path is not None:
        pin_sources = dict(pinned_from)
    grid, parameter_sets, throttle, parameters_as = _check_sweep(body, kind)

    return JobRequest(
        kind=kind,
        name=name,
        path=rel_path,
        abs_path=abs_path,
        command=argv,
        args=args,
        env=env,
        cwd=cwd,
        abs_cwd=abs_cwd,
        backend=body.get("backend"),
        profile=body.get("profile"),
        resources=body.get("resources"),
        parameters=parameters,
        after=after,
        when=when,
        output_formats=output_formats,
        report=report,
        notify=notify,
        extra_files=extra_files,
        pin_sources=pin_sources,
        grid=grid,
        parameter_sets=parameter_sets,
        throttle=throttle,
        parameters_as=parameters_as,
    )


def _check_sweep(
    body: dict[str, Any], kind: str
) -> tuple[dict[str, list[Any]] | None, list[dict[str, Any]], int | None, str | None]:
    """``grid`` or ``parameter_sets``, ``throttle``, ``parameters_as`` (a sweep's fields)."""
    grid = body.get("grid")
    sets = body.get("parameter_sets")
    if grid is None and sets is None:
        for key in ("throttle", "parameters_as"):
            if body.get(key) is not None:
                raise BadRequest(
                    f"{label(key)} is for sweeps: give a grid or parameter sets too", field=key
                )
        return None, [], None, None
    if grid is not None and sets is not None:
        raise BadRequest(
            f"give either a {label('grid')} or {label('parameter_sets')}, not both", field="grid"
        )
    checked_grid = sweeps.check_grid(grid) if grid is not None else None
    parameter_sets = (
        sweeps.expand(checked_grid)
        if checked_grid is not None
        else sweeps.check_parameter_sets(sets)
    )
    throttle = sweeps.check_throttle(body.get("throttle"))
    parameters_as = sweeps.check_parameters_as(body.get("parameters_as"), kind)
    return checked_grid, parameter_sets, throttle, parameters_as


#: how the jobs waited for must end for a job to start (docs/CONTRACT.md, "Dependencies")
WHEN = ("ok", "any", "failed")
#: the most jobs one job may wait for
MAX_AFTER = 100


def check_after(after: Any, when: Any, kind: str) -> tuple[list[str], str]:
    """``after`` (a list of job ids, no repeats, at most :data:`MAX_AFTER`) and ``when``. Any
    job may wait, a sweep too (then every child waits); a remote kernel may not (it starts
    now). Whether the jobs exist, and have not already ended the wrong way, the manager checks
    (:func:`jupyter_jobs.dependencies.check_parents`)."""
    if when is None:
        when = "ok"
    if not isinstance(when, str) or when not in WHEN:
        raise BadRequest(
            f"{label('when')}: {show(when)} is not one of {', '.join(WHEN)}"
            " (ok: every job waited for completed; any: they ended, however; failed: none of"
            " them completed)",
            field="when",
        )
    if after is None:
        return [], when
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list):
        raise BadRequest(f"{label('after')} must be a list of job ids", field="after")
    if len(after) > MAX_AFTER:
        raise BadRequest(
            f"{label('after')}: at most {MAX_AFTER} jobs, not {len(after)}", field="after"
        )
    ids: list[str] = []
    for item in after:
        if not isinstance(item, str) or not _JOB_ID_RE.fullmatch(item):
            raise BadRequest(f"{label('after')}: {show(item)} is not a job id", field="after")
        if item in ids:
            raise BadRequest(f"{label('after')}: job {item} is named twice", field="after")
        ids.append(item)
    if ids and kind == "kernel":
        raise BadRequest(
            f"{label('after')}: a remote kernel starts now; it cannot wait for other jobs",
            field="after",
        )
    return ids, when


def check_overrides(overrides: Any, root_dir: str) -> None:
    """The body of ``POST jobs/{id}/rerun``: fields of a job request, each checked on its own as
    :func:`parse_request` checks it (how they combine with the old job's fields is checked when
    the manager merges them)."""
    if overrides is None:
        return
    if not isinstance(overrides, dict):
        raise BadRequest("the rerun body must be a JSON object of the fields to change")
    _check_keys(overrides, RERUN_KEYS)
    if overrides.get("input") is not None and overrides["input"] not in RERUN_INPUTS:
        raise BadRequest(
            f"{label('input')}: {show(overrides['input'])} is not a choice; use pinned (the copy"
            " the job ran) or current (the file as it is now)",
            field="input",
        )
    _check_kind(overrides.get("kind"))
    if overrides.get("path") is not None:
        _check_path(overrides["path"], root_dir)
    if overrides.get("command") is not None:
        _check_command(overrides["command"])
    _check_args(overrides.get("args"))
    _check_env(overrides.get("env"))
    if overrides.get("cwd") is not None:
        _check_cwd(overrides["cwd"], root_dir)
    _check_parameters(overrides.get("parameters"))
    if overrides.get("name") is not None:
        _display_name(overrides["name"])
    _check_names(overrides)
    normalize_resources(overrides.get("resources"))
    _check_report(overrides.get("report"))
    _check_notify(overrides.get("notify"))
    check_after(overrides.get("after"), overrides.get("when"), "script")
    if overrides.get("output_formats") is not None:
        _check_output_formats(overrides["output_formats"], "notebook")


def script_argv(
    interpreter: str | None, language: str, abs_path: str, args: list[str]
) -> list[str]:
    """The argv of a script job; BadRequest when its interpreter is missing."""
    program = interpreter or {"bash": "bash", "R": "Rscript", "python": "python3"}[language]
    if os.sep not in program and shutil.which(program) is None:
        hint = {
            "R": "install R (Debian: apt-get install r-base-core) or name an Rscript in the profile",
        }.get(language, f"install {program} or name one in the profile")
        raise BadRequest(
            f"cannot run a {language} script: {program!r} is not installed on the server; {hint}",
            field="path",
        )
    return [program, abs_path, *args]
