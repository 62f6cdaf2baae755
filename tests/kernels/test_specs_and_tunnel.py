"""Pure parts of remote kernels: kernel specs, their directory sync, the CLI, the SSH tunnel argv.

No cluster needed: the SLURM spawner builds specs from its profiles without calling SLURM.
"""

from __future__ import annotations

import json
import os

import pytest
from traitlets.config import Config

from jupyter_jobs.kernels import cli, tunnel
from jupyter_jobs.kernels.specs import TIMES, RemoteKernelSpecs, kernel_name, sync_dir
from jupyter_jobs.spawners.local import LocalSpawner
from jupyter_jobs.spawners.slurm import SlurmSpawner

PROFILES = [
    {
        "name": "gpu",
        "display_name": "GPU",
        "resources": {"gpus": 1, "cpus": 8, "memory": "32G", "time_limit": "04:00:00"},
        "kernels": True,
        "python": "/opt/envs/ml/bin/python",
        "kernel_env": {"OMP_NUM_THREADS": 8},
    },
    {"name": "plain", "display_name": "Plain", "resources": {}, "kernels": True},
    {"name": "batch", "resources": {"cpus": 2}},
]


def slurm(profiles=PROFILES):
    return SlurmSpawner(config=Config({"SlurmSpawner": {"profiles": profiles}}))


def test_spec_of_a_gpu_profile_names_its_resources_and_runs_its_python():
    specs = RemoteKernelSpecs().specs({"slurm": slurm()})
    spec = specs["jupyter-jobs-slurm-gpu"]
    assert spec["display_name"] == f"Python 3 — SLURM: GPU 1{TIMES}, 8 CPUs, 32G, 04:00:00"
    assert spec["argv"] == [
        "/opt/envs/ml/bin/python",
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]
    assert spec["interrupt_mode"] == "message"
    assert spec["env"] == {"OMP_NUM_THREADS": "8"}
    provisioner = spec["metadata"]["kernel_provisioner"]
    assert provisioner == {
        "provisioner_name": "jupyter-jobs-provisioner",
        "config": {"backend": "slurm", "profile": "gpu"},
    }


def test_only_profiles_that_offer_kernels_get_specs():
    specs = RemoteKernelSpecs().specs({"slurm": slurm()})
    assert sorted(specs) == ["jupyter-jobs-slurm-gpu", "jupyter-jobs-slurm-plain"]
    assert specs["jupyter-jobs-slurm-plain"]["display_name"] == "Python 3 — SLURM: Plain"


def test_default_slurm_profile_offers_a_plain_python_3_slurm_kernel():
    specs = RemoteKernelSpecs().specs({"slurm": slurm(profiles=[])})
    assert [s["display_name"] for s in specs.values()] == ["Python 3 — SLURM"]


def test_backends_without_kernel_support_get_no_specs():
    assert RemoteKernelSpecs().specs({"local": LocalSpawner()}) == {}
    assert RemoteKernelSpecs(backends=[]).specs({"slurm": slurm()}) == {}


def test_kernel_names_are_safe_directory_names():
    assert kernel_name("slurm", "GPU big/1") == "jupyter-jobs-slurm-gpu-big-1"


def test_sync_writes_specs_and_removes_only_our_stale_ones(tmp_path):
    specs = RemoteKernelSpecs().specs({"slurm": slurm()})
    sync_dir(str(tmp_path), specs)
    other = tmp_path / "someone-elses"
    other.mkdir()
    (other / "kernel.json").write_text(json.dumps({"argv": ["x"], "display_name": "X"}))
    smaller = {k: v for k, v in specs.items() if k.endswith("gpu")}
    written, removed = sync_dir(str(tmp_path), smaller)
    assert written == ["jupyter-jobs-slurm-gpu"]
    assert removed == ["jupyter-jobs-slurm-plain"]
    assert sorted(os.listdir(tmp_path)) == ["jupyter-jobs-slurm-gpu", "someone-elses"]
    on_disk = json.loads((tmp_path / "jupyter-jobs-slurm-gpu" / "kernel.json").read_text())
    assert on_disk == smaller["jupyter-jobs-slurm-gpu"]


@pytest.fixture
def jupyter_dirs(tmp_path, monkeypatch):
    """A private Jupyter config and data dir holding a server config with SLURM profiles."""
    conf, data = tmp_path / "config", tmp_path / "data"
    conf.mkdir()
    data.mkdir()
    (conf / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "JobManager": {"enabled_backends": ["slurm"]},
                "SlurmSpawner": {"profiles": PROFILES},
            }
        )
    )
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(conf))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    monkeypatch.setenv("JUPYTER_PATH", "")
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "")
    return data


def test_cli_install_list_remove_round_trip(jupyter_dirs, capsys):
    assert cli.main(["install"]) == 0
    kernels = jupyter_dirs / "kernels"
    assert sorted(os.listdir(kernels)) == ["jupyter-jobs-slurm-gpu", "jupyter-jobs-slurm-plain"]
    capsys.readouterr()
    assert cli.main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert set(listed) == {"jupyter-jobs-slurm-gpu", "jupyter-jobs-slurm-plain"}
    assert cli.main(["remove", "jupyter-jobs-slurm-plain"]) == 0
    assert os.listdir(kernels) == ["jupyter-jobs-slurm-gpu"]
    assert cli.main(["remove", "no-such-kernel"]) == 1
    assert "no remote-kernel spec named 'no-such-kernel'" in capsys.readouterr().err


def test_cli_install_of_one_profile_only(jupyter_dirs):
    assert cli.main(["install", "--profile", "gpu"]) == 0
    assert os.listdir(jupyter_dirs / "kernels") == ["jupyter-jobs-slurm-gpu"]


def test_cli_remove_needs_names_or_all(jupyter_dirs):
    with pytest.raises(SystemExit) as e:
        cli.main(["remove"])
    assert e.value.code == 2


def test_tunnel_argv_forwards_every_port_without_a_shell():
    argv = tunnel.tunnel_argv(
        "me@login01:2222",
        [(40001, "node7", 50001), (40002, "node7", 50002)],
        options=["-i", "/home/me/.ssh/id_hpc"],
    )
    assert argv == [
        "ssh",
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "BatchMode=yes",
        "-i",
        "/home/me/.ssh/id_hpc",
        "-p",
        "2222",
        "-L",
        "127.0.0.1:40001:node7:50001",
        "-L",
        "127.0.0.1:40002:node7:50002",
        "--",
        "me@login01",
    ]


@pytest.mark.parametrize("gateway", ["-oProxyCommand=evil", "me@host; rm -rf /", "", "a b"])
def test_tunnel_refuses_gateways_ssh_would_read_as_options(gateway):
    with pytest.raises(ValueError):
        tunnel.tunnel_argv(gateway, [(1, "n", 2)])


def test_tunnel_plan_points_the_server_at_local_ports():
    info = {
        "ip": "0.0.0.0",
        "key": b"k",
        "shell_port": 1,
        "iopub_port": 2,
        "stdin_port": 3,
        "control_port": 4,
        "hb_port": 5,
    }
    forwards, local = tunnel.plan_forwards(info, "node7", [11, 12, 13, 14, 15])
    assert forwards == [
        (11, "node7", 1),
        (12, "node7", 2),
        (13, "node7", 3),
        (14, "node7", 4),
        (15, "node7", 5),
    ]
    assert local["ip"] == "127.0.0.1" and local["shell_port"] == 11 and local["key"] == b"k"
