"""The one byte formatter and the one duration formatter (jupyter_jobs.units)."""

from __future__ import annotations

import ast
import pathlib

import pytest

from jupyter_jobs.models import parse_memory, parse_time_limit
from jupyter_jobs.units import format_bytes, format_duration

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "jupyter_jobs"


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1023 bytes"),
        (1024, "1K"),
        (1536, "1.5K"),
        (512 * 1024**2, "512M"),
        (1536 * 1024**2, "1.5G"),
        (4 * 1024**3, "4G"),
        (24684084 * 1024, "23.5G"),
        (1024**3 - 1, "1.0G"),  # never "1024.0M"
        (3 * 1024**4, "3T"),
        (2.7 * 1024**2, "2.7M"),  # a float (a usage sample) is fine
        (-5, "0 bytes"),
    ],
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize("n", [1024, 512 * 1024**2, 4 * 1024**3, 3 * 1024**4])
def test_a_whole_size_reads_back_as_itself(n):
    assert parse_memory(format_bytes(n)) == n


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "00:00:00"),
        (59, "00:00:59"),
        (600, "00:10:00"),
        (3600 * 4, "04:00:00"),
        (93600, "1-02:00:00"),
        (59.9, "00:00:59"),
        (-3, "00:00:00"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [1, 59, 3600, 93600, 365 * 86400])
def test_a_duration_reads_back_as_itself(seconds):
    assert parse_time_limit(format_duration(seconds)) == seconds


def test_no_other_module_defines_a_formatter_of_its_own():
    """Sizes and durations are spelled by units.py only: no other module of the package
    defines (or aliases) a function named like a byte or duration formatter."""
    names = ("format_bytes", "format_duration", "format_memory", "describe_memory", "_size",
             "_duration", "format_size", "human_size", "describe_time_left")  # fmt: skip
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "units.py" or "labextension" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
            if isinstance(node, ast.Assign):
                found += [
                    f"{path.relative_to(PACKAGE)}:{node.lineno} {t.id} ="
                    for t in node.targets
                    if isinstance(t, ast.Name) and t.id in names
                ]
    assert not found, found
