"""A sweep on Kubernetes: ONE Indexed Job (``completionMode: Indexed``) for all its children.

:meth:`KubernetesSpawner.submit_array <.kubernetes.KubernetesSpawner.submit_array>` creates one
``batch/v1`` Job with ``completions`` = the children and ``parallelism`` = the throttle (all at
once without one); its pods run ``python -m jupyter_jobs.runner --array SWEEP_DIR``, and each
finds its child as ``children[JOB_COMPLETION_INDEX]`` of the sweep's ``sweep.json``. One create
call for the whole sweep, and Kubernetes, not the server, keeps at most the throttle running.

What this module adds to the spawner (docs/kubernetes.md, "Sweeps"):

- which child a pod runs: the pod's completion index (annotation, or label from 1.28) in
  ``sweep.json`` of the sweep directory its ``job-dir`` annotation names (read once per sweep);
  the child's status, log (``output.log``, written by the runner in the child's directory) and
  usage are its own, as for a one-run Job;
- a child with no pod yet (waiting for its turn) is settled from its runner status or, at most
  once per ``missing_pod_grace`` per sweep (not per child), from the Indexed Job's status;
- cancel of one child: Kubernetes has no per-index cancel (short of ``podFailurePolicy`` and
  ``backoffLimitPerIndex``, and a deleted pod fails the whole Job with ``backoffLimit: 0``), so
  the cancel request in the child's directory (``cancel.json``, which every cancel writes) stops
  it: a running child's runner stops the command and exits 0, and a child whose pod has not
  started yet is cancelled at once (its pod, when its turn comes, finds the request and exits at
  once without running anything). The other children run on;
- cancel of the sweep: one delete of the Indexed Job (``propagationPolicy: Background``);
- a rerun of the failed children is a new sweep (:func:`jupyter_jobs.sweeps.rerun_sets`): one new
  Indexed Job of just those.

A sweep whose image has no jupyter-jobs (``runner_in_image`` false) cannot pick its child by
index: :func:`submit_array` returns None and the children run as one Job each, through the
manager's queue (at most the throttle at once), as before.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .. import jobfiles
from ..exceptions import BadRequest
from ..models import CANCELLED, FAILED, FINAL_STATUSES, LOST, QUEUED, Job, JobUpdate
from ..sweeps import SWEEP_FILE
from . import k8s_objects as objects

#: the :class:`~.kubernetes.KubernetesSpawner` (not imported: it imports this module)
KubernetesSpawner = Any

#: a child's ``state``: the Indexed Job it runs in, and its index there
STATE_JOB = "sweep_job"
STATE_INDEX = "completion_index"
#: the sweep's ``state``: its Indexed Job (as ``array_id``, "namespace/name")
STATE_ARRAY = "array_id"


def child_ref(namespace: str, name: str, index: int) -> str:
    """A child's ``backend_ref``: ``<namespace>/<job>[<index>]``."""
    return f"{namespace}/{name}[{index}]"


def is_array_child(job: Job) -> bool:
    return bool(job.state.get(STATE_JOB)) and job.state.get(STATE_INDEX) is not None


def is_sweep_pod(pod: dict[str, Any]) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return labels.get(objects.LABEL_COMPONENT) == "sweep"


def child_dir(sweep_dir: str, child_id: str) -> str:
    """A child's directory: a sibling of its sweep's, named by its id (as the runner finds it)."""
    return os.path.join(os.path.dirname(os.path.abspath(sweep_dir)), child_id)


class SweepPods:
    """Which child each pod of a sweep's Indexed Job runs, and the Indexed Jobs' last status."""

    def __init__(self) -> None:
        #: sweep directory → its children's ids (``sweep.json``), in index order
        self._children: dict[str, list[str]] = {}
        #: "namespace/name" of an Indexed Job → (when read, the Job or None when gone)
        self._jobs: dict[str, tuple[float, dict[str, Any] | None]] = {}

    def remember(self, sweep_dir: str, children: list[str]) -> None:
        self._children[os.path.abspath(sweep_dir)] = list(children)

    def children_of(self, sweep_dir: str) -> list[str]:
        key = os.path.abspath(sweep_dir)
        found = self._children.get(key)
        if found is None:
            data = jobfiles.read_json(os.path.join(key, SWEEP_FILE))
            children = data.get("children") if isinstance(data, dict) else None
            if not isinstance(children, list) or not children:
                return []  # not written yet: read again next time
            found = self._children[key] = [str(c) for c in children]
        return found

    def job_of(self, pod: dict[str, Any]) -> str | None:
        """The job a pod runs: its job-id label, or for a sweep's pod the child at its index."""
        meta = pod.get("metadata") or {}
        job_id = (meta.get("labels") or {}).get(objects.LABEL_JOB_ID)
        if not job_id or not is_sweep_pod(pod):
            return job_id
        index = objects.completion_index(pod)
        sweep_dir = (meta.get("annotations") or {}).get(objects.ANNOTATION_JOB_DIR)
        if index is None or not sweep_dir:
            return None
        children = self.children_of(sweep_dir)
        return children[index] if index < len(children) else None

    def job_dir_of(self, pod: dict[str, Any], job_id: str) -> str | None:
        """The directory of the job ``job_id`` a pod runs (for a sweep's pod: the child's)."""
        job_dir = ((pod.get("metadata") or {}).get("annotations") or {}).get(
            objects.ANNOTATION_JOB_DIR
        )
        if job_dir and is_sweep_pod(pod):
            return child_dir(job_dir, job_id)
        return job_dir

    async def indexed_job(
        self, spawner: KubernetesSpawner, namespace: str, name: str
    ) -> tuple[bool, dict[str, Any] | None]:
        """The Indexed Job, read at most once per ``missing_pod_grace`` whatever the number of
        its children that ask: (whether it was read now or is known, the Job or None)."""
        key = f"{namespace}/{name}"
        now = time.monotonic()
        seen = self._jobs.get(key)
        if seen is None:
            # the first look only starts the clock: a new Job's pods come with the watch
            self._jobs[key] = (now, {})
            return False, None
        if now - seen[0] < spawner.missing_pod_grace:
            return (seen[1] != {}), (seen[1] or None)
        found = await spawner._api().get_job(namespace, name)
        self._jobs[key] = (now, found)
        return True, found

    def forget_job(self, namespace: str, name: str) -> None:
        self._jobs.pop(f"{namespace}/{name}", None)


# ------------------------------------------------------------------ the engine's side


def array_manifest(
    spawner: KubernetesSpawner, sweep: Job, n: int, throttle: int | None
) -> dict[str, Any]:
    """The sweep's Indexed Job: the spawner's one-run Job of the sweep (image, volumes,
    resources, labels), with the runner's array mode as the command. The sweep's time limit is
    each child's: the pod-level ``activeDeadlineSeconds`` (a backstop, 60 s after the runner
    stops the command itself), not the Job's, which would count the whole sweep."""
    one = spawner.build_job(sweep)
    argv = [spawner.runner_python, "-m", "jupyter_jobs.runner", "--array", sweep.job_dir]
    one["spec"]["template"]["spec"]["containers"][0]["command"] = argv
    deadline = one["spec"].pop("activeDeadlineSeconds", None)
    if deadline:
        one["spec"]["template"]["spec"]["activeDeadlineSeconds"] = deadline
    return objects.make_indexed_job(
        one, completions=n, parallelism=throttle, name=objects.sweep_object_name(sweep.id)
    )


async def submit_array(
    spawner: KubernetesSpawner, sweep: Job, children: list[Job], throttle: int | None
) -> dict[str, JobUpdate] | None:
    """One create of the sweep's Indexed Job: updates by child id (each child's ``backend_ref``
    and ``state`` name the Job and its index), and under ``""`` the Job ("namespace/name").
    None when the image cannot run the runner: the children then run one Job each."""
    from ..exceptions import AlreadyExists

    api = spawner._api()
    await spawner._inherit()
    if not spawner._runs_runner(sweep.resources):
        return None
    try:
        manifest = array_manifest(spawner, sweep, len(children), throttle)
    except ValueError as e:  # extra_pod_config with an unknown field
        raise BadRequest(str(e), field="resources.extra")
    name = manifest["metadata"]["name"]
    ns = spawner._ns
    spawner.sweeps.remember(sweep.job_dir, [c.id for c in children])
    try:
        await api.create_job(ns, manifest)
    except AlreadyExists:
        pass  # a retried submit: the Job is there
    parallelism = manifest["spec"]["parallelism"]
    array_id = f"{ns}/{name}"
    updates = {
        "": JobUpdate(
            backend_ref=array_id,
            reason=f"Kubernetes Indexed Job {array_id} (at most {parallelism} pods at once)",
        )
    }
    submitted = time.time()
    for child in children:
        index = int(child.index if child.index is not None else children.index(child))
        updates[child.id] = JobUpdate(
            status=QUEUED,
            backend_ref=child_ref(ns, name, index),
            reason=f"submitted as index {index} of the Kubernetes Indexed Job {array_id}",
            state={
                "namespace": ns,
                "job_name": name,
                STATE_JOB: name,
                STATE_INDEX: index,
                "submitted": submitted,
                "runner": True,
            },
        )
    return updates


async def cancel_array(spawner: KubernetesSpawner, array_id: str) -> bool:
    """One delete of the sweep's Indexed Job (``Background``: the garbage collector removes its
    pods, the kubelet stops them). True when the Job was there."""
    ns, _, name = array_id.rpartition("/")
    ns = ns or spawner._ns
    for pod in spawner.reflector.pods.values() if spawner.reflector else ():
        if (pod["metadata"].get("labels") or {}).get("job-name") == name:
            child = spawner.sweeps.job_of(pod)
            if child:
                spawner._cancelling.add(child)
    existed = await spawner._api().delete_job(ns, name, "Background")
    spawner.sweeps.forget_job(ns, name)
    return bool(existed)


async def cancel_child(spawner: KubernetesSpawner, job: Job) -> JobUpdate | None:
    """Cancel ONE child of an Indexed Job (its ``cancel.json`` is written by the manager): see
    the module's docstring. The Job and the other children are left alone."""
    jobfiles.request_cancel(job.job_dir, by="kubernetes")
    pod = spawner._pods_by_job().get(job.id)
    if pod is None:
        status = jobfiles.read_status(job.job_dir)
        if jobfiles.runner_final(status):
            return None  # it ended meanwhile: the next poll reports how
        return JobUpdate(
            status=CANCELLED,
            reason="cancelled before it started",
            state={"cancel_requested": True},
        )
    update = objects.pod_update(pod)
    if update.status in FINAL_STATUSES:
        return spawner._update_for(job.id, pod)  # it ended before the cancel arrived
    # running (or its pod is starting): its runner stops it within a second; the watch reports
    return JobUpdate(state={"cancel_requested": True})


async def without_pod(spawner: KubernetesSpawner, job: Job) -> JobUpdate | None:
    """A child whose pod is not in the watch's cache: waiting for its turn, or gone after its
    end (the Job's TTL). Its runner status first, else the Indexed Job's (one read per sweep)."""
    if job.id in spawner._cancelling:
        return JobUpdate(status=CANCELLED, reason="cancelled")
    status = jobfiles.read_status(job.job_dir) if job.job_dir else None
    name = str(job.state[STATE_JOB])
    ns = str(job.state.get("namespace") or spawner._ns)
    if jobfiles.runner_final(status):
        return objects.update_without_pod(name, None, status)
    known, k8s_job = await spawner.sweeps.indexed_job(spawner, ns, name)
    if not known:
        return None
    if k8s_job is None:
        if jobfiles.cancel_requested(job.job_dir):
            return JobUpdate(status=CANCELLED, reason="cancelled")
        return JobUpdate(
            status=LOST,
            reason=f"the Kubernetes Indexed Job {ns}/{name} is gone and this run's result was"
            " never seen",
        )
    failure = objects.job_failure(k8s_job)
    if failure:
        return JobUpdate(
            status=FAILED,
            reason=f"the sweep's Indexed Job {name} stopped before this run ended: {failure}",
        )
    return None  # waiting for its turn (at most parallelism pods at once)


async def explain_deleted(spawner: KubernetesSpawner, job_id: str, pod: dict[str, Any]) -> None:
    """A sweep pod deleted before its end was seen, nobody here having cancelled it."""
    job_dir = spawner.sweeps.job_dir_of(pod, job_id) or ""
    status = jobfiles.read_status(job_dir) if job_dir else None
    if jobfiles.runner_final(status):
        update = objects.update_without_pod("", None, status)
    elif job_dir and jobfiles.cancel_requested(job_dir):
        update = JobUpdate(status=CANCELLED, reason="cancelled")
    else:
        name = (pod["metadata"].get("labels") or {}).get("job-name") or ""
        update = JobUpdate(
            status=FAILED,
            reason=f"its pod {pod['metadata'].get('name')} of the Indexed Job {name} was deleted"
            " before the run ended",
        )
    spawner._push(job_id, update)


async def cleanup(spawner: KubernetesSpawner, job: Job) -> bool:
    """A deleted record: a child leaves the sweep's Job alone (the sweep's own cleanup deletes
    it); a sweep deletes its Indexed Job. True when handled here."""
    if is_array_child(job):
        spawner._forget(job.id)
        return True
    if job.kind == "sweep":
        array_id = job.state.get(STATE_ARRAY)
        if array_id and spawner.client is not None:
            ns, _, name = str(array_id).rpartition("/")
            await spawner.client.delete_job(ns or spawner._ns, name, "Background")
            spawner.sweeps.forget_job(ns, name)
        return True
    return False
