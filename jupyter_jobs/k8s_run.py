"""A job definition's run on Kubernetes, in the pod a CronJob made (no Jupyter server needed):
make the run's job directory from the definition's prepared run, then ``exec`` the runner.

    python -m jupyter_jobs.k8s_run TEMPLATE_DIR

The CronJob of a definition whose image has jupyter-jobs (the server's own, job root mounted at
the same path) runs this instead of ``jupyter_jobs.runner`` (docs/kubernetes.md, "Schedules").
``TEMPLATE_DIR`` is ``<job_root>/definitions/<id>/prepared-run-<revision>``: a job directory prepared
when the definition was arranged (``job.json``, ``spec.json``, the pinned ``input/``) under a
placeholder id. In order:

1. The run's id is its Job's uid without dashes, read from the pod's ``controller-uid`` label
   through the downward API (:data:`ENV_UID`); the server that records the run computes the same
   id from the Job (:func:`~jupyter_jobs.spawners.k8s_objects.run_id_of`), with no exchange.
2. :func:`clone_run` copies the template to ``<job_root>/<run id>`` — created whole under a
   private temporary name and renamed into place, which fails when the directory exists: the pod
   and a server recording the run race safely, the first one makes it and the other uses it. The
   input is pinned again from the file as it is now (when the server's root is mounted here).
3. ``exec`` the runner on it (which runs the command exactly once: its ``.started``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from . import cron, jobfiles
from .models import QUEUED, Job, isoformat
from .schedule_next import _pin_again, _replace_ids

#: the downward-API environment of a run's pod: its Job's uid (the newer label, then the older)
ENV_UID = ("JUPYTER_JOBS_CONTROLLER_UID", "JUPYTER_JOBS_CONTROLLER_UID_LEGACY")
#: its Job's name (the newer label, then the older) and its namespace
ENV_JOB_NAME = ("JUPYTER_JOBS_K8S_JOB_NAME", "JUPYTER_JOBS_K8S_JOB_NAME_LEGACY")
ENV_NAMESPACE = "JUPYTER_JOBS_K8S_NAMESPACE"
#: the owner of a run directory the pod made, until a server takes it over (no lease: never alive)
ENGINE_OWNER = "kubernetes-cronjob"
#: ``template.json`` in a prepared run: its placeholder id, revision and the server's root
TEMPLATE_META = "template.json"
TEMPLATE_PREFIX = "prepared-run-"
_ID = re.compile(r"^[0-9a-f]{32}$")


def log(message: str) -> None:
    print(f"jupyter-jobs k8s_run: {message}", file=sys.stderr, flush=True)


def run_id_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The run's id from the pod's downward-API environment: its Job's uid without dashes."""
    found: Mapping[str, str] = os.environ if env is None else env
    for key in ENV_UID:
        uid = (found.get(key) or "").replace("-", "").lower()
        if _ID.match(uid):
            return uid
    return None


def latest_occurrence(definition: dict[str, Any] | None, now: datetime) -> datetime | None:
    """The newest occurrence of the definition's schedule at or before ``now`` (within two days):
    what a pod started by the CronJob was most probably fired for. The server that records the
    run replaces it with the occurrence the controller wrote on the Job."""
    if not definition:
        return None
    try:
        expr = cron.parse(definition["schedule"])
        tz = cron.timezone_of(definition["timezone"])
    except Exception:
        return None
    for window in (timedelta(hours=2), timedelta(days=2)):
        t, latest = now - window, None
        while (nxt := cron.next_after(expr, tz, t)) is not None and nxt <= now:
            latest = t = nxt
        if latest is not None:
            return latest
    return None


def clone_run(
    template_dir: str,
    job_root: str,
    run_id: str,
    *,
    owner: str,
    namespace: str,
    job_name: str,
    scheduled_for: datetime | None,
    root_dir: str | None = None,
    runner: bool = True,
) -> tuple[Job, bool]:
    """``<job_root>/<run_id>`` from the prepared run in ``template_dir``: its record (every id of
    the template replaced), ``spec.json`` and ``input/`` (pinned again from ``root_dir`` when the
    file is there). ``(job, made)``: ``made`` False when the directory existed already (the pod,
    or another server, was first) — then ``job`` is the record found there."""
    if not _ID.match(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    dest = os.path.join(job_root, run_id)
    existing = _read_record(dest)
    if existing is not None:
        return existing, False
    record = jobfiles.read_json(os.path.join(template_dir, jobfiles.RECORD))
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise OSError(f"no prepared run in {template_dir}")
    old = record["id"]
    job = Job.from_record(_replace_ids(record, old, run_id))
    job.id = run_id
    job.job_dir = dest
    job.status = QUEUED
    job.created_at = datetime.now(timezone.utc)
    job.owner = owner
    job.backend_ref = f"{namespace}/{job_name}"
    job.scheduled_for = isoformat(scheduled_for)
    job.attempt = 1
    job.state = {
        "cwd": (record.get("state") or {}).get("cwd"),
        "namespace": namespace,
        "job_name": job_name,
        "runner": runner,
        "submitted": datetime.now(timezone.utc).timestamp(),
    }
    tmp = os.path.join(job_root, f".new-{run_id}-{os.urandom(4).hex()}")
    try:
        os.makedirs(tmp, mode=0o700)
        spec = jobfiles.read_json(os.path.join(template_dir, jobfiles.SPEC))
        if isinstance(spec, dict):
            jobfiles.write_json(os.path.join(tmp, jobfiles.SPEC), _replace_ids(spec, old, run_id))
        _pin_again(job, template_dir, tmp, root_dir)
        jobfiles.write_json(os.path.join(tmp, jobfiles.RECORD), job.to_record(), fsync=True)
        try:
            os.rename(tmp, dest)  # fails when the directory exists: the first one made it
        except OSError:
            found = _read_record(dest)
            if found is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return found, False
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return job, True


def _read_record(job_dir: str) -> Job | None:
    data = jobfiles.read_json(os.path.join(job_dir, jobfiles.RECORD))
    if not isinstance(data, dict):
        return None
    try:
        job = Job.from_record(data)
    except (TypeError, ValueError):
        return None
    job.job_dir = job_dir
    return job


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jupyter_jobs.k8s_run TEMPLATE_DIR", file=sys.stderr)
        sys.exit(2)
    template_dir = os.path.abspath(args[0])
    definition_dir = os.path.dirname(template_dir)
    job_root = os.path.dirname(os.path.dirname(definition_dir))
    run_id = run_id_from_env()
    if run_id is None:
        log(f"no run id: {' or '.join(ENV_UID)} must hold the Job's uid (downward API)")
        sys.exit(2)
    env = os.environ
    job_name = next((env[k] for k in ENV_JOB_NAME if env.get(k)), "") or run_id
    meta = jobfiles.read_json(os.path.join(template_dir, TEMPLATE_META)) or {}
    definition = jobfiles.read_json(os.path.join(definition_dir, "definition.json"))
    try:
        job, made = clone_run(
            template_dir,
            job_root,
            run_id,
            owner=ENGINE_OWNER,
            namespace=env.get(ENV_NAMESPACE) or "",
            job_name=job_name,
            scheduled_for=latest_occurrence(
                definition if isinstance(definition, dict) else None, datetime.now(timezone.utc)
            ),
            root_dir=meta.get("root_dir") if isinstance(meta, dict) else None,
        )
    except (OSError, ValueError) as e:
        log(f"cannot make the run's directory from {template_dir}: {e}")
        sys.exit(1)
    log(f"run {run_id} {'made' if made else 'found'} in {job.job_dir}")
    runner = [sys.executable, "-m", "jupyter_jobs.runner", job.job_dir]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(runner[0], runner)


if __name__ == "__main__":
    main()
