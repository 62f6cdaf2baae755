"""The state of the fake Kubernetes cluster behind ``fake_api.py``, and the controls tests use.

Objects (Jobs, Pods, Secrets) as plain camelCase dicts; a global ``resourceVersion``; the history
of pod events that watches replay (compacted on demand, so old versions get 410); a fake Job
controller (one pod per Job, ``backoffLimit: 0``; an Indexed Job's: ``fake_indexed.py``), the
garbage collector (owned Secrets go with their Job) and the kubelet's side (phases, container
states, log lines), driven by tests.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any

try:
    from . import fake_indexed
except ImportError:  # run as a script
    import fake_indexed  # type: ignore[no-redef]


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def matches(labels: dict[str, str], selector: str | None) -> bool:
    """``a=b,c!=d,e`` (equality, inequality and existence terms: what we use)."""
    for term in (selector or "").split(","):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.strip().rstrip("=")) != v.strip().lstrip("="):
                return False
        elif term not in labels:
            return False
    return True


def merge_patch(target: dict[str, Any], change: dict[str, Any]) -> None:
    """Apply a JSON merge patch (RFC 7386) to ``target`` in place."""
    for k, v in change.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            merge_patch(target[k], v)
        else:
            target[k] = json.loads(json.dumps(v))


class FakeCluster:
    """The fake cluster's state and the test-facing controls (no HTTP: see FakeKube)."""

    def __init__(self) -> None:
        self.rv = 100
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        #: batch/v1 CronJobs (no controller: a test fires one with ``fire_cronjob``)
        self.cronjobs: dict[tuple[str, str], dict[str, Any]] = {}
        #: pod events for watches: (rv, type, pod)
        self.history: list[tuple[int, str, dict[str, Any]]] = []
        self.compacted_rv = 0
        #: requests served, by operation ("POST jobs", "GET pods (watch)"…)
        self.calls: Counter[str] = Counter()
        self.deletes: list[dict[str, Any]] = []
        self.logs: dict[tuple[str, str], bytearray] = {}
        self._changed = asyncio.Event()
        #: open watch and log streams (to cut them)
        self._watch_handlers: set[Any] = set()
        self.bookmark_every: float | None = None

    # ------------------------------------------------------------------ object store

    def next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _pod_event(self, kind: str, pod: dict[str, Any]) -> None:
        pod["metadata"]["resourceVersion"] = self.next_rv()
        self.history.append((self.rv, kind, json.loads(json.dumps(pod))))
        self._changed.set()
        self._changed = asyncio.Event()

    def _new_meta(self, ns: str, meta: dict[str, Any]) -> dict[str, Any]:
        out = dict(meta)
        out["namespace"] = ns
        out["uid"] = str(uuid.uuid4())
        out["creationTimestamp"] = now()
        out["resourceVersion"] = self.next_rv()
        return out

    def create_job(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        if fake_indexed.is_indexed(body):  # a sweep's: its own controller (fake_indexed.py)
            return fake_indexed.create(self, ns, body)
        job = json.loads(json.dumps(body))
        job["metadata"] = self._new_meta(ns, job.get("metadata") or {})
        job["status"] = {"active": 1, "startTime": now()}
        name = job["metadata"]["name"]
        self.jobs[(ns, name)] = job
        template = job["spec"]["template"]
        labels = dict(template.get("metadata", {}).get("labels") or {})
        labels.update(
            {
                "job-name": name,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": job["metadata"]["uid"],
            }
        )
        pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                **self._new_meta(ns, {"name": pod_name}),
                "labels": labels,
                "annotations": dict(template.get("metadata", {}).get("annotations") or {}),
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
            "spec": json.loads(json.dumps(template["spec"])),
            "status": {"phase": "Pending", "qosClass": "Burstable"},
        }
        self.pods[(ns, pod_name)] = pod
        self._pod_event("ADDED", pod)
        return job

    # ------------------------------------------------------------------ CronJobs

    def create_cronjob(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        cronjob = json.loads(json.dumps(body))
        cronjob["metadata"] = self._new_meta(ns, cronjob.get("metadata") or {})
        cronjob["status"] = {}
        self.cronjobs[(ns, cronjob["metadata"]["name"])] = cronjob
        return cronjob

    def replace_cronjob(self, ns: str, name: str, body: dict[str, Any]) -> dict[str, Any] | None:
        old = self.cronjobs.get((ns, name))
        if old is None:
            return None
        cronjob = json.loads(json.dumps(body))
        meta = dict(cronjob.get("metadata") or {})
        meta.update({k: old["metadata"][k] for k in ("namespace", "uid", "creationTimestamp")})
        meta["resourceVersion"] = self.next_rv()
        cronjob["metadata"] = meta
        cronjob["status"] = old.get("status") or {}
        self.cronjobs[(ns, name)] = cronjob
        return cronjob

    def patch_cronjob(self, ns: str, name: str, patch: dict[str, Any]) -> dict[str, Any] | None:
        """A JSON merge patch (RFC 7386)."""
        cronjob = self.cronjobs.get((ns, name))
        if cronjob is None:
            return None
        merge_patch(cronjob, patch)
        cronjob["metadata"]["resourceVersion"] = self.next_rv()
        return cronjob

    def delete_cronjob(self, ns: str, name: str) -> dict[str, Any] | None:
        """Delete a CronJob (its Jobs stay: the client asks for ``Orphan``)."""
        return self.cronjobs.pop((ns, name), None)

    def fire_cronjob(self, ns: str, name: str, scheduled: datetime) -> dict[str, Any]:
        """What the CronJob controller does at an occurrence (the fake has no controller): a Job
        from the ``jobTemplate``, named ``<cronjob>-<minutes since the epoch>``, owned by the
        CronJob, with the ``scheduled-timestamp`` annotation. A suspended CronJob fires nothing."""
        cronjob = self.cronjobs[(ns, name)]
        if cronjob["spec"].get("suspend"):
            raise AssertionError(f"the CronJob {name} is suspended: the controller fires nothing")
        template = cronjob["spec"]["jobTemplate"]
        meta = template.get("metadata") or {}
        stamp = scheduled.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": f"{name}-{int(scheduled.timestamp()) // 60}",
                "labels": dict(meta.get("labels") or {}),
                "annotations": {
                    **(meta.get("annotations") or {}),
                    "batch.kubernetes.io/cronjob-scheduled-timestamp": stamp,
                },
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": name,
                        "uid": cronjob["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": json.loads(json.dumps(template["spec"])),
        }
        job = self.create_job(ns, body)
        cronjob["status"]["lastScheduleTime"] = stamp
        return job

    def pods_of(self, job_name: str, ns: str = "default") -> list[dict[str, Any]]:
        return [
            p
            for (n, _), p in self.pods.items()
            if n == ns and (p["metadata"].get("labels") or {}).get("job-name") == job_name
        ]

    def pod_of(self, job_name: str, ns: str = "default") -> dict[str, Any]:
        pods = self.pods_of(job_name, ns)
        assert len(pods) == 1, f"{job_name}: {len(pods)} pods"
        return pods[0]

    def delete_job(self, ns: str, name: str, policy: str | None) -> dict[str, Any] | None:
        job = self.jobs.pop((ns, name), None)
        if job is None:
            return None
        self.deletes.append({"namespace": ns, "name": name, "propagationPolicy": policy})
        if policy != "Orphan":
            for pod in self.pods_of(name, ns):
                if pod["status"].get("phase") in ("Pending", "Running"):
                    # the kubelet stops the container: SIGTERM → exit 143
                    pod["metadata"]["deletionTimestamp"] = now()
                    self._set_terminated(pod, 143, "Error", phase="Failed")
                    self._pod_event("MODIFIED", pod)
                del self.pods[(ns, pod["metadata"]["name"])]
                self._pod_event("DELETED", pod)
        uid = job["metadata"]["uid"]
        for key, secret in list(self.secrets.items()):
            owners = secret["metadata"].get("ownerReferences") or []
            if any(o.get("uid") == uid for o in owners):
                del self.secrets[key]
        return job

    # ------------------------------------------------------------------ driving pods (tests)

    def _set_terminated(
        self, pod: dict[str, Any], code: int, reason: str, phase: str, message: str = ""
    ) -> None:
        status = pod["status"]
        started = (
            (status.get("containerStatuses") or [{}])[0]
            .get("state", {})
            .get("running", {})
            .get("startedAt", now())
        )
        status["phase"] = phase
        status["containerStatuses"] = [
            {
                "name": pod["spec"]["containers"][0]["name"],
                "ready": False,
                "restartCount": 0,
                "image": pod["spec"]["containers"][0]["image"],
                "state": {
                    "terminated": {
                        "exitCode": code,
                        "reason": reason,
                        "startedAt": started,
                        "finishedAt": now(),
                        **({"message": message} if message else {}),
                    }
                },
            }
        ]

    def schedule_fail(self, pod: dict[str, Any], message: str) -> None:
        pod["status"]["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
            }
        ]
        self._pod_event("MODIFIED", pod)

    def wait_image(self, pod: dict[str, Any], reason: str, message: str) -> None:
        pod["spec"]["nodeName"] = "node-1"
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"}]
        pod["status"]["containerStatuses"] = [
            {
                "name": pod["spec"]["containers"][0]["name"],
                "ready": False,
                "restartCount": 0,
                "image": pod["spec"]["containers"][0]["image"],
                "state": {"waiting": {"reason": reason, "message": message}},
            }
        ]
        self._pod_event("MODIFIED", pod)

    def run(self, pod: dict[str, Any], node: str = "node-1", ip: str = "10.1.2.3") -> None:
        pod["spec"]["nodeName"] = node
        pod["status"].update(
            {
                "phase": "Running",
                "podIP": ip,
                "startTime": now(),
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "containerStatuses": [
                    {
                        "name": pod["spec"]["containers"][0]["name"],
                        "ready": True,
                        "restartCount": 0,
                        "image": pod["spec"]["containers"][0]["image"],
                        "state": {"running": {"startedAt": now()}},
                    }
                ],
            }
        )
        self.logs.setdefault(self._key(pod), bytearray())
        self._pod_event("MODIFIED", pod)

    def finish(
        self, pod: dict[str, Any], code: int = 0, reason: str | None = None, message: str = ""
    ) -> None:
        """The container exited with ``code``; ``message``: what it wrote to its termination log."""
        reason = reason or ("Completed" if code == 0 else "Error")
        self._set_terminated(pod, code, reason, "Succeeded" if code == 0 else "Failed", message)
        self._pod_event("MODIFIED", pod)
        if fake_indexed.finished(self, pod, code):
            return
        job = self.jobs.get((pod["metadata"]["namespace"], pod["metadata"]["labels"]["job-name"]))
        if job is not None:
            ok = code == 0
            job["status"] = {
                "succeeded" if ok else "failed": 1,
                "conditions": [
                    {
                        "type": "Complete" if ok else "Failed",
                        "status": "True",
                        **(
                            {}
                            if ok
                            else {
                                "reason": "BackoffLimitExceeded",
                                "message": "Job has reached the specified backoff limit",
                            }
                        ),
                    }
                ],
            }

    def deadline_exceeded(self, job_name: str, ns: str = "default") -> None:
        """The Job controller's ``activeDeadlineSeconds``: the Job fails and its pod is deleted."""
        job = self.jobs[(ns, job_name)]
        job["status"] = {
            "failed": 1,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "DeadlineExceeded",
                    "message": "Job was active longer than specified deadline",
                }
            ],
        }
        for pod in self.pods_of(job_name, ns):
            del self.pods[(ns, pod["metadata"]["name"])]
            self._pod_event("DELETED", pod)

    def _key(self, pod: dict[str, Any]) -> tuple[str, str]:
        return pod["metadata"]["namespace"], pod["metadata"]["name"]

    def append_log(self, pod: dict[str, Any], data: bytes) -> None:
        self.logs.setdefault(self._key(pod), bytearray()).extend(data)
        self._changed.set()
        self._changed = asyncio.Event()

    def add_pod(self, ns: str, pod: dict[str, Any]) -> None:
        """Put a pod there directly (the Jupyter server's own pod, for inheritance)."""
        pod = json.loads(json.dumps(pod))
        pod["metadata"] = self._new_meta(ns, pod["metadata"])
        self.pods[(ns, pod["metadata"]["name"])] = pod

    def drop_watches(self) -> None:
        """Cut every open watch, as a load balancer or an API server restart does."""
        for h in list(self._watch_handlers):
            h.abort()

    def compact(self) -> None:
        """Forget the event history: a watch resumed from an older resourceVersion gets 410."""
        self.compacted_rv = self.rv
        self.history.clear()

    async def changed(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass
