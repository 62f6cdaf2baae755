"""What arrives over HTTP, parsed strictly before anything else sees it.

The handlers (:mod:`jupyter_jobs.handlers`) pass every body, query parameter and path parameter
through these functions; the manager only ever sees what they let through:

- bodies: ``Content-Type: application/json`` (415 otherwise, unless the body is empty), strict
  UTF-8, strict JSON — no ``NaN``/``Infinity``, whole numbers within 64 bits, finite numbers, no key
  given twice, at most :data:`MAX_DEPTH` levels of nesting, and no text that cannot be stored as
  UTF-8 (lone surrogates such as ``"\\ud800"``), keys included;
- query parameters: ASCII digits only for numbers, within their documented ranges, never empty;
- job ids: :data:`JOB_ID_PATTERN`.

Every refusal is a :class:`~jupyter_jobs.exceptions.JobsError` (400, 404, 415) whose ``field``
names the part of the request at fault. docs/CONTRACT.md ("Validation") lists the limits.

Messages are for people: they name a field by its label (:data:`FIELD_LABELS`, the words of the
run dialog: "Memory: 'lots' is not a size (try 4G or 512M)"), while ``field`` keeps the request's
own name (``resources.memory``) for programs and for the dialog to show the message at its field.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .exceptions import BadRequest, NotFound, UnsupportedMediaType

#: deepest nesting of arrays and objects a body may have (a job request needs 4)
MAX_DEPTH = 32
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1
#: job ids are ``uuid4().hex``; the pattern also admits other simple ids (letters, digits, . _ -)
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_JOB_ID_RE = re.compile(JOB_ID_PATTERN)
_DIGITS_RE = re.compile(r"[0-9]+")
#: a JSON string (used only to skip strings when measuring the nesting depth)
_STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS_RE = re.compile(rb"[\[\]{}]")
#: at most this many values of a list query parameter (``status=a,b,...``)
MAX_LIST_VALUES = 100
_NAME_VALUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}$")

#: what a person calls each field of a job request (the run dialog's labels): the one table
#: every message of the server uses to name a field. ``field`` in an answer keeps the key.
FIELD_LABELS = {
    "path": "Path",
    "command": "Command",
    "args": "Arguments",
    "name": "Name",
    "kind": "Kind",
    "env": "Environment",
    "cwd": "Working directory",
    "backend": "Backend",
    "profile": "Profile",
    "parameters": "Parameters",
    "resources": "Resources",
    "resources.cpus": "CPUs",
    "resources.memory": "Memory",
    "resources.gpus": "GPUs",
    "resources.time_limit": "Time limit",
    "resources.partition": "Partition",
    "resources.queue": "Queue",
    "resources.account": "Account",
    "resources.qos": "QoS",
    "resources.image": "Image",
    "resources.extra": "Extra options",
    # reports, notifications, pinned inputs (issue 12)
    "output_formats": "Output formats",
    "report": "Report",
    "notify": "Notifications",
    "extra_files": "Extra files",
    "input": "Input",
    # dependencies (issue 13)
    "after": "Wait for",
    "when": "Start when",
    # job definitions (issue 12)
    "schedule": "Schedule",
    "timezone": "Time zone",
    "active": "Active",
    "overlap": "Overlap",
    "retries": "Retries",
    "retry_delay": "Retry delay",
    "max_history": "History limit",
    # sweeps (issue 13)
    "grid": "Grid",
    "parameter_sets": "Parameter sets",
    "throttle": "Throttle",
    "parameters_as": "Parameters as",
    "only": "Only",
}


def label(field: str) -> str:
    """The label of a request field (``resources.memory`` → ``Memory``); other names (an
    administrator's ``profile.resources.cpus``) are shown as they are."""
    return FIELD_LABELS.get(field, field)


def show(value: Any, limit: int = 60) -> str:
    """``repr`` of a user's value for a message: short, and ASCII-safe for lone surrogates."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def safe_text(value: str) -> str:
    """``value`` with anything UTF-8 cannot hold escaped (for fields named in an answer)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


# ------------------------------------------------------------------------------ bodies


def check_content_type(header: str | None, body: bytes) -> None:
    """415 unless a non-empty body is sent as ``application/json`` (charset, if any, UTF-8).

    An empty body (``POST jobs/{id}/cancel``, a rerun without overrides) may come with any
    Content-Type or none: HTTP clients add ``application/x-www-form-urlencoded`` to empty POSTs.
    """
    if not body.strip():
        return
    if not header:
        raise UnsupportedMediaType(
            "the request body must be JSON sent with 'Content-Type: application/json'"
            " (the request had no Content-Type)"
        )
    mime, _, params = header.partition(";")
    mime = mime.strip().lower()
    if mime != "application/json":
        raise UnsupportedMediaType(
            f"the request body must be JSON sent with 'Content-Type: application/json',"
            f" not {show(mime)}"
        )
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
            if charset not in ("utf-8", "utf8"):
                raise UnsupportedMediaType(
                    f"the request body must be UTF-8 JSON ('Content-Type: application/json'),"
                    f" not charset {show(charset)}"
                )


class _Refused:
    """A value the JSON parser met that jupyter-jobs cannot accept; reported with its place."""

    def __init__(self, text: str, why: str):
        self.text = text
        self.why = why


def _parse_int(text: str) -> int | _Refused:
    if len(text) <= 20:
        value = int(text)
        if MIN_INT <= value <= MAX_INT:
            return value
    return _Refused(text, "is too large: whole numbers must fit in 64 bits")


def _parse_float(text: str) -> float | _Refused:
    value = float(text)
    if not math.isfinite(value):
        return _Refused(text, "is too large to be a number")
    return value


def _parse_constant(text: str) -> _Refused:
    return _Refused(text, "is not a number JSON allows (NaN and Infinity are not JSON)")


class _DuplicateKeys(dict):
    duplicate: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            dup = _DuplicateKeys(out)
            dup.duplicate = key
            return dup
        out[key] = value
    return out


def _nesting_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in ``body`` (strings skipped), without recursion."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    for bracket in _BRACKETS_RE.findall(_STRING_RE.sub(b'""', body)):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        else:
            depth -= 1
    return deepest


def field_of(path: tuple[Any, ...]) -> str | None:
    """The request field a place in the body belongs to: ``name``, ``env``, ``resources.cpus``."""
    keys = [safe_text(k) for k in path if isinstance(k, str)]
    if not keys:
        return None
    if keys[0] == "resources" and len(keys) > 1:
        return f"resources.{keys[1]}"
    return keys[0]


def _json_path(path: tuple[Any, ...]) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{safe_text(p)}" for p in path]
    return "".join(parts).lstrip(".")


def _where(path: tuple[Any, ...]) -> str:
    """A place in a request body in a person's words: ``Memory``, ``Argument 2``,
    ``Environment variable HOME``, ``Parameter sizes [1]``; the JSON path where no label fits."""
    if not path:
        return "the request body"
    head, key, rest = path[0], path[1] if len(path) > 1 else None, path[2:]
    if head == "resources" and isinstance(key, str) and f"resources.{key}" in FIELD_LABELS:
        place = label(f"resources.{key}")
    elif head in ("env", "parameters") and isinstance(key, str):
        place = f"{'Environment variable' if head == 'env' else 'Parameter'} {safe_text(key)}"
    elif head in ("args", "command") and isinstance(key, int):
        place = f"{'Argument' if head == 'args' else 'Command word'} {key + 1}"
    elif isinstance(head, str) and head in FIELD_LABELS:
        place, rest = label(head), path[1:]
    else:
        return _json_path(path)
    return f"{place} {_json_path(rest)}" if rest else place


def parse_json_body(body: bytes) -> Any:
    """Strict JSON: see the module's docstring. ``body`` must not be empty."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest(
            f"the request body is not valid UTF-8 (byte {e.start}): send JSON as UTF-8 text"
        ) from None
    depth = _nesting_depth(body)
    if depth > MAX_DEPTH:
        raise BadRequest(
            f"the request body nests arrays and objects more than {MAX_DEPTH} levels deep"
        )
    try:
        data = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=_pairs,
        )
    except RecursionError:
        raise BadRequest(
            f"the request body nests arrays and objects more than {MAX_DEPTH} levels deep"
        ) from None
    except ValueError as e:
        raise BadRequest(f"the request body is not valid JSON: {e}") from None
    check_json_value(data)
    return data


def check_json_value(data: Any) -> None:
    """Walk a parsed document (iteratively) and refuse what :func:`parse_json_body` promises
    to refuse; the first fault wins and is named by its field."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise BadRequest(
                f"{_where(path)} is nested more than {MAX_DEPTH} levels deep", field=field_of(path)
            )
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, _Refused):
            raise BadRequest(
                f"{_where(path)}: {show(value.text)} {value.why}", field=field_of(path)
            )
        elif isinstance(value, float) and not math.isfinite(value):
            raise BadRequest(
                f"{_where(path)}: {value} is not a finite number", field=field_of(path)
            )
        elif isinstance(value, int) and not isinstance(value, bool):
            if not MIN_INT <= value <= MAX_INT:
                raise BadRequest(
                    f"{_where(path)}: {value} is too large: whole numbers must fit in 64 bits",
                    field=field_of(path),
                )
        elif isinstance(value, dict):
            if isinstance(value, _DuplicateKeys):
                inner = (*path, value.duplicate)
                raise BadRequest(
                    f"{_where(inner)} is given twice; give each field once", field=field_of(inner)
                )
            for key, item in value.items():
                _check_text(key, (*path, key), is_key=True)
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                stack.append((item, (*path, i)))


def _check_text(value: str, path: tuple[Any, ...], *, is_key: bool = False) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        what = "the name" if is_key else "the text"
        parent = path[:-1] if is_key else path
        raise BadRequest(
            f"{_where(parent)}: {what} {show(value)} holds {show(value[e.start : e.end])},"
            " which is not a Unicode character (a lone surrogate); send valid UTF-8 text",
            field=field_of(parent),
        ) from None


# ------------------------------------------------------------------------------ query and path


def check_job_id(job_id: str) -> str:
    """A path's job id: 404 for one no job can have (wrong characters, not UTF-8, too long)."""
    if not _JOB_ID_RE.fullmatch(job_id):
        raise NotFound(f"no job {show(job_id)} (job ids are letters and digits)", field="job_id")
    return job_id


def id_prefix_param(values: list[str], name: str = "id") -> str | None:
    """A job id or its start (``GET jobs?id=1a2b``): once, in the letters of job ids."""
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"give {name} once, not {len(values)} times", field=name)
    if not _JOB_ID_RE.fullmatch(values[0]):
        raise BadRequest(
            f"{show(values[0])} is not the start of a job id (job ids are letters and digits)",
            field=name,
        )
    return values[0]


def int_param(
    values: list[str], name: str, default: int | None, *, minimum: int = 0, maximum: int = MAX_INT
) -> int | None:
    """A whole-number query parameter: ASCII digits, once, not empty, within its range."""
    if not values:
        return default
    if len(values) > 1:
        raise BadRequest(f"give {name} once, not {len(values)} times", field=name)
    raw = values[0]
    if raw == "":
        raise BadRequest(f"{name} is empty: give a whole number or leave {name} out", field=name)
    if not _DIGITS_RE.fullmatch(raw):
        raise BadRequest(
            f"{name} must be a whole number written with the digits 0-9, not {show(raw)}",
            field=name,
        )
    digits = raw.lstrip("0") or "0"
    if len(digits) > 19 or int(digits) > maximum:
        raise BadRequest(f"{name} must be at most {maximum}, not {show(raw)}", field=name)
    value = int(digits)
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}, not {value}", field=name)
    return value


def list_param(values: list[str], name: str, allowed: tuple[str, ...] | None) -> list[str] | None:
    """A list query parameter (repeated and/or comma-separated); no empty items.

    ``allowed`` is the enum of its items; ``None`` means names (``backend``).
    """
    items = [item for raw in values for item in raw.split(",")]
    if not items:
        return None
    if len(items) > MAX_LIST_VALUES:
        raise BadRequest(f"give at most {MAX_LIST_VALUES} values of {name}", field=name)
    for item in items:
        if item == "":
            raise BadRequest(
                f"{name} has an empty value: give {name}=a,b or leave {name} out", field=name
            )
        if allowed is not None and item not in allowed:
            raise BadRequest(
                f"unknown {name} {show(item)}; known: {', '.join(allowed)}", field=name
            )
        if allowed is None and not _NAME_VALUE_RE.fullmatch(item):
            raise BadRequest(
                f"{name} {show(item)} is not a name (letters, digits and . _ : / @ + -)",
                field=name,
            )
    return items


#: ``jobs?q``: at most this many characters, none of them a control character
MAX_SEARCH_LENGTH = 200
SEARCH_PATTERN = r"[^\x00-\x1f\x7f]*"
_SEARCH_RE = re.compile(SEARCH_PATTERN)


def search_param(values: list[str], name: str) -> str | None:
    """A search text (``q``): once, ≤ :data:`MAX_SEARCH_LENGTH` characters of UTF-8 text without
    control characters. Empty means no search."""
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"give {name} once, not {len(values)} times", field=name)
    raw = values[0]
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(
            f"the search text {show(raw)} is not UTF-8 text; search for letters, digits or words",
            field=name,
        ) from None
    if len(raw) > MAX_SEARCH_LENGTH:
        raise BadRequest(
            f"the search text is {len(raw)} characters long; search for at most"
            f" {MAX_SEARCH_LENGTH}",
            field=name,
        )
    if not _SEARCH_RE.fullmatch(raw):
        raise BadRequest(
            f"the search text {show(raw)} holds a control character (a tab or a line break);"
            " search for a part of one line of a name or path",
            field=name,
        )
    return raw or None


def token_param(values: list[str], name: str, pattern: str, what: str) -> str | None:
    """An opaque token a previous answer gave (``changed_since``): once, matching ``pattern``."""
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"give {name} once, not {len(values)} times", field=name)
    raw = values[0]
    if not re.fullmatch(pattern, raw):
        raise BadRequest(
            f"{name} must be the {what} of an earlier answer, as it was given, not {show(raw)}",
            field=name,
        )
    return raw
