"""Turns a job request (the ``POST jobs`` body) into a checked, normalised spec.

Every rejection is a :class:`~jupyter_jobs.exceptions.BadRequest` whose message says what to fix
and whose ``field`` names the part of the request at fault. Nothing here runs anything: commands are
argv lists and stay argv lists all the way to ``exec``.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from .exceptions import BadRequest, NotFound

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
}
SCRIPT_LANGUAGES = {".py": "python", ".sh": "bash", ".bash": "bash", ".r": "R"}
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: variables the runner sets itself, or that would change how the job is run
RESERVED_ENV = {"JUPYTER_JOBS_DIR", "JUPYTER_JOBS_JOB_ID", "LD_PRELOAD"}
MAX_ARGS = 1000
MAX_ARG_LEN = 128 * 1024
MAX_NAME = 200


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


def _text(
    value: Any, what: str, fld: str, *, allow_empty: bool = False, max_len: int = 4096
) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string, not {type(value).__name__}", field=fld)
    if "\x00" in value:
        raise BadRequest(f"{what} must not contain NUL characters", field=fld)
    if not allow_empty and not value.strip():
        raise BadRequest(f"{what} must not be empty", field=fld)
    if len(value) > max_len:
        raise BadRequest(
            f"{what} is too long ({len(value)} characters, at most {max_len})", field=fld
        )
    return value


def _display_name(value: Any) -> str:
    name = _text(value, "name", "name", max_len=MAX_NAME).strip()
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise BadRequest("name must not contain control characters (newlines, tabs…)", field="name")
    return name


def resolve_in_root(
    root_dir: str, rel: Any, fld: str, *, must_exist: bool = True
) -> tuple[str, str]:
    """``rel`` (relative to the root, ``/`` separators) → (normalised rel, absolute real path).

    Refuses absolute paths, ``..`` escapes and symlinks that lead outside the root.
    """
    rel = _text(rel, fld, fld, allow_empty=True)
    if rel.startswith("/") or rel.startswith("\\") or re.match(r"^[A-Za-z]:", rel):
        raise BadRequest(
            f"{fld} must be relative to the server's root directory, not absolute ({rel!r})",
            field=fld,
        )
    root = os.path.realpath(root_dir)
    candidate = os.path.realpath(os.path.join(root, rel))
    if candidate != root and not candidate.startswith(root + os.sep):
        raise BadRequest(f"{fld} {rel!r} is outside the server's root directory", field=fld)
    if must_exist and not os.path.exists(candidate):
        raise NotFound(f"{fld} {rel!r} does not exist", field=fld)
    norm = os.path.relpath(candidate, root)
    return ("" if norm == "." else norm.replace(os.sep, "/")), candidate


def parse_request(body: Any, root_dir: str) -> JobRequest:
    """Check the shape of a ``POST jobs`` body. Backend, profile and resources are checked later
    by the manager against the chosen spawner."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    unknown = set(body) - REQUEST_KEYS
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(sorted(map(repr, unknown)))};"
            f" known: {', '.join(sorted(REQUEST_KEYS))}",
            field=sorted(unknown)[0],
        )
    path = body.get("path")
    command = body.get("command")
    kind = body.get("kind")
    if kind is not None and kind not in ("script", "notebook", "command"):
        raise BadRequest(
            f"unknown kind {kind!r}; use 'script', 'notebook' or 'command'", field="kind"
        )
    if path is None and command is None:
        raise BadRequest("give either 'path' (a script or notebook) or 'command' (an argv list)")
    if path is not None and command is not None:
        raise BadRequest("give either 'path' or 'command', not both", field="command")

    rel_path = abs_path = None
    argv: list[str] = []
    if path is not None:
        rel_path, abs_path = resolve_in_root(root_dir, path, "path")
        if not rel_path:
            raise BadRequest("path must name a file, not the root directory", field="path")
        if os.path.isdir(abs_path):
            raise BadRequest(f"path {rel_path!r} is a directory, not a file", field="path")
        ext = os.path.splitext(abs_path)[1].lower()
        inferred = "notebook" if ext == ".ipynb" else "script"
        if kind == "command":
            raise BadRequest("kind 'command' takes 'command', not 'path'", field="kind")
        if kind is not None and kind != inferred:
            raise BadRequest(f"{rel_path!r} is not a {kind}", field="kind")
        kind = inferred
        if kind == "script" and ext not in SCRIPT_LANGUAGES:
            raise BadRequest(
                f"cannot run {rel_path!r}: supported files are .py, .sh, .R and .ipynb"
                " (or send 'command' as an argv list)",
                field="path",
            )
    else:
        if kind not in (None, "command"):
            raise BadRequest(f"kind {kind!r} takes 'path', not 'command'", field="kind")
        kind = "command"
        if not isinstance(command, list) or not command:
            raise BadRequest(
                'command must be a non-empty list of strings (an argv, e.g. ["python", "-V"])',
                field="command",
            )
        argv = [
            _text(a, "each command item", "command", allow_empty=True, max_len=MAX_ARG_LEN)
            for a in command
        ]
        if not argv[0].strip():
            raise BadRequest("the program (command[0]) must not be empty", field="command")

    args_in = body.get("args") or []
    if not isinstance(args_in, list):
        raise BadRequest("args must be a list of strings", field="args")
    if len(args_in) > MAX_ARGS:
        raise BadRequest(f"too many args ({len(args_in)}, at most {MAX_ARGS})", field="args")
    args = [
        _text(a, "each argument", "args", allow_empty=True, max_len=MAX_ARG_LEN) for a in args_in
    ]
    if kind == "notebook" and args:
        raise BadRequest("notebooks take 'parameters', not 'args'", field="args")

    env_in = body.get("env") or {}
    if not isinstance(env_in, dict):
        raise BadRequest("env must be an object of NAME: value strings", field="env")
    env: dict[str, str] = {}
    for k, v in env_in.items():
        if not ENV_NAME_RE.match(k):
            raise BadRequest(
                f"environment variable name {k!r} is invalid: use letters, digits and _,"
                " not starting with a digit",
                field="env",
            )
        if k in RESERVED_ENV:
            raise BadRequest(f"environment variable {k} is set by jupyter-jobs", field="env")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        env[k] = _text(v, f"the value of {k}", "env", allow_empty=True, max_len=MAX_ARG_LEN)

    if body.get("cwd") is not None:
        cwd, abs_cwd = resolve_in_root(root_dir, body["cwd"], "cwd")
        if not os.path.isdir(abs_cwd):
            raise BadRequest(f"cwd {cwd!r} is not a directory", field="cwd")
    elif abs_path is not None:
        abs_cwd = os.path.dirname(abs_path)
        cwd = os.path.dirname(rel_path or "")
    else:
        cwd, abs_cwd = "", os.path.realpath(root_dir)

    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequest("parameters must be an object of name: value", field="parameters")
    if parameters and kind != "notebook":
        raise BadRequest("parameters are for notebooks; scripts take 'args'", field="parameters")
    for k in parameters:
        if not k.isidentifier():
            raise BadRequest(f"parameter name {k!r} is not a valid Python name", field="parameters")

    if body.get("name") is not None:
        name = _display_name(body["name"])
    elif rel_path:
        name = os.path.basename(rel_path)
    else:
        name = " ".join(argv)[:MAX_NAME]

    for key in ("backend", "profile"):
        if body.get(key) is not None:
            _text(body[key], key, key, max_len=100)

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
    )


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
