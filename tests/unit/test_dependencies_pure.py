"""Dependencies' pure parts: the verdict for each ``when``, the reasons in the user's words, the
SLURM ``--dependency`` value (and when there is none), the sbatch options, the runner's exit code
and SLURM's reasons for a job it holds."""

from __future__ import annotations

import pytest

from jupyter_jobs import dependencies as deps
from jupyter_jobs.exceptions import BadRequest
from jupyter_jobs.models import Job, JobUpdate
from jupyter_jobs.spawners import slurm_script, slurm_state
from jupyter_jobs.spawners.slurm import _dependency_reason
from jupyter_jobs.spawners.slurm_state import SlurmRecord
from jupyter_jobs.validation import check_after


def job(name, status, *, backend="slurm", ref=None, after=(), reason=None, kind="script"):
    j = Job(id=name * 32, name=name, kind=kind, backend=backend, profile="p", status=status)
    j.backend_ref, j.after, j.reason = ref, list(after), reason
    return j


@pytest.mark.parametrize(
    "when,statuses,outcome",
    [
        ("ok", ["completed", "completed"], deps.GO),
        ("ok", ["completed", "running"], deps.WAIT),
        ("ok", ["failed", "running"], deps.CANCEL),  # no need to wait for the rest
        ("ok", ["cancelled"], deps.CANCEL),
        ("ok", ["lost"], deps.CANCEL),
        ("any", ["failed", "completed", "lost"], deps.GO),
        ("any", ["failed", "queued"], deps.WAIT),
        ("failed", ["failed", "cancelled", "lost"], deps.GO),
        ("failed", ["failed", "running"], deps.WAIT),
        ("failed", ["completed", "running"], deps.CANCEL),
    ],
)
def test_verdict(when, statuses, outcome):
    parents = [job("abcdef"[i], s) for i, s in enumerate(statuses)]
    assert deps.verdict(when, parents)[0] == outcome


def test_reasons_name_the_jobs():
    a = job("a", "failed")
    assert deps.verdict("ok", [a]) == (deps.CANCEL, f"a ({'a' * 8}) failed")
    b = job("b", "cancelled", after=[a.id], reason=f"a ({'a' * 8}) failed")
    assert deps.verdict("ok", [b])[1] == f"b ({'b' * 8}) was cancelled: a ({'a' * 8}) failed"
    user_cancelled = job("c", "cancelled", reason="cancelled before it started")
    assert deps.verdict("ok", [user_cancelled])[1] == f"c ({'c' * 8}) was cancelled"
    assert deps.verdict("ok", [job("d", "running"), job("e", "queued")]) == (
        deps.WAIT,
        f"waiting for d ({'d' * 8}), e ({'e' * 8})",
    )
    assert deps.verdict("failed", [job("f", "completed")])[1] == (
        f"f ({'f' * 8}) completed; this job was to run only if it did not"
    )


class FakeSlurm:
    engine_dependencies = True


def test_slurm_holds_it_only_when_every_parent_is_a_slurm_job_slurm_still_has():
    me = job("z", "pending")
    me.when = "ok"
    a, b = job("a", "running", ref="101"), job("b", "queued", ref="102_3")
    assert deps.engine_dependency(FakeSlurm(), me, [a, b]) == "afterok:101:102_3"
    me.when = "failed"
    assert deps.engine_dependency(FakeSlurm(), me, [a]) == "afternotok:101"
    me.when = "any"
    assert deps.engine_dependency(FakeSlurm(), me, [a]) == "afterany:101"
    # a sweep: its array job
    sweep = job("s", "running", kind="sweep")
    sweep.state["array_id"] = "200"
    assert deps.engine_dependency(FakeSlurm(), me, [sweep]) == "afterany:200"
    assert (
        deps.engine_dependency(FakeSlurm(), me, [a, job("k", "running", backend="k8s", ref="x")])
        is None
    )
    assert deps.engine_dependency(FakeSlurm(), me, [job("c", "completed", ref="103")]) is None
    assert deps.engine_dependency(FakeSlurm(), me, [job("h", "queued")]) is None  # held itself
    assert deps.engine_dependency(object(), me, [a]) is None  # local, Kubernetes


def test_sbatch_dependency_options():
    assert slurm_script.dependency_options(None) == []
    assert slurm_script.dependency_options("afterok:1:2_3") == [
        "--dependency=afterok:1:2_3",
        "--kill-on-invalid-dep=yes",
    ]
    for bad in ("afterok", "afterok:1;rm", "after:1", "afterok:1 2", "singleton"):
        with pytest.raises(ValueError):
            slurm_script.dependency_options(bad)


def test_slurm_reasons_of_a_held_job():
    j = job("b", "queued", ref="5", after=["a" * 32])
    j.state["waiting_for"] = "waiting for a (aaaaaaaa)"
    rec = SlurmRecord(job_id="5", slurm_state="PENDING", reason="Dependency")
    update = slurm_state.active_update(rec)
    _dependency_reason(j, rec, update)
    assert update.reason == "waiting for a (aaaaaaaa)"
    rec = SlurmRecord(job_id="5", slurm_state="PENDING", reason="DependencyNeverSatisfied")
    update = slurm_state.active_update(rec)
    _dependency_reason(j, rec, update)
    assert "DependencyNeverSatisfied" in update.reason and update.reason.startswith("will not")
    other = job("c", "queued", ref="6")
    update = JobUpdate(status="queued", reason="waiting for resources (Resources)")
    _dependency_reason(
        other, SlurmRecord(job_id="6", slurm_state="PENDING", reason="Resources"), update
    )
    assert update.reason == "waiting for resources (Resources)"


def test_a_failed_slurm_job_keeps_the_runners_reason():
    rec = SlurmRecord(job_id="5", slurm_state="FAILED", reason="NonZeroExitCode", exit_code=1)
    status = {"state": "failed", "exit_code": 3, "reason": "exit code 3"}
    update = slurm_state.final_update(rec, status)
    assert (update.status, update.exit_code, update.reason) == ("failed", 3, "exit code 3")
    # without the runner's word (it never ran): SLURM's
    update = slurm_state.final_update(rec, None)
    assert update.status == "failed" and update.reason == "SLURM marked the job FAILED"


@pytest.mark.parametrize(
    "after,when,message",
    [
        ("x" * 129, None, "is not a job id"),
        ([None], None, "None is not a job id"),
        (["a", "a"], None, "job a is named twice"),
        ([str(i) for i in range(101)], None, "at most 100 jobs"),
        (["a"], "later", "Start when: 'later' is not one of ok, any, failed"),
        (3, None, "Wait for must be a list of job ids"),
    ],
)
def test_check_after_refusals(after, when, message):
    with pytest.raises(BadRequest) as e:
        check_after(after, when, "script")
    assert message in e.value.message


def test_check_after_kernels_and_sweeps():
    assert check_after(None, None, "script") == ([], "ok")
    assert check_after("abc", "any", "notebook") == (["abc"], "any")
    with pytest.raises(BadRequest, match="remote kernel"):
        check_after(["abc"], None, "kernel")
    # a sweep may wait (every child waits): its request is checked as any job's
    assert check_after(["abc"], "failed", "script") == (["abc"], "failed")
