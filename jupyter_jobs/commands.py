"""What runs for a job: the argv of each kind (script, notebook, command)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from .exceptions import BadRequest
from .models import Job
from .spawners.base import Spawner
from .validation import SCRIPT_LANGUAGES, JobRequest, script_argv


def build_argv(
    job: Job,
    req: JobRequest,
    spawner: Spawner,
    profile: dict[str, Any],
    root_dir: str,
    output_dir: str,
) -> list[str]:
    """The argv the runner starts; sets ``job.outputs`` for notebooks (the executed copy)."""
    if job.kind == "command":
        return list(req.command)
    assert req.abs_path is not None
    if job.kind == "notebook":
        out_rel = output_path(job, req.abs_path, output_dir)
        job.outputs = [out_rel]
        python = spawner.interpreter(profile, "python") or sys.executable
        argv = [
            python,
            "-m",
            "jupyter_jobs.notebook",
            req.abs_path,
            os.path.join(root_dir, out_rel),
        ]
        if job.parameters:
            argv += ["--parameters", json.dumps(job.parameters)]
        if profile.get("kernel_name"):
            argv += ["--kernel", str(profile["kernel_name"])]
        return argv
    language = SCRIPT_LANGUAGES[os.path.splitext(req.abs_path)[1].lower()]
    return script_argv(spawner.interpreter(profile, language), language, req.abs_path, job.args)


def output_path(job: Job, notebook: str, output_dir: str) -> str:
    """``<output_dir>/<notebook name>-<job id prefix>.ipynb``, relative to the server's root."""
    stem = os.path.splitext(os.path.basename(notebook))[0]
    rel = os.path.normpath(os.path.join(output_dir, f"{stem}-{job.id[:8]}.ipynb"))
    if rel.startswith("..") or os.path.isabs(rel):
        raise BadRequest("the configured output_dir is outside the server's root")
    return rel.replace(os.sep, "/")
