"""The validation boundary's parsers on their own (jupyter_jobs/wire.py, models, validation)."""

from __future__ import annotations

import functools
import json
import time

import pytest

from jupyter_jobs import wire
from jupyter_jobs.exceptions import BadRequest, NotFound, UnsupportedMediaType
from jupyter_jobs.models import normalize_resources, parse_memory, parse_time_limit
from jupyter_jobs.validation import env_refusal, parse_request


def refused(fn, *args, field=None, words=""):
    with pytest.raises(BadRequest) as e:
        fn(*args)
    assert words in e.value.message, e.value.message
    if field is not None:
        assert e.value.field == field, e.value.to_dict()
    json.dumps(e.value.to_dict()).encode("utf-8")  # an answer UTF-8 can carry
    return e.value


# ---------------------------------------------------------------- JSON bodies


@pytest.mark.parametrize(
    "body,field,words",
    [
        (b'{"a": NaN}', "a", "NaN and Infinity are not JSON"),
        (b'{"a": [Infinity]}', "a", "NaN and Infinity"),
        (b'{"a": -Infinity}', "a", "NaN and Infinity"),
        (b'{"a": 1e400}', "a", "too large"),
        (b'{"resources": {"cpus": 9223372036854775808}}', "resources.cpus", "64 bits"),
        (b'{"a": -9223372036854775809}', "a", "64 bits"),
        (b'{"a": ' + b"1" * 5000 + b"}", "a", "64 bits"),
        (b'{"env": {"X": "\\ud800"}}', "env", "surrogate"),
        (b'{"env": {"\\udfff": "x"}}', "env", "surrogate"),
        (b'{"a": 1, "a": 2}', "a", "twice"),
        (b'{"env": {"X": 1, "X": 2}}', "env", "twice"),
        (b"\xff", None, "UTF-8"),
        (b"{not json", None, "not valid JSON"),
    ],
)
def test_strict_json(body, field, words):
    refused(wire.parse_json_body, body, field=field, words=words)


def test_numbers_at_the_64_bit_edges_are_kept():
    data = wire.parse_json_body(b'{"a": 9223372036854775807, "b": -9223372036854775808, "c": 1.5}')
    assert data == {"a": 2**63 - 1, "b": -(2**63), "c": 1.5}


@pytest.mark.parametrize("depth", [33, 1000, 200_000])
def test_deep_nesting_is_refused_quickly_without_recursion(depth):
    t0 = time.monotonic()
    refused(wire.parse_json_body, b"[" * depth + b"]" * depth, words="32 levels")
    assert time.monotonic() - t0 < 1.0


def test_nesting_inside_strings_does_not_count():
    body = json.dumps({"name": "[" * 1000, "parameters": {"a": [[[1]]]}}).encode()
    assert wire.parse_json_body(body)["name"] == "[" * 1000
    assert wire.parse_json_body(b"[" * 32 + b"]" * 32)


@pytest.mark.parametrize(
    "header,body,ok",
    [
        ("application/json", b"{}", True),
        ("Application/JSON; charset=UTF-8", b"{}", True),
        ('application/json; charset="utf-8"', b"{}", True),
        (None, b"", True),
        ("application/x-www-form-urlencoded", b"", True),
        (None, b"{}", False),
        ("text/plain", b"{}", False),
        ("application/json-patch+json", b"{}", False),
        ("application/json; charset=latin-1", b"{}", False),
    ],
)
def test_content_type(header, body, ok):
    if ok:
        wire.check_content_type(header, body)
    else:
        with pytest.raises(UnsupportedMediaType):
            wire.check_content_type(header, body)


# ---------------------------------------------------------------- query and path


@pytest.mark.parametrize(
    "values,words",
    [
        ([""], "empty"),
        (["٣"], "digits 0-9"),
        (["²"], "digits 0-9"),
        (["+1"], "digits 0-9"),
        ([" 1"], "digits 0-9"),
        (["1e3"], "digits 0-9"),
        ([str(2**70)], "at most"),
        (["1", "2"], "once"),
        (["0"], "at least 1"),
        (["1001"], "at most 1000"),
    ],
)
def test_int_param(values, words):
    limit = functools.partial(wire.int_param, minimum=1, maximum=1000)
    refused(limit, values, "limit", 100, field="limit", words=words)


def test_int_param_accepts_ascii_digits_in_range():
    assert wire.int_param([], "limit", 100, minimum=1, maximum=1000) == 100
    assert wire.int_param(["0007"], "limit", 100, minimum=1, maximum=1000) == 7
    assert wire.int_param(["0" * 50 + "5"], "offset", 0) == 5
    with pytest.raises(BadRequest):
        wire.int_param(["0"], "limit", 100, minimum=1, maximum=1000)


def test_list_param():
    assert wire.list_param(
        ["failed,completed", "queued"], "status", ("failed", "completed", "queued")
    )
    assert wire.list_param([], "status", ("failed",)) is None
    for values in ([""], ["failed,"], ["sleeping"]):
        refused(wire.list_param, values, "status", ("failed",), field="status")
    refused(wire.list_param, ["a\udcff"], "backend", None, field="backend")


@pytest.mark.parametrize("job_id", ["", "a/b", "a\n", "\udcff", "x" * 129, "-a", "ü", "a b"])
def test_job_ids_no_job_can_have(job_id):
    with pytest.raises(NotFound) as e:
        wire.check_job_id(job_id)
    assert e.value.field == "job_id"
    json.dumps(e.value.to_dict()).encode("utf-8")


def test_job_ids():
    assert wire.check_job_id("0123456789abcdef0123456789abcdef")
    assert wire.check_job_id("does-not-exist")


# ---------------------------------------------------------------- resources, env, requests


@pytest.mark.parametrize(
    "value,words",
    [
        ("99:99:99", "0-59"),
        ("01:60", "0-59"),
        ("1-24:00:00", "0-23"),
        ("366-00:00:00", "365 days"),
        (1e308, "365 days"),
        (float("nan"), "not a duration"),
        (float("inf"), "not a duration"),
        ("٣", "not a duration"),
        (0, "more than 0"),
    ],
)
def test_time_limit_ranges(value, words):
    refused(parse_time_limit, value, words=words)


def test_time_limits_that_fit():
    assert parse_time_limit("1-23:59:59") == 86400 + 86399
    assert parse_time_limit("90") == 90  # plain seconds may exceed 59
    assert parse_time_limit("90:00") == 5400  # minutes alone may exceed 59
    assert parse_time_limit("100:00:00") == 360000  # hours without days may exceed 23
    assert parse_time_limit(365 * 86400) == 365 * 86400


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), 2**70, "99999999999999P", "٣G", "1" * 100 + "G"]
)
def test_memory_out_of_range(value):
    refused(parse_memory, value)


@pytest.mark.parametrize("value", [2**70, "٣", "²", 1e308, " 2", float("nan")])
def test_counts_out_of_range(value):
    refused(normalize_resources, {"cpus": value}, field="resources.cpus")


@pytest.mark.parametrize(
    "name",
    [
        "LD_PRELOAD",
        "ld_audit",
        "Ld_Library_Path",
        "DYLD_INSERT_LIBRARIES",
        "_RLD_LIST",
        "BASH_ENV",
        "pythonstartup",
        "NODE_OPTIONS",
        "JUPYTER_JOBS_DIR",
        "jupyter_jobs_anything",
    ],
)
def test_env_policy_refuses(name):
    assert env_refusal(name)


@pytest.mark.parametrize("name", ["PATH", "PYTHONPATH", "R_LIBS", "OMP_NUM_THREADS", "LDAP_URI"])
def test_env_policy_allows(name):
    assert env_refusal(name) is None


def test_requests_refuse_lone_surrogates_even_without_the_wire(tmp_path):
    (tmp_path / "a.py").write_text("")
    for body, field in [
        ({"path": "a.py", "name": "\ud800"}, "name"),
        ({"command": ["x\ud800"]}, "command"),
        ({"path": "a.py", "args": ["\ud800"]}, "args"),
        ({"path": "a.py", "env": {"X": "\ud800"}}, "env"),
    ]:
        refused(parse_request, body, str(tmp_path), field=field, words="surrogate")


def test_a_file_named_as_a_folder_is_refused(tmp_path):
    (tmp_path / "hello.py").write_text("")
    refused(parse_request, {"path": "hello.py/"}, str(tmp_path), field="path", words="trailing")
    assert parse_request({"path": "hello.py"}, str(tmp_path)).path == "hello.py"
