import pytest

from jupyter_jobs.exceptions import BadRequest
from jupyter_jobs.models import (
    Job,
    check_max_resources,
    normalize_resources,
    parse_memory,
    parse_time_limit,
)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("4G", 4 * 1024**3),
        ("512M", 512 * 1024**2),
        ("1.5GiB", int(1.5 * 1024**3)),
        (1000, 1000),
        ("2048", 2048),
        ("1t", 1024**4),
    ],
)
def test_parse_memory(value, expected):
    assert parse_memory(value) == expected


@pytest.mark.parametrize("value", ["", "lots", "4X", "-1G", 0, True, None, [1]])
def test_parse_memory_refuses(value):
    with pytest.raises(BadRequest):
        parse_memory(value)


@pytest.mark.parametrize(
    "value,expected",
    [(90, 90), ("90", 90), ("01:30", 90), ("04:00:00", 14400), ("1-02:00:00", 93600)],
)
def test_parse_time_limit(value, expected):
    assert parse_time_limit(value) == expected


@pytest.mark.parametrize("value", ["soon", "1:2:3:4", "", 0, "00:00:00", False])
def test_parse_time_limit_refuses(value):
    with pytest.raises(BadRequest):
        parse_time_limit(value)


def test_normalize_resources_units_and_errors():
    r = normalize_resources(
        {
            "cpus": "4",
            "memory": "1G",
            "time_limit": "00:10:00",
            "gpus": 0,
            "partition": "gpu-a100",
            "image": "quay.io/jupyter/scipy:2025",
        }
    )
    assert r == {
        "cpus": 4,
        "memory": 1024**3,
        "time_limit": 600,
        "gpus": 0,
        "partition": "gpu-a100",
        "image": "quay.io/jupyter/scipy:2025",
    }
    with pytest.raises(BadRequest) as e:
        normalize_resources({"partition": "x y"})
    assert e.value.field == "resources.partition"
    with pytest.raises(BadRequest):
        normalize_resources({"cpus": 1.5})
    with pytest.raises(BadRequest):
        normalize_resources("4 cpus")


def test_max_resources():
    check_max_resources({"cpus": 4}, {"cpus": 4})
    with pytest.raises(BadRequest) as e:
        check_max_resources({"memory": 8 * 1024**3}, {"memory": "4G"})
    assert "Memory: 8G is more than the profile allows (4G)" in e.value.message


def test_job_record_round_trip():
    job = Job(
        id="a" * 32,
        name="n",
        kind="script",
        backend="local",
        profile="default",
        state={"runner_pid": 5},
        argv=["python", "x.py"],
    )
    again = Job.from_record(job.to_record())
    assert again == job
    assert "state" not in job.to_dict() and "job_dir" not in job.to_dict()
