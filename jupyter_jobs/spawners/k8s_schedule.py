"""Job definitions on Kubernetes, fired by the engine: a ``batch/v1`` CronJob per definition
(docs/kubernetes.md, "Schedules").

- **Arranging** (:meth:`Schedules.arrange`, the spawner's ``arrange_next_run``): the definition's
  run is prepared once per revision in its directory (``definitions/<id>/prepared-run-<revision>``: the
  record, ``spec.json`` and pinned input of a run under a placeholder id, built by the same steps
  as a submit), and the CronJob made from the one-off Job the spawner builds for it
  (:func:`~.k8s_objects.make_cronjob`); an existing one is replaced (an edit keeps its uid).
  Images with jupyter-jobs run ``python -m jupyter_jobs.k8s_run <prepared run>`` (the pod makes
  its own job directory, no server needed); others run the command itself.
- **Withdrawing** (``withdraw_runs``): a paused (or about to be re-arranged) definition's CronJob
  is suspended; a deleted one's CronJob is deleted (its Jobs stay: runs of their own).
- **Recording** (:meth:`Schedules.tick`, each look at the definitions): the Jobs the CronJobs made
  (one list call for all of the user's definitions) not recorded yet become runs — exactly once
  over every server of the job root: the ``k8s-<Job name>`` marker (``O_EXCL``) in the
  definition's directory. The run's id is its Job's uid (:func:`~.k8s_objects.run_id_of`), its
  directory a clone of the prepared run (:func:`jupyter_jobs.k8s_run.clone_run`: the pod may have
  made it first), handed to the manager (:meth:`~jupyter_jobs.manager.JobManager.adopt_record`),
  which follows it like any job. The same look repairs a CronJob missing or behind its definition
  (the API was down when it was changed), once per revision.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from datetime import datetime
from typing import Any

from .. import jobfiles, k8s_run, pins
from ..commands import build_argv
from ..exceptions import (
    AlreadyExists,
    BadRequest,
    EngineForbidden,
    EngineUnavailable,
    JobsError,
)
from ..models import Job, isoformat, utcnow
from ..validation import parse_request
from . import k8s_objects as objects

DEFINITIONS_DIR = "definitions"
#: the marker of a recorded run, in the definition's directory: ``k8s-<Job name>``
RECORDED_PREFIX = "k8s-"
#: prepared runs kept per definition (the newest revisions: a pod of the one before may start late)
KEEP_TEMPLATES = 2
#: seconds a marker of a Job the cluster no longer has is kept (then removed)
MARKER_TTL = 600.0
#: seconds one list of the definitions' Jobs is used for (one call per look, for all definitions)
LIST_TTL = 1.0


def _label_env(name: str, label: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{label}']"}}}


#: the downward-API environment :mod:`jupyter_jobs.k8s_run` reads (Kubernetes ≥ 1.27 sets the
#: ``batch.kubernetes.io/`` labels; older ones only the short ones)
DOWNWARD_ENV = [
    _label_env(k8s_run.ENV_UID[0], "batch.kubernetes.io/controller-uid"),
    _label_env(k8s_run.ENV_UID[1], "controller-uid"),
    _label_env(k8s_run.ENV_JOB_NAME[0], "batch.kubernetes.io/job-name"),
    _label_env(k8s_run.ENV_JOB_NAME[1], "job-name"),
    {"name": k8s_run.ENV_NAMESPACE, "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
]


def _revision_of(cronjob: dict[str, Any]) -> int:
    """The definition revision a CronJob was made or last changed for (0: unknown)."""
    raw = ((cronjob.get("metadata") or {}).get("annotations") or {}).get(
        objects.ANNOTATION_REVISION
    )
    return int(raw) if isinstance(raw, str) and raw.isdigit() else 0


def template_dir(def_dir: str, revision: Any) -> str:
    return os.path.join(def_dir, f"{k8s_run.TEMPLATE_PREFIX}{int(revision)}")


def templates(def_dir: str) -> list[tuple[int, str]]:
    """The prepared runs of a definition, ``(revision, path)``, oldest first."""
    try:
        names = os.listdir(def_dir)
    except OSError:
        return []
    out = []
    for n in names:
        suffix = n[len(k8s_run.TEMPLATE_PREFIX) :]
        if n.startswith(k8s_run.TEMPLATE_PREFIX) and suffix.isdigit():
            out.append((int(suffix), os.path.join(def_dir, n)))
    return sorted(out)


class Schedules:
    """The CronJobs of one Kubernetes spawner's definitions, and the recording of their runs."""

    def __init__(self, spawner: Any):
        #: the :class:`~.kubernetes.KubernetesSpawner` (not imported: it imports this module)
        self.spawner = spawner
        #: per definition: the (revision, active) its CronJob was last seen or made for
        self.arranged: dict[str, tuple[int, bool]] = {}
        self._listed: tuple[float, dict[str, list[dict[str, Any]]]] | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        #: per definition: the last "cannot reach the engine" message logged
        self._said: dict[str, str] = {}

    @property
    def log(self) -> Any:
        return self.spawner.log

    def def_dir(self, definition_id: str) -> str:
        return os.path.join(self.spawner.job_root, DEFINITIONS_DIR, definition_id)

    def _manager(self) -> Any:
        manager = getattr(self.spawner, "parent", None)
        if manager is None or not hasattr(manager, "adopt_record"):
            raise EngineUnavailable("the Kubernetes backend's schedules need its job manager")
        return manager

    def run_dir(self, pod: dict[str, Any], job_id: str) -> str | None:
        """The directory of a CronJob's run (its pods have no job-dir annotation: each run is
        ``<job_root>/<its id>``) when this server owns the run; else None (another server
        follows it and copies its log: one copy, not two appending to the same file)."""
        if not job_id or not objects.definition_of(pod):
            return None
        manager: Any = getattr(self.spawner, "parent", None)
        job = getattr(manager, "active", {}).get(job_id)
        if job is None or not manager.mine(job):
            return None
        return str(job.job_dir) or None

    # ------------------------------------------------------------------ the prepared run

    def prepare(self, manager: Any, definition: dict[str, Any]) -> Job:
        """The run of ``definition`` as a submit would make it (argv, spec, pinned input), in
        ``prepared-run-<revision>`` of its directory under a placeholder id; made once per revision
        (created whole: renamed into place). The job, its ``job_dir`` the prepared run."""
        from ..definitions import job_keys

        spawner = self.spawner
        body = {k: definition[k] for k in job_keys() if k in definition}
        if definition.get("path") and definition.get("name") == os.path.basename(
            definition["path"]
        ):
            body.pop("name", None)  # named after its file, as the runs of a submit are
        req = parse_request(body, manager.root_dir)
        job, profile = manager.job_of_request(
            req, spawner, definition_id=definition["id"], attempt=1
        )
        def_dir = self.def_dir(definition["id"])
        dest = template_dir(def_dir, definition["revision"])
        job.job_dir = dest
        meta = jobfiles.read_json(os.path.join(dest, k8s_run.TEMPLATE_META))
        if isinstance(meta, dict) and isinstance(meta.get("template_id"), str):
            job.id = meta["template_id"]  # prepared already: the same ids in the command
        copies, extra_spec = pins.plan(job, req, profile, dest, manager.root_dir)
        job.argv = build_argv(
            job,
            req,
            spawner,
            profile,
            manager.root_dir,
            manager.output_dir,
            run_path=job.pinned_path,
        )
        job.owner = k8s_run.ENGINE_OWNER
        job.state = {"cwd": req.abs_cwd}
        if os.path.isdir(dest):
            return job  # prepared already (by this server or another, for this revision)
        tmp = os.path.join(def_dir, f".{k8s_run.TEMPLATE_PREFIX}{os.urandom(4).hex()}")
        try:
            os.makedirs(tmp, mode=0o700)
            jobfiles.write_json(
                os.path.join(tmp, jobfiles.SPEC),
                manager.runner_spec(job, req.abs_cwd, spawner, extra_spec),
            )
            for rel, source in copies.items():
                path = os.path.join(tmp, rel)
                os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
                shutil.copyfile(source, path)
                os.chmod(path, 0o600)
            jobfiles.write_json(
                os.path.join(tmp, k8s_run.TEMPLATE_META),
                {
                    "definition_id": definition["id"],
                    "revision": definition["revision"],
                    "template_id": job.id,
                    "root_dir": os.path.abspath(manager.root_dir),
                },
            )
            jobfiles.write_json(os.path.join(tmp, jobfiles.RECORD), job.to_record(), fsync=True)
            try:
                os.rename(tmp, dest)
            except OSError:
                if not os.path.isdir(dest):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another server was first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for _, old in templates(def_dir)[:-KEEP_TEMPLATES]:
            shutil.rmtree(old, ignore_errors=True)
        return job

    def cronjob(self, definition: dict[str, Any], job: Job) -> dict[str, Any]:
        """The CronJob of ``definition`` whose runs are ``job`` (:meth:`prepare`)."""
        try:
            manifest = self.spawner.build_job(job)
        except ValueError as e:  # extra_pod_config with an unknown field
            raise BadRequest(str(e), field="resources.extra")
        template = manifest["spec"]["template"]
        if template["metadata"]["annotations"].get(objects.ANNOTATION_RUNNER) == "true":
            container = template["spec"]["containers"][0]
            container["command"] = [
                self.spawner.runner_python,
                "-m",
                "jupyter_jobs.k8s_run",
                job.job_dir,
            ]
            container["env"] = [*container.get("env", []), *DOWNWARD_ENV]
        return objects.make_cronjob(definition=definition, namespace=self.spawner._ns, job=manifest)

    # ------------------------------------------------------------------ the hooks

    def _lock(self, definition_id: str) -> asyncio.Lock:
        return self._locks.setdefault(definition_id, asyncio.Lock())

    def _fresh(self, definition_id: str) -> dict[str, Any] | None:
        data = jobfiles.read_json(os.path.join(self.def_dir(definition_id), "definition.json"))
        return data if isinstance(data, dict) and data.get("id") == definition_id else None

    async def arrange(self, definition: dict[str, Any]) -> None:
        """Create the definition's CronJob, or replace it (an edit, a resume: the uid stays).
        One change of a definition at a time on this server; a change made since (the file in
        the job root is newer) or a CronJob made for a newer revision (another server) wins."""
        async with self._lock(str(definition["id"])):
            fresh = self._fresh(str(definition["id"]))
            if fresh is None or fresh.get("revision") != definition.get("revision"):
                return  # deleted or changed meanwhile: that change arranges (or withdraws) itself
            try:
                await self._arrange(definition)
            except EngineForbidden:
                raise  # an RBAC grant is missing: the user is told (503), the admin must act
            except EngineUnavailable as e:  # unreachable, not connected: the next looks mend it
                self.log.warning(
                    "jupyter-jobs: definition %s: the CronJob is made when Kubernetes answers: %s",
                    definition["id"],
                    e.message,
                )

    async def _arrange(self, definition: dict[str, Any]) -> None:
        spawner = self.spawner
        api = spawner._api()
        await spawner._inherit()
        job = self.prepare(self._manager(), definition)
        body = self.cronjob(definition, job)
        ns, name = spawner._ns, body["metadata"]["name"]
        try:
            await api.create_cronjob(ns, body)
        except AlreadyExists:
            old = await api.get_cronjob(ns, name)
            if old is None:
                await api.create_cronjob(ns, body)
            elif _revision_of(old) > int(definition["revision"]):
                return  # another server arranged a newer revision
            else:
                body["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
                await api.replace_cronjob(ns, body)
        self.arranged[definition["id"]] = (int(definition["revision"]), True)
        self.log.info(
            "jupyter-jobs: definition %s: CronJob %s/%s (%s, %s)",
            definition["id"],
            ns,
            name,
            definition["schedule"],
            definition.get("timezone"),
        )

    async def withdraw(self, definition: dict[str, Any]) -> None:
        """Still in the job root (paused, or about to be arranged again) → suspended; deleted →
        the CronJob deleted (``Orphan``: the Jobs it made stay, runs of their own)."""
        definition_id = str(definition["id"])
        async with self._lock(definition_id):
            await self._withdraw(definition)

    async def _withdraw(self, definition: dict[str, Any]) -> None:
        api = self.spawner._api()
        definition_id = str(definition["id"])
        name = objects.cronjob_name(definition_id)
        self.arranged.pop(definition_id, None)
        if self._fresh(definition_id) is not None:
            patch = objects.cronjob_patch({**definition, "active": False})
            if await api.patch_cronjob(self.spawner._ns, name, patch) is not None:
                self.arranged[definition_id] = (int(definition["revision"]), False)
        else:
            await api.delete_cronjob(self.spawner._ns, name)

    # ------------------------------------------------------------------ each look

    async def tick(self, record: dict[str, Any], manager: Any) -> None:
        """One look at a definition: its CronJob in step with it, its new runs recorded."""
        try:
            await self._keep(str(record["id"]))
            self._said.pop(record["id"], None)
        except EngineUnavailable as e:
            if isinstance(e, EngineForbidden):  # tried again at the next revision, not each look
                self.arranged[record["id"]] = (int(record["revision"]), bool(record.get("active")))
            if self._said.get(record["id"]) != e.message:  # once, not at every look
                self._said[record["id"]] = e.message
                self.log.info("jupyter-jobs: definition %s: %s", record["id"], e.message)
            return
        except JobsError as e:  # refused (a 400): once per revision, logged
            self.arranged[record["id"]] = (int(record["revision"]), bool(record.get("active")))
            self.log.warning(
                "jupyter-jobs: definition %s: the CronJob cannot be made: %s",
                record["id"],
                e.message,
            )
        await self.record_runs(record, manager)
        # a failed run's retries (``retries``, ``retry_delay``): made by a running server, as
        # one-off Jobs of the same occurrence (``attempt`` + 1), once each (``retry-<job id>``)
        definitions = getattr(manager, "definitions", None)
        if record.get("retries") and definitions is not None:
            await definitions._retry_failed(record, utcnow())

    async def _keep(self, definition_id: str) -> None:
        """The CronJob missing, behind, or in the wrong pause state (a change made while the API
        was away, or by a server that could not reach it): arranged or suspended again. Looked
        at once per revision and server, with the definition as it is in the job root now."""
        async with self._lock(definition_id):
            record = self._fresh(definition_id)
            if record is None:
                return
            key = (int(record["revision"]), bool(record.get("active")))
            if self.arranged.get(definition_id) == key:
                return
            api = self.spawner._api()
            found = await api.get_cronjob(self.spawner._ns, objects.cronjob_name(definition_id))
            suspended = bool(((found or {}).get("spec") or {}).get("suspend"))
            behind = found is None or _revision_of(found) < key[0]
            if record.get("active"):
                if behind or suspended:
                    await self._arrange(record)
            elif found is not None and not suspended and _revision_of(found) <= key[0]:
                await self._withdraw(record)
            self.arranged[definition_id] = key

    async def _jobs_by_definition(self) -> dict[str, list[dict[str, Any]]]:
        """The Jobs of all of the user's definitions (one call; reused for :data:`LIST_TTL`)."""
        listed = self._listed
        if listed is not None and time.monotonic() - listed[0] < LIST_TTL:
            return listed[1]
        spawner = self.spawner
        selector = objects.selector(objects.base_labels(spawner.user))
        jobs = await spawner._api().list_jobs(
            spawner._ns, f"{selector},{objects.LABEL_DEFINITION_ID}"
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for k8s_job in jobs:
            definition_id = objects.definition_of(k8s_job)
            if definition_id:
                out.setdefault(definition_id, []).append(k8s_job)
        self._listed = (time.monotonic(), out)
        return out

    async def record_runs(self, record: dict[str, Any], manager: Any) -> None:
        try:
            jobs = (await self._jobs_by_definition()).get(record["id"], [])
        except JobsError as e:
            self.log.info(
                "jupyter-jobs: definition %s: runs not listed: %s", record["id"], e.message
            )
            return
        def_dir = self.def_dir(record["id"])
        names = set()
        for k8s_job in jobs:
            run = objects.cronjob_run(k8s_job)
            if run is None or not run["job_id"]:
                continue
            names.add(run["job_name"])
            live = manager.active.get(run["job_id"])
            if live is not None:  # recorded (or taken over from the pod that made it)
                when = isoformat(run["scheduled_for"])
                if when and manager.mine(live) and live.scheduled_for != when:
                    await manager.adopt_record(live, {"scheduled_for": when})
                continue
            marker = os.path.join(def_dir, f"{RECORDED_PREFIX}{run['job_name']}")
            if os.path.exists(marker):
                continue
            try:
                mine = jobfiles.create_exclusive(
                    marker, {"by": manager.server_id, "job_id": run["job_id"]}
                )
            except FileNotFoundError:
                return  # the definition was deleted meanwhile
            if mine:
                await self._record(record, run, k8s_job, manager, marker)
        self._prune_markers(def_dir, names)

    async def _record(
        self,
        record: dict[str, Any],
        run: dict[str, Any],
        k8s_job: dict[str, Any],
        manager: Any,
        marker: str,
    ) -> None:
        def_dir = self.def_dir(record["id"])
        prepared = dict(templates(def_dir))
        source = prepared.get(run["revision"]) if run["revision"] is not None else None
        if source is None and prepared:
            source = prepared[max(prepared)]
        if source is None:
            why = "no prepared run in the definition's directory"
            jobfiles.write_json(marker, {"by": manager.server_id, "error": why})
            self.log.warning("jupyter-jobs: definition %s: Job %s: %s", record["id"], run, why)
            return
        template = (k8s_job.get("spec") or {}).get("template") or {}
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        runner = annotations.get(objects.ANNOTATION_RUNNER) == "true"
        meta = jobfiles.read_json(os.path.join(source, k8s_run.TEMPLATE_META)) or {}
        ns = (k8s_job.get("metadata") or {}).get("namespace") or self.spawner._ns
        scheduled: datetime | None = run["scheduled_for"]
        job, made = k8s_run.clone_run(
            source,
            manager.job_root,
            run["job_id"],
            owner=manager.server_id,
            namespace=ns,
            job_name=run["job_name"],
            scheduled_for=scheduled,
            # a direct run ran the prepared input as it is; a runner pod uses this copy
            root_dir=meta.get("root_dir") if runner else None,
            runner=runner,
        )
        fields: dict[str, Any] = {"backend_ref": f"{ns}/{run['job_name']}"}
        if scheduled is not None:
            fields["scheduled_for"] = isoformat(scheduled)
        adopted = await manager.adopt_record(job, None if made else fields)
        jobfiles.write_json(
            marker,
            {"by": manager.server_id, "job_id": job.id, "made": made, "adopted": adopted},
        )
        self.log.info(
            "jupyter-jobs: definition %s: run %s (Job %s/%s, %s) recorded",
            record["id"],
            job.id,
            ns,
            run["job_name"],
            isoformat(scheduled) or "occurrence unknown",
        )

    @staticmethod
    def _prune_markers(def_dir: str, listed: set[str]) -> None:
        """Markers of Jobs the cluster no longer has (history limits, TTL), once they are old."""
        try:
            names = os.listdir(def_dir)
        except OSError:
            return
        now = time.time()
        for n in names:
            if not n.startswith(RECORDED_PREFIX) or n[len(RECORDED_PREFIX) :] in listed:
                continue
            path = os.path.join(def_dir, n)
            try:
                if now - os.stat(path).st_mtime > MARKER_TTL:
                    os.unlink(path)
            except OSError:
                pass
