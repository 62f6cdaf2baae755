"""A sweep's Indexed Job (``k8s_objects.make_indexed_job``): built from the spawner's own one-run
Job manifest, valid against the official schemas of the oldest and newest Kubernetes that
kubernetes_validate knows (strict: no unknown field), ``completionMode: Indexed``,
``completions`` = the children, ``parallelism`` = the throttle, and the pod's command is the
runner's array mode that picks ``children[JOB_COMPLETION_INDEX]``."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

from jupyter_jobs.models import Job
from jupyter_jobs.spawners import k8s_objects as objects
from jupyter_jobs.spawners.kubernetes import KubernetesSpawner

VERSIONS = (all_versions()[0], all_versions()[-1])
SWEEP_ID = "0123456789abcdef0123456789abcdef"
SWEEP_DIR = "/home/jovyan/.local/share/jupyter/jobs/" + SWEEP_ID


def sweep_manifest() -> dict:
    spawner = KubernetesSpawner(user="alice@example.org", inherit_server_pod=False, image="py:3")
    spawner._ns = "jobs"
    sweep = Job(
        id=SWEEP_ID,
        name="train.ipynb",
        kind="command",
        backend="kubernetes",
        profile="default",
        argv=["python", "-m", "jupyter_jobs.runner", "--array", SWEEP_DIR],
        resources={"cpus": 1, "memory": 2**30, "time_limit": 600},
        job_dir=SWEEP_DIR,
        state={"cwd": "/home/jovyan"},
    )
    return spawner.build_job(sweep)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("completions, throttle", [(12, 2), (1, None), (10_000, 64)])
def test_the_indexed_job_is_valid_for_oldest_and_newest_kubernetes(version, completions, throttle):
    job = objects.make_indexed_job(
        sweep_manifest(),
        completions=completions,
        parallelism=throttle,
        name=objects.sweep_object_name(SWEEP_ID),
    )
    kubernetes_validate.validate(job, version, strict=True)
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == completions
    assert spec["parallelism"] == (throttle or completions)
    assert spec["backoffLimit"] == 0
    assert job["metadata"]["name"] == "jupyter-sweep-0123456789ab"
    assert job["metadata"]["labels"][objects.LABEL_COMPONENT] == "sweep"


def test_an_invalid_indexed_job_is_refused_by_the_schema():
    job = objects.make_indexed_job(sweep_manifest(), completions=3, parallelism=1)
    bad = copy.deepcopy(job)
    bad["spec"]["completions"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)
    with pytest.raises(ValueError):
        objects.make_indexed_job(sweep_manifest(), completions=0, parallelism=1)


def test_parallelism_is_at_most_the_completions_and_the_builder_is_pure():
    base = sweep_manifest()
    before = copy.deepcopy(base)
    job = objects.make_indexed_job(base, completions=3, parallelism=8)
    assert job["spec"]["parallelism"] == 3
    assert base == before  # the one-run manifest is left as it was


def test_a_pod_tells_its_completion_index():
    assert (
        objects.completion_index({"metadata": {"annotations": {objects.COMPLETION_INDEX: "7"}}})
        == 7
    )
    assert objects.completion_index({"metadata": {"labels": {objects.COMPLETION_INDEX: "0"}}}) == 0
    assert objects.completion_index({"metadata": {}}) is None
