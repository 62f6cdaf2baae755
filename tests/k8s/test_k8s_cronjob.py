"""Job definitions on Kubernetes: the ``batch/v1`` CronJob built by the pure builder
(``k8s_objects.make_cronjob``), schema-valid for the oldest and newest supported Kubernetes, and
created, fired (the fake cluster has no CronJob controller: the test does what it does), suspended
and deleted through the real kubernetes_asyncio client against the loopback fake API."""

from __future__ import annotations

from datetime import datetime, timezone

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

from jupyter_jobs.models import Job
from jupyter_jobs.spawners import k8s_objects as objects
from jupyter_jobs.spawners.kubernetes import KubernetesSpawner

VERSIONS = (all_versions()[0], all_versions()[-1])
DEF_ID = "fedcba9876543210fedcba9876543210"
JOB_ID = "0123456789abcdef0123456789abcdef"


def definition(**over) -> dict:
    return {
        "id": DEF_ID,
        "revision": 3,
        "schedule": "0 6 * * 1-5",
        "timezone": "Europe/Berlin",
        "overlap": "skip",
        "active": True,
        "max_history": 20,
        **over,
    }


def template_job() -> dict:
    spawner = KubernetesSpawner(
        user="alice@example.org", inherit_server_pod=False, image="python:3.12"
    )
    spawner._ns = "jobs"
    job = Job(
        id=JOB_ID,
        name="report.ipynb",
        kind="command",
        backend="kubernetes",
        profile="default",
        argv=["python", "-c", "print('hi')"],
        resources={"cpus": 1, "memory": 2**30, "time_limit": 600},
        job_dir="/home/jovyan/.local/share/jupyter/jobs/" + JOB_ID,
        state={"cwd": "/home/jovyan"},
    )
    return spawner.build_job(job)


def cronjob(**over) -> dict:
    return objects.make_cronjob(definition=definition(**over), namespace="jobs", job=template_job())


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "over", [{}, {"active": False, "overlap": "allow"}, {"overlap": "queue", "max_history": 10_000}]
)
def test_the_cronjob_is_valid_for_oldest_and_newest_kubernetes(over, version):
    kubernetes_validate.validate(cronjob(**over), version, strict=True)


def test_an_invalid_cronjob_is_refused_by_the_schema():
    bad = cronjob()
    bad["spec"]["concurrencyPolicy"] = 7  # the schema's type is string
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)


@pytest.mark.parametrize(
    ("overlap", "policy"), [("skip", "Forbid"), ("queue", "Forbid"), ("allow", "Allow")]
)
def test_the_overlap_policy_is_the_concurrency_policy(overlap, policy):
    assert cronjob(overlap=overlap)["spec"]["concurrencyPolicy"] == policy


def test_schedule_time_zone_history_suspend_and_labels():
    cj = cronjob()
    spec = cj["spec"]
    assert spec["schedule"] == "0 6 * * 1-5" and spec["timeZone"] == "Europe/Berlin"
    assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 20
    assert spec["startingDeadlineSeconds"] == objects.STARTING_DEADLINE
    assert spec["suspend"] is False and cronjob(active=False)["spec"]["suspend"] is True
    assert cronjob(max_history=10_000)["spec"]["successfulJobsHistoryLimit"] == 100
    name = cj["metadata"]["name"]
    assert objects.is_dns1123_label(name) and len(name) <= objects.CRONJOB_NAME_MAX
    for meta in (cj["metadata"], spec["jobTemplate"]["metadata"],
                 spec["jobTemplate"]["spec"]["template"]["metadata"]):  # fmt: skip
        assert meta["labels"][objects.LABEL_DEFINITION_ID] == DEF_ID
        # each run is a job of its own: no one job's id or directory in the template
        assert objects.LABEL_JOB_ID not in meta["labels"]
        assert objects.ANNOTATION_JOB_DIR not in meta.get("annotations", {})
    assert cj["metadata"]["annotations"][objects.ANNOTATION_REVISION] == "3"
    # the template's pod is the one-off Job's pod (same container, command, resources)
    one_off = template_job()["spec"]["template"]["spec"]
    assert spec["jobTemplate"]["spec"]["template"]["spec"] == one_off
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0


def test_the_patch_suspends_and_resumes():
    assert objects.cronjob_patch(definition(active=False))["spec"] == {"suspend": True}
    patch = objects.cronjob_patch(definition(revision=4))
    assert patch["spec"] == {"suspend": False}
    assert patch["metadata"]["annotations"][objects.ANNOTATION_REVISION] == "4"


async def test_create_fire_suspend_and_delete_through_the_client(kube, make_spawner):
    spawner = await make_spawner()
    api = spawner._api()
    body = cronjob()
    name = body["metadata"]["name"]
    made = await api.create_cronjob("jobs", body)
    assert made["metadata"]["uid"] and ("jobs", name) in kube.cronjobs
    got = await api.get_cronjob("jobs", name)
    assert got is not None and got["spec"]["timeZone"] == "Europe/Berlin"

    # the controller's firing (simulated): a Job from the template, owned by the CronJob
    at = datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc)  # 06:00 in Berlin
    kube.fire_cronjob("jobs", name, at)
    runs = await api.list_jobs("jobs", objects.selector({objects.LABEL_DEFINITION_ID: DEF_ID}))
    assert len(runs) == 1
    run = runs[0]
    assert objects.definition_of(run) == DEF_ID
    owner = run["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "CronJob",
        name,
        made["metadata"]["uid"],
    )
    stamp = run["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert stamp == "2026-12-02T05:00:00Z"
    assert len(kube.pods_of(run["metadata"]["name"], "jobs")) == 1  # the Job made its pod

    # pause → suspend: true (validated by the fake's admission as a whole object)
    paused = await api.patch_cronjob("jobs", name, objects.cronjob_patch(definition(active=False)))
    assert paused is not None and paused["spec"]["suspend"] is True
    with pytest.raises(AssertionError, match="suspended"):
        kube.fire_cronjob("jobs", name, at)
    # edit → the whole CronJob replaced (new schedule), the uid kept
    edited = await api.replace_cronjob("jobs", cronjob(schedule="30 7 * * *", revision=5))
    assert edited["spec"]["schedule"] == "30 7 * * *" and edited["spec"]["suspend"] is False
    assert edited["metadata"]["uid"] == made["metadata"]["uid"]

    # delete → the CronJob is gone; its run stays (a job of its own, orphaned, not killed)
    assert await api.delete_cronjob("jobs", name) is True
    assert ("jobs", name) not in kube.cronjobs
    assert await api.get_cronjob("jobs", name) is None
    assert await api.delete_cronjob("jobs", name) is False
    assert await api.patch_cronjob("jobs", name, {"spec": {"suspend": True}}) is None
    assert ("jobs", run["metadata"]["name"]) in kube.jobs


async def test_the_fake_refuses_an_invalid_cronjob_as_admission_would(kube, make_spawner):
    from jupyter_jobs.exceptions import BadRequest

    spawner = await make_spawner()
    bad = cronjob()
    bad["spec"]["startingDeadlineSeconds"] = "soon"
    with pytest.raises(BadRequest, match="CronJob is invalid"):
        await spawner._api().create_cronjob("jobs", bad)
    assert not kube.cronjobs


def test_a_job_of_the_cronjob_is_recognised_as_a_run_and_others_are_not():
    fired = {
        "metadata": {
            "name": "jupyter-def-x-29409060",
            "uid": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
            "labels": {objects.LABEL_DEFINITION_ID: DEF_ID},
            "annotations": {
                objects.ANNOTATION_SCHEDULED: "2026-12-02T05:00:00Z",
                objects.ANNOTATION_REVISION: "3",
            },
            "ownerReferences": [{"kind": "CronJob", "name": "jupyter-def-x", "uid": "u"}],
        }
    }
    run = objects.cronjob_run(fired)
    assert run == {
        "definition_id": DEF_ID,
        "job_name": "jupyter-def-x-29409060",
        "job_id": "0b1c2d3e4f5061728394a5b6c7d8e9f0",
        "cronjob": "jupyter-def-x",
        "scheduled_for": datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc),
        "revision": 3,
    }
    # a bad or missing annotation: still a run, of an unknown occurrence and revision
    fired["metadata"]["annotations"] = {objects.ANNOTATION_SCHEDULED: "at six"}
    run = objects.cronjob_run(fired)
    assert run is not None and run["scheduled_for"] is None and run["revision"] is None
    # a one-off Job (no CronJob owner) or one without the definition label: not a run
    one_off = {**fired, "metadata": {**fired["metadata"], "ownerReferences": []}}
    assert objects.cronjob_run(one_off) is None
    unlabelled = {**fired, "metadata": {**fired["metadata"], "labels": {}}}
    assert objects.cronjob_run(unlabelled) is None
    assert objects.run_id_of({"metadata": {"uid": "not-a-uuid"}}) is None


async def test_the_fired_job_read_back_through_the_client_is_a_run(kube, make_spawner):
    spawner = await make_spawner()
    api = spawner._api()
    name = (await api.create_cronjob("jobs", cronjob()))["metadata"]["name"]
    at = datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc)
    kube.fire_cronjob("jobs", name, at)
    (listed,) = await api.list_jobs("jobs", objects.selector({objects.LABEL_DEFINITION_ID: DEF_ID}))
    run = objects.cronjob_run(listed)
    assert run is not None
    assert (run["definition_id"], run["cronjob"], run["scheduled_for"], run["revision"]) == (
        DEF_ID,
        name,
        at,
        3,
    )
    assert run["job_name"] == listed["metadata"]["name"]
    assert run["job_id"] == listed["metadata"]["uid"].replace("-", "")
    # the pod the Job made carries the same uid (controller-uid: the downward API's view)
    (pod,) = kube.pods_of(run["job_name"], "jobs")
    assert pod["metadata"]["labels"]["controller-uid"].replace("-", "") == run["job_id"]
