"""Pinned inputs: what a job copies into ``<job_dir>/input/`` at submit, and runs from there
(docs/CONTRACT.md, "Pinned inputs").

The job's own input file (its script or notebook) is copied to ``input/<basename>``; the extra
files the request (``extra_files``) and the profile (its ``extra_files``) name are copied too,
at their paths relative to the input file's folder. The copies are made inside the job's atomic
creation (:meth:`~jupyter_jobs.jobroot.JobRoot.create`), so a submit that fails leaves nothing.
The working directory is not changed: relative data paths read the files where they are.
"""

from __future__ import annotations

import os
from typing import Any

from . import jobfiles
from .models import Job
from .validation import JobRequest, pinned_place


def profile_extras(profile: dict[str, Any], abs_input: str, root_dir: str) -> list[str]:
    """The profile's ``extra_files`` that exist for this input file: paths relative to its
    folder (a profile names files that scripts of it often come with, e.g. ``config.yaml``);
    those missing, outside the folder or outside the root are left out."""
    names = profile.get("extra_files") or []
    if not isinstance(names, list):
        return []
    root = os.path.realpath(root_dir)
    base = os.path.dirname(abs_input)
    out = []
    for name in names:
        if not isinstance(name, str) or not name or os.path.isabs(name):
            continue
        real = os.path.realpath(os.path.join(base, name))
        if not real.startswith(root + os.sep) or not os.path.isfile(real):
            continue
        place = pinned_place(real, abs_input)
        if place is not None and real != abs_input:
            out.append(real)
    return out


def plan(
    job: Job, req: JobRequest, profile: dict[str, Any], job_dir: str, root_dir: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """``(copies, extra spec)`` for a new job: its path in the job's directory → the file copied
    there; sets ``job.pinned_path`` and ``job.pinned_files``. A command job pins nothing.

    A Python script runs from ``input/``, so Python puts that folder first on ``sys.path``; its
    original folder comes next (``pythonpath_prepend`` in the runner's spec), so modules beside it
    that were not pinned are still imported, from where they are."""
    if req.abs_path is None or job.kind not in ("script", "notebook"):
        return {}, {}
    sources = req.pin_sources or {}
    base = os.path.basename(req.abs_path)
    copies: dict[str, str] = {}
    places = [base]
    copies[f"{jobfiles.INPUT_DIR}/{base}"] = sources.get(base) or req.abs_path
    extras = [abs_file for _, abs_file in req.extra_files]
    extras += profile_extras(profile, req.abs_path, root_dir)
    for abs_file in extras:
        place = pinned_place(abs_file, req.abs_path)
        if place is None or place in places:
            continue
        source = sources.get(place)
        if source is None or not os.path.isfile(source):
            source = abs_file  # not pinned before (or gone there): the file as it is now
        places.append(place)
        copies[f"{jobfiles.INPUT_DIR}/{place}"] = source
    job.pinned_path = os.path.join(job_dir, jobfiles.INPUT_DIR, base)
    job.pinned_files = list(copies)
    spec: dict[str, Any] = {}
    if job.kind == "script" and req.abs_path.lower().endswith(".py"):
        spec["pythonpath_prepend"] = [os.path.dirname(req.abs_path)]
    return copies, spec


def pinned_sources(job: Job) -> dict[str, str]:
    """A job's pinned copies by their place under ``input/`` (for a pinned rerun)."""
    out = {}
    prefix = f"{jobfiles.INPUT_DIR}/"
    for rel in job.pinned_files:
        if rel.startswith(prefix):
            out[rel[len(prefix) :]] = os.path.join(job.job_dir, rel)
    return out
