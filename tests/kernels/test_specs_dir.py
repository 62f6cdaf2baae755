"""Where a server keeps its remote-kernel specs: ``<job_root>/kernelspecs/<host>`` (no cluster).

Servers of one job root on hosts that see different backends must not remove each other's specs
(the refresh loop would make them do so every few seconds); our specs of the older layout, straight
in ``<job_root>/kernelspecs``, are removed; specs that are not ours are never touched.
"""

from __future__ import annotations

import json
import os

import pytest

from jupyter_jobs.kernels import server as kernels_server

from .conftest import jobs_app


@pytest.fixture
def job_root(tmp_path):
    return tmp_path / "job-root"


@pytest.fixture
def jobs_config(job_root, monkeypatch):
    monkeypatch.setenv("JUPYTER_JOBS_HOST", "login01.cluster")
    old = job_root / "kernelspecs"
    for name, metadata in (("jupyter-jobs-slurm-old", {"jupyter_jobs": {}}), ("theirs", {})):
        (old / name).mkdir(parents=True)
        spec = {"argv": ["x"], "display_name": name, "language": "python", "metadata": metadata}
        (old / name / "kernel.json").write_text(json.dumps(spec))
    other_host = old / "laptop" / "jupyter-jobs-slurm-default"
    other_host.mkdir(parents=True)
    (other_host / "kernel.json").write_text(json.dumps({"metadata": {"jupyter_jobs": {}}}))
    return {"JobManager": {"enabled_backends": ["local"]}}


async def test_specs_live_in_a_folder_per_host_and_the_old_layout_is_cleaned(
    jp_serverapp, job_root
):
    app = jobs_app(jp_serverapp)
    d = kernels_server.specs_dir(app)
    assert d == os.path.join(str(job_root), "kernelspecs", "login01.cluster")
    assert jp_serverapp.kernel_spec_manager.kernel_dirs[0] == d
    assert sorted(os.listdir(job_root / "kernelspecs")) == ["laptop", "login01.cluster", "theirs"]
    await kernels_server.start(app)
    assert app.remote_kernel_specs == []
    # the other host's specs are its own business
    assert os.listdir(job_root / "kernelspecs" / "laptop") == ["jupyter-jobs-slurm-default"]
    kernels_server.stop(app)
    assert app.jupyter_jobs_specs_refresher is None
