"""SLURM's own mail for a job's ``notify`` (``slurm_mail``): the sbatch options, as argv words."""

from __future__ import annotations

import pytest

from jupyter_jobs.exceptions import BadRequest
from jupyter_jobs.spawners import slurm_script as script


def test_failure_mail_is_mail_type_fail_with_the_addresses():
    notify = {"on": "failure", "email": ["a@x.org", "b@y.org"], "slurm_mail": True}
    assert script.mail_options(notify) == ["--mail-type=FAIL", "--mail-user=a@x.org,b@y.org"]


def test_always_is_mail_type_all():
    notify = {"on": "always", "email": ["a@x.org"], "slurm_mail": True}
    assert script.mail_options(notify) == ["--mail-type=ALL", "--mail-user=a@x.org"]


@pytest.mark.parametrize(
    "notify",
    [
        None,
        {},
        {"on": "always", "email": ["a@x.org"], "slurm_mail": False},
        {"on": "always", "email": [], "slurm_mail": True, "webhook": "https://x.org"},
    ],
)
def test_no_slurm_mail_no_options(notify):
    assert script.mail_options(notify) == []


@pytest.mark.parametrize("bad", ["a@x.org --wrap=id", "a@x.org\nb", "a@x.org,b@y.org", "nobody"])
def test_an_address_that_is_not_one_never_reaches_sbatch(bad):
    with pytest.raises(BadRequest):
        script.mail_options({"on": "failure", "email": [bad], "slurm_mail": True})


def test_the_options_go_into_the_sbatch_argv_before_the_script():
    argv = script.sbatch_argv(
        "/jr/1/job.sbatch",
        job_name="jupyter-x",
        job_dir="/jr/1",
        options=script.mail_options({"on": "failure", "email": ["a@x.org"], "slurm_mail": True}),
    )
    assert argv[0] == "sbatch" and argv[-1] == "/jr/1/job.sbatch"
    assert argv[-3:-1] == ["--mail-type=FAIL", "--mail-user=a@x.org"]
