"""The pure parts of sweeps: grid checks and expansion, parameters as arguments and environment,
the status of a sweep from its children's, SLURM array ranges and squeue's array task ids."""

from __future__ import annotations

import pytest

from jupyter_jobs import sweeps
from jupyter_jobs.exceptions import BadRequest


def test_grid_expands_in_key_order_last_name_fastest():
    grid = sweeps.check_grid({"alpha": [0.1, 0.5, 1.0], "seed": [0, 1, 2]})
    sets = sweeps.expand(grid)
    assert len(sets) == sweeps.count(grid) == 9
    assert sets[:4] == [
        {"alpha": 0.1, "seed": 0},
        {"alpha": 0.1, "seed": 1},
        {"alpha": 0.1, "seed": 2},
        {"alpha": 0.5, "seed": 0},
    ]


@pytest.mark.parametrize(
    "grid, words",
    [
        ({}, "must be parameter names and lists of values"),
        ({"a": 1}, "a must have a list of at least one value"),
        ({"class": [1]}, "is not a parameter name"),
        ({"a-b": [1]}, "is not a parameter name"),
        ({"a": [None]}, "has a null value"),
        ({"a": [float("nan")]}, "is not a finite number"),
        ({"a": [{"x": 1}]}, "must be numbers, text or true/false"),
        ({"a": list(range(1000)), "b": list(range(1000)), "c": [1, 2]}, "more than 1,000,000"),
    ],
)
def test_bad_grids_are_refused_in_words(grid, words):
    with pytest.raises(BadRequest) as e:
        sweeps.check_grid(grid)
    assert words in e.value.message
    assert e.value.field == "grid"


def test_parameter_sets_and_throttle():
    assert sweeps.check_parameter_sets([{"a": 1}, {"a": "x", "b": True}]) == [
        {"a": 1},
        {"a": "x", "b": True},
    ]
    for bad in ([], [1], [{"1": 1}], "x"):
        with pytest.raises(BadRequest):
            sweeps.check_parameter_sets(bad)
    assert sweeps.check_throttle(None) is None
    assert sweeps.check_throttle(4) == 4
    for bad in (0, -1, True, 1.5, "2"):
        with pytest.raises(BadRequest):
            sweeps.check_throttle(bad)


def test_parameters_as_args_and_env():
    params = {"alpha": 0.1, "seed": 0, "name": "x y", "flag": True}
    assert sweeps.as_args(params) == [
        "--alpha",
        "0.1",
        "--seed",
        "0",
        "--name",
        "x y",
        "--flag",
        "true",
    ]
    env = sweeps.as_env(params, each=True)
    assert env["JJ_PARAM_alpha"] == "0.1" and env["JJ_PARAM_name"] == "x y"
    assert env["JJ_PARAMETERS"] == '{"alpha": 0.1, "seed": 0, "name": "x y", "flag": true}'
    assert set(sweeps.as_env(params, each=False)) == {"JJ_PARAMETERS"}
    assert sweeps.check_parameters_as(None, "script") == "args"
    assert sweeps.check_parameters_as(None, "notebook") is None
    with pytest.raises(BadRequest):
        sweeps.check_parameters_as("env", "notebook")


@pytest.mark.parametrize(
    "counts, status",
    [
        ({"pending": 3}, "queued"),
        ({"queued": 2, "completed": 1}, "running"),
        ({"running": 1, "failed": 2}, "running"),
        ({"cancelling": 1, "cancelled": 2}, "cancelling"),
        ({"completed": 3}, "completed"),
        ({"completed": 2, "failed": 1}, "failed"),
        ({"completed": 2, "lost": 1}, "failed"),
        ({"completed": 2, "cancelled": 1}, "cancelled"),
        ({"failed": 1, "cancelled": 2}, "failed"),
    ],
)
def test_status_of_a_sweep_from_its_children(counts, status):
    assert sweeps.aggregate(counts, sum(counts.values())) == status


def test_array_spec():
    assert sweeps.array_spec(12, 2) == "0-11%2"
    assert sweeps.array_spec(1000, None) == "0-999"
    assert sweeps.array_spec(1, 1) == "0%1"


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("123_4", ("123", [4])),
        ("123_[2-11%2]", ("123", list(range(2, 12)))),
        ("123_[0-3]", ("123", [0, 1, 2, 3])),
        ("77_[1,3,5-7]", ("77", [1, 3, 5, 6, 7])),
        ("77_[9]", ("77", [9])),
        ("123", None),
        ("123_[a-b]", None),
        ("123_[5-2]", None),
        ("x_1", None),
    ],
)
def test_squeue_array_task_ids(text, parsed):
    assert sweeps.parse_array_id(text) == parsed
