"""What runs for a job: the argv of each kind (script, notebook, command)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from .exceptions import Conflict
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
    run_path: str | None = None,
) -> list[str]:
    """The argv the runner starts; sets ``job.outputs`` for notebooks (the executed copy, and
    the HTML report when ``html`` is in the job's ``output_formats``). ``run_path``: the file
    that runs (the pinned copy), by default the request's file itself."""
    if job.kind == "command":
        return list(req.command)
    assert req.abs_path is not None
    source = run_path or req.abs_path
    if job.kind == "notebook":
        out_rel = output_path(job, req.abs_path, output_dir, root_dir)
        job.outputs = [out_rel]
        python = spawner.interpreter(profile, "python") or sys.executable
        argv = [
            python,
            "-m",
            "jupyter_jobs.notebook",
            source,
            os.path.join(root_dir, out_rel),
        ]
        if job.parameters:
            argv += ["--parameters", json.dumps(job.parameters)]
        if profile.get("kernel_name"):
            argv += ["--kernel", str(profile["kernel_name"])]
        if "html" in job.output_formats:
            html_rel = os.path.splitext(out_rel)[0] + ".html"
            job.outputs.append(html_rel)
            argv += ["--html", os.path.join(root_dir, html_rel)]
            if job.report.get("no_input"):
                argv.append("--no-input")
        return argv
    language = SCRIPT_LANGUAGES[os.path.splitext(req.abs_path)[1].lower()]
    return script_argv(spawner.interpreter(profile, language), language, source, job.args)


def output_path(job: Job, notebook: str, output_dir: str, root_dir: str | None = None) -> str:
    """``<output_dir>/<notebook name>-<job id prefix>.ipynb``, relative to the server's root.

    Resolved through symlinks (``os.path.realpath``): when ``output_dir`` — or a link in it, such as
    ``job-outputs`` being a symlink to a folder elsewhere — leads outside the root, the job is
    refused (409) rather than writing there. The answer is the resolved path, relative to the root.
    """
    stem = os.path.splitext(os.path.basename(notebook))[0]
    name = f"{stem}-{job.id[:8]}.ipynb"
    rel = os.path.normpath(os.path.join(output_dir, name))
    outside = Conflict(
        f"the output folder for executed notebooks ({output_dir!r}, c.JobManager.output_dir) is"
        " outside the server's root directory (it may be a symlink to a folder elsewhere);"
        " executed notebooks are only written inside the root: an administrator must fix it",
        field="path",
    )
    if rel.startswith("..") or (os.path.isabs(rel) and root_dir is None):
        raise outside
    if root_dir is None:
        return rel.replace(os.sep, "/")
    root = os.path.realpath(root_dir)
    resolved = os.path.realpath(os.path.join(root, rel))
    if not resolved.startswith(root + os.sep):
        raise outside
    return os.path.relpath(resolved, root).replace(os.sep, "/")
