"""``jupyter jobs kernelspec install`` says what it did and did not install, and why: a backend that
is down is named with its reason (not "no profile offers kernels"), nothing is written for it, and
``--backend`` installs its specs anyway. Against the loopback fake Kubernetes API (on a thread)."""

from __future__ import annotations

import json
import os

import pytest

from jupyter_jobs.kernels import cli

NAME = "jupyter-jobs-kubernetes-default"


@pytest.fixture
def user_dirs(tmp_path, monkeypatch, cluster):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "JobManager": {"enabled_backends": ["kubernetes"]},
                "KubernetesSpawner": {"image": "python:3.12-slim", "inherit_server_pod": False},
            }
        )
    )
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return tmp_path


def installed(prefix) -> list[str]:
    d = os.path.join(prefix, "share", "jupyter", "kernels")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_install_names_the_backend_that_is_down_and_installs_nothing_for_it(
    user_dirs, cluster, capsys
):
    prefix = str(user_dirs / "prefix")
    cluster.call(cluster.kube.stop)  # the API server is down
    assert cli.main(["install", "--prefix", prefix]) == 1
    err = capsys.readouterr().err
    assert "not installed: the kernel specs of Kubernetes: that backend is not available" in err
    assert "--backend kubernetes" in err and "nothing installed" in err
    assert 'set "kernels": true' not in err  # not a configuration problem
    assert installed(prefix) == []

    # named, it is installed anyway, and says so
    assert cli.main(["install", "--prefix", prefix, "--backend", "kubernetes"]) == 0
    out, err = capsys.readouterr()
    assert "is not available now" in err and "installed anyway" in err
    assert f"installed {NAME}" in out and installed(prefix) == [NAME]


def test_install_writes_the_specs_of_an_available_backend(user_dirs, capsys):
    prefix = str(user_dirs / "prefix")
    assert cli.main(["install", "--prefix", prefix]) == 0
    out, err = capsys.readouterr()
    assert f"installed {NAME} (Python 3 — Kubernetes)" in out and "not installed" not in err
    assert installed(prefix) == [NAME]


def test_install_of_a_backend_that_is_not_enabled_says_so(user_dirs, capsys):
    assert cli.main(["install", "--prefix", str(user_dirs / "p"), "--backend", "slurm"]) == 1
    err = capsys.readouterr().err
    assert "nothing installed: no backend 'slurm' with kernels is enabled" in err
    assert "kubernetes" in err
