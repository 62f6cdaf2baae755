"""Domain errors are told apart by their type, and each type has its HTTP answer in one place."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from jupyter_jobs import exceptions
from jupyter_jobs.exceptions import (
    AlreadyExists,
    BadRequest,
    EngineForbidden,
    EngineUnavailable,
    JobsError,
    NotFound,
    NotInstalled,
    StorageFull,
)
from jupyter_jobs.handlers.base import error_answer, error_status
from jupyter_jobs.spawners.slurm import SlurmSpawner

EXPECTED = {
    "BadRequest": 400,
    "NotFound": 404,
    "Conflict": 409,
    "AlreadyExists": 409,
    "PayloadTooLarge": 413,
    "UnsupportedMediaType": 415,
    "EngineError": 502,
    "EngineUnavailable": 503,
    "NotInstalled": 503,
    "EngineForbidden": 503,  # RBAC: the admin's to mend, never the user's 400
    "StorageFull": 507,
}


def test_every_error_type_has_its_status():
    types = {
        name: cls
        for name, cls in vars(exceptions).items()
        if inspect.isclass(cls) and issubclass(cls, JobsError) and cls is not JobsError
    }
    assert {name: error_status(cls("x")) for name, cls in types.items()} == EXPECTED
    assert error_status(JobsError("x")) == 500


def test_the_answer_is_the_status_and_the_json_body():
    assert error_answer(BadRequest("memory: 'lots' is not a size", field="resources.memory")) == (
        400,
        {"message": "memory: 'lots' is not a size", "field": "resources.memory"},
    )
    assert error_answer(NotFound("no job '\ud800'")) == (404, {"message": "no job '\\ud800'"})


def test_the_kinds_are_types_not_words():
    assert issubclass(AlreadyExists, exceptions.Conflict)
    assert issubclass(NotInstalled, EngineUnavailable)
    assert issubclass(EngineForbidden, EngineUnavailable)
    assert not issubclass(EngineForbidden, BadRequest)
    assert StorageFull.__module__ == "jupyter_jobs.exceptions"
    assert not hasattr(exceptions, "Forbidden")


def test_a_missing_slurm_command_is_not_installed(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NotInstalled, match="sbatch not found on PATH"):
        asyncio.run(SlurmSpawner().run(["sbatch", "--version"]))
