"""The pure SLURM builders: batch script, sbatch argv, job names, extra options (no cluster)."""

from __future__ import annotations

import shlex

import pytest

from jupyter_jobs.exceptions import BadRequest
from jupyter_jobs.models import normalize_resources
from jupyter_jobs.spawners import slurm_script as script
from jupyter_jobs.spawners.slurm import SlurmSpawner


def render(resources=None, **kw):
    sp = SlurmSpawner(**kw)
    return sp.script_for(
        normalize_resources(resources or {}),
        name="train model.py",
        job_dir="/home/u/jobs/abc",
        cmd=["/opt/py/bin/python", "-m", "jupyter_jobs.runner", "/home/u/jobs/abc"],
    )


def sbatch_lines(text):
    return [ln for ln in text.splitlines() if ln.startswith("#SBATCH")]


def test_resources_become_sbatch_lines():
    text = render(
        {
            "cpus": 8,
            "memory": "32G",
            "time_limit": "04:00:00",
            "gpus": 1,
            "partition": "gpu",
            "account": "proj1",
            "qos": "high",
        }
    )
    assert sbatch_lines(text) == [
        "#SBATCH --job-name=jupyter-train_model.py",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32768M",
        "#SBATCH --time=04:00:00",
        "#SBATCH --gpus=1",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=proj1",
        "#SBATCH --qos=high",
    ]


def test_no_resources_leave_the_cluster_defaults():
    assert sbatch_lines(render()) == [
        "#SBATCH --job-name=jupyter-train_model.py",
        "#SBATCH --ntasks=1",
    ]


def test_runner_is_execed_shell_quoted():
    text = script.render_batch_script(
        script.default_template(),
        script.template_vars({}, job_name="j", job_dir="/d", cmd=["py", "-m", "r", "/d/it's here"]),
    )
    last = [ln for ln in text.splitlines() if ln.strip()][-1]
    assert last == "exec py -m r '/d/it'\"'\"'s here'"
    assert shlex.split(last) == ["exec", "py", "-m", "r", "/d/it's here"]


def test_epilogue_runs_the_runner_without_exec():
    text = render(req_epilogue="echo bye")
    assert "\nexec " not in text
    # the batch job exits with the runner's code, not the epilogue's (dependencies: afterok)
    assert text.rstrip().endswith(
        "jupyter_jobs.runner /home/u/jobs/abc\njupyter_jobs_status=$?\necho bye\n"
        "exit $jupyter_jobs_status"
    )


def test_gres_style_for_gpus():
    text = render({"gpus": 2}, gpu_request="gres", gres_name="gpu:a100")
    assert "#SBATCH --gres=gpu:a100:2" in sbatch_lines(text)


def test_admin_defaults_fill_partition_account_qos_and_options():
    text = render(
        req_partition="batch",
        req_account="lab",
        req_qos="normal",
        req_options=["--exclusive"],
        req_prologue="module load cuda",
    )
    lines = sbatch_lines(text)
    assert "#SBATCH --partition=batch" in lines and "#SBATCH --account=lab" in lines
    assert "#SBATCH --qos=normal" in lines and "#SBATCH --exclusive" in lines
    assert "\nmodule load cuda\n" in text


def test_user_partition_wins_over_default_and_queue_is_an_alias():
    assert "#SBATCH --partition=short" in render({"partition": "short"}, req_partition="batch")
    assert "#SBATCH --partition=short" in render({"queue": "short"})
    with pytest.raises(BadRequest) as e:
        render({"queue": "a", "partition": "b"})
    assert e.value.field == "resources.queue"
    assert e.value.message.startswith("Queue ('a') and Partition ('b') differ")


def test_extra_options_flags_and_values():
    assert script.extra_options({"constraint": "v100", "exclusive": True, "comment": None}) == [
        "--constraint=v100",
        "--exclusive",
    ]


@pytest.mark.parametrize(
    "extra",
    [
        {"output": "/tmp/x"},
        {"wrap": "rm"},
        {"constraint": "a\n#SBATCH --uid=0"},
        {"constraint": "a b"},
        {"--x": "1"},
        {"constraint": "$(id)"},
        {"comment": ["x"]},
    ],
)
def test_extra_options_refuse_reserved_names_and_unsafe_values(extra):
    with pytest.raises(BadRequest) as e:
        script.extra_options(extra)
    assert e.value.field.startswith("resources.extra.")
    assert e.value.message.startswith("Extra options: ")  # the label, not the field's key


def test_control_characters_never_reach_the_script():
    with pytest.raises(BadRequest):
        script.render_batch_script("x {{ job_name }}", {"job_name": "a\nrm -rf /"})


def test_admin_template_replaces_the_default():
    sp = SlurmSpawner(batch_script="#!/bin/sh\n#SBATCH -p {{req_partition}}\nsrun {{cmd}}\n")
    text = sp.script_for(
        normalize_resources({"partition": "p1"}), name="n", job_dir="/d", cmd=["python", "x"]
    )
    assert text == "#!/bin/sh\n#SBATCH -p p1\nsrun python x\n"


def test_broken_template_is_a_clear_error():
    sp = SlurmSpawner(batch_script="{{ no_such_variable }}")
    with pytest.raises(BadRequest, match="batch_script template"):
        sp.script_for({}, name="n", job_dir="/d", cmd=["x"])


def test_job_names_are_sanitised():
    assert script.sanitize_job_name("my job; rm -rf /") == "jupyter-my_job_rm_-rf"
    assert script.sanitize_job_name("") == "jupyter-job"
    assert len(script.sanitize_job_name("x" * 500)) == 64


def test_memory_rounds_up_to_mebibytes():
    assert script.memory_option(1) == "1M"
    assert script.memory_option(1024**2 + 1) == "2M"
    assert script.memory_option(4 * 1024**3) == "4096M"


def test_sbatch_argv_is_a_list_with_paths_as_single_arguments():
    argv = script.sbatch_argv("/j d/job.sbatch", job_name="jupyter-x", job_dir="/j d")
    assert argv == [
        "sbatch",
        "--parsable",
        "--job-name=jupyter-x",
        "--output=/j d/slurm.out",
        "--error=/j d/slurm.out",
        "--chdir=/j d",
        "/j d/job.sbatch",
    ]


def test_parsable_output():
    assert script.parse_sbatch_output("1234\n") == "1234"
    assert script.parse_sbatch_output("1234;cluster2\n") == "1234"
    with pytest.raises(ValueError):
        script.parse_sbatch_output("Submitted batch job 12")


def test_exec_prefix_quotes_for_a_remote_shell():
    sp = SlurmSpawner(exec_prefix=["ssh", "login01"])
    assert sp.command(["sbatch", "/a b/s"]) == ["ssh", "login01", "sbatch", "'/a b/s'"]
    sp = SlurmSpawner(exec_prefix=["sudo", "-u", "x"], exec_prefix_shell=False)
    assert sp.command(["sbatch", "/a b/s"]) == ["sudo", "-u", "x", "sbatch", "/a b/s"]


def test_users_may_set_only_allowed_extra_options():
    sp = SlurmSpawner()
    profile = sp.resolve_profile(None)
    assert sp.validate_resources(profile, {"extra": {"constraint": "a100"}})["extra"] == {
        "constraint": "a100"
    }
    with pytest.raises(BadRequest) as e:
        sp.validate_resources(profile, {"extra": {"gres": "gpu:8"}})
    assert e.value.field == "resources.extra.gres"


def test_profile_max_resources_and_unsupported_keys():
    sp = SlurmSpawner(
        profiles=[
            {"name": "gpu", "resources": {"gpus": 1, "cpus": 8}, "max_resources": {"cpus": 16}}
        ]
    )
    profile = sp.resolve_profile("gpu")
    assert sp.validate_resources(profile, {"cpus": 12}) == {"gpus": 1, "cpus": 12}
    with pytest.raises(BadRequest, match="more than"):
        sp.validate_resources(profile, {"cpus": 32})
    with pytest.raises(BadRequest) as e:
        sp.validate_resources(profile, {"image": "python:3"})
    assert e.value.field == "resources.image"


def test_default_profile_uses_cluster_defaults_and_offers_kernels():
    [p] = SlurmSpawner().get_profiles()
    assert p["name"] == "default" and p["resources"] == {} and p["kernels"] is True
