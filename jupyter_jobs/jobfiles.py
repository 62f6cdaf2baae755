"""The job directory: file names and atomic JSON reads/writes shared by the server and the runner.

Kept free of server imports: the runner and ``jupyter_jobs.progress`` import it inside jobs.
"""

from __future__ import annotations

import json
import os
from typing import Any

SPEC = "spec.json"
STATUS = "status.json"
LOG = "output.log"
USAGE = "usage.jsonl"
PROGRESS = "progress.json"
RUNNER_LOG = "runner.log"


def write_json(path: str, data: Any) -> None:
    """Write JSON atomically (temp file + rename), so a reader never sees half a file."""
    d = os.path.dirname(path) or "."
    tmp = os.path.join(d, f".tmp-{os.getpid()}-{os.urandom(6).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: str) -> Any:
    """The JSON in ``path``, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_usage(job_dir: str, limit: int = 5000) -> list[dict[str, Any]]:
    """The usage samples (``usage.jsonl``), at most the last ``limit``."""
    samples: list[dict[str, Any]] = []
    try:
        with open(os.path.join(job_dir, USAGE), encoding="utf-8") as f:
            for line in f:
                try:
                    samples.append(json.loads(line))
                except ValueError:
                    continue  # a line being written right now
    except OSError:
        return []
    return samples[-limit:]
