"""The fake cluster's Indexed Job controller (``completionMode: Indexed``), as Kubernetes' Job
controller does it with ``backoffLimit: 0``:

- at most ``parallelism`` pods at once, created for the lowest indexes not started yet; each
  pod named ``<job>-<index>-<random>``, with the ``batch.kubernetes.io/job-completion-index``
  annotation and label and the ``JOB_COMPLETION_INDEX`` variable (a ``fieldRef`` to that
  annotation, as the controller injects it);
- a pod that succeeds completes its index (``status.succeeded``, ``completedIndexes``), and the
  next index gets a pod; the Job is ``Complete`` when every index is;
- a pod that fails fails the Job (``BackoffLimitExceeded``): the other active pods are stopped
  and deleted, and no index starts any more.

:class:`~.fake_cluster.FakeCluster` calls :func:`create` from ``create_job`` and
:func:`finished` from ``finish``; ``delete_job`` removes the pods as for any Job.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

INDEX = "batch.kubernetes.io/job-completion-index"
ENV = "JOB_COMPLETION_INDEX"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Indexed:
    """What the controller tracks of one Indexed Job."""

    completions: int
    parallelism: int
    next: int = 0
    #: index → the name of its (one) pod while it is active
    active: dict[int, str] = field(default_factory=dict)
    succeeded: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    #: the most pods that were active at once (for the tests)
    most_active: int = 0


def is_indexed(body: dict[str, Any]) -> bool:
    return (body.get("spec") or {}).get("completionMode") == "Indexed"


def _state(cluster: Any) -> dict[tuple[str, str], Indexed]:
    return cluster.__dict__.setdefault("indexed", {})


def ranges(indexes: set[int]) -> str:
    """``completedIndexes``: ``0-2,4``."""
    out: list[str] = []
    for i in sorted(indexes):
        if out and "-" not in out[-1] and int(out[-1]) == i - 1:
            out[-1] = f"{out[-1]}-{i}"
        elif out and "-" in out[-1] and int(out[-1].split("-")[1]) == i - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        else:
            out.append(str(i))
    return ",".join(out)


def create(cluster: Any, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    job = json.loads(json.dumps(body))
    job["metadata"] = cluster._new_meta(ns, job.get("metadata") or {})
    spec = job["spec"]
    completions = int(spec["completions"])
    parallelism = int(spec.get("parallelism", 1))
    job["status"] = {"active": 0, "succeeded": 0, "failed": 0, "startTime": now()}
    name = job["metadata"]["name"]
    cluster.jobs[(ns, name)] = job
    _state(cluster)[(ns, name)] = Indexed(completions, parallelism)
    _fill(cluster, ns, name)
    return job


def _fill(cluster: Any, ns: str, name: str) -> None:
    st = _state(cluster).get((ns, name))
    job = cluster.jobs.get((ns, name))
    if st is None or job is None:
        return
    while not st.failed and len(st.active) < st.parallelism and st.next < st.completions:
        st.active[st.next] = _make_pod(cluster, ns, job, st.next)
        st.next += 1
    st.most_active = max(st.most_active, len(st.active))
    job["status"]["active"] = len(st.active)


def _make_pod(cluster: Any, ns: str, job: dict[str, Any], index: int) -> str:
    name = job["metadata"]["name"]
    template = job["spec"]["template"]
    labels = dict(template.get("metadata", {}).get("labels") or {})
    labels.update(
        {
            "job-name": name,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": job["metadata"]["uid"],
            INDEX: str(index),
        }
    )
    annotations = dict(template.get("metadata", {}).get("annotations") or {})
    annotations[INDEX] = str(index)
    spec = json.loads(json.dumps(template["spec"]))
    for container in spec["containers"]:
        container.setdefault("env", []).append(
            {
                "name": ENV,
                "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{INDEX}']"}},
            }
        )
    pod_name = f"{name}-{index}-{uuid.uuid4().hex[:5]}"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **cluster._new_meta(ns, {"name": pod_name}),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": name,
                    "uid": job["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": "Burstable"},
    }
    cluster.pods[(ns, pod_name)] = pod
    cluster._pod_event("ADDED", pod)
    return pod_name


def finished(cluster: Any, pod: dict[str, Any], code: int) -> bool:
    """A pod of an Indexed Job ended with ``code`` (its phase is set already): count its index,
    start the next, or fail the Job. False for a pod of any other Job."""
    labels = pod["metadata"].get("labels") or {}
    if INDEX not in labels:
        return False
    ns = pod["metadata"]["namespace"]
    name = labels["job-name"]
    st = _state(cluster).get((ns, name))
    job = cluster.jobs.get((ns, name))
    if st is None or job is None:
        return True  # its Job was deleted: nothing counts any more
    index = int(labels[INDEX])
    st.active.pop(index, None)
    status = job["status"]
    if code == 0:
        st.succeeded.add(index)
        status["succeeded"] = len(st.succeeded)
        status["completedIndexes"] = ranges(st.succeeded)
    else:
        st.failed.add(index)
        status["failed"] = len(st.failed)
        status["conditions"] = [
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
        ]
        for other, pod_name in list(st.active.items()):  # the controller stops the rest
            other_pod = cluster.pods.get((ns, pod_name))
            st.active.pop(other)
            if other_pod is None:
                continue
            other_pod["metadata"]["deletionTimestamp"] = now()
            cluster._set_terminated(other_pod, 143, "Error", phase="Failed")
            cluster._pod_event("MODIFIED", other_pod)
            del cluster.pods[(ns, pod_name)]
            cluster._pod_event("DELETED", other_pod)
        status["active"] = 0
        return True
    if len(st.succeeded) == st.completions:
        status["active"] = 0
        status["completionTime"] = now()
        status["conditions"] = [{"type": "Complete", "status": "True"}]
        return True
    _fill(cluster, ns, name)
    return True


def most_active(cluster: Any, ns: str, name: str) -> int:
    """The most pods of the Indexed Job that were active at once."""
    return _state(cluster)[(ns, name)].most_active
