"""Parsing squeue/sacct/scontrol output and turning SLURM states into job statuses (no cluster)."""

from __future__ import annotations

from jupyter_jobs.spawners import slurm_state as st

SQUEUE = """\
5|PENDING|Resources||2026-11-24T22:16:17|alice
6|PENDING|Priority||N/A|alice
4|RUNNING|None|node07|2026-11-24T22:11:17|alice
3|CANCELLED|None||2026-11-24T22:10:17|alice
garbage line
"""


def test_parse_squeue_rows():
    rows = st.parse_squeue(SQUEUE)
    assert set(rows) == {"3", "4", "5", "6"}
    assert rows["5"].reason == "Resources" and rows["5"].start == "2026-11-24T22:16:17"
    assert rows["6"].start == "" and rows["4"].nodes == "node07"


def test_pending_job_shows_reason_and_expected_start():
    u = st.active_update(st.parse_squeue(SQUEUE)["5"])
    assert u.status == "queued"
    assert u.reason == "waiting for resources (Resources)"
    assert u.expected_start and u.expected_start.endswith("Z")
    u = st.active_update(st.parse_squeue(SQUEUE)["6"])
    assert u.reason == "waiting for higher-priority jobs (Priority)"
    assert u.expected_start is None


def test_running_job_shows_node():
    u = st.active_update(st.parse_squeue(SQUEUE)["4"])
    assert u.status == "running" and u.host == "node07" and u.clear_reason


def test_finished_row_is_not_active():
    assert st.active_update(st.parse_squeue(SQUEUE)["3"]) is None


def test_parse_sacct_skips_steps_and_reads_exit_code_and_signal():
    text = (
        "7|CANCELLED by 0|0:15|n1|2026-11-24T22:00:00|2026-11-24T22:01:00|bob\n"
        "7.batch|CANCELLED|0:15|n1|||bob\n8|TIMEOUT|0:1|n1|||bob\n"
    )
    rows = st.parse_sacct(text)
    assert set(rows) == {"7", "8"}
    assert (
        rows["7"].slurm_state == "CANCELLED" and rows["7"].signal == 15 and rows["7"].user == "bob"
    )


def test_parse_scontrol_one_line():
    rec = st.parse_scontrol(
        "JobId=3 JobName=wrap UserId=carol(1002) GroupId=carol(1002) JobState=COMPLETED "
        "Reason=None ExitCode=2:0 StartTime=2026-11-24T22:10:17 EndTime=2026-11-24T22:10:18 "
        "NodeList=localhost"
    )
    assert rec.job_id == "3" and rec.user == "carol" and rec.slurm_state == "COMPLETED"
    assert rec.exit_code == 2 and rec.nodes == "localhost"
    assert st.parse_scontrol("slurm_load_jobs error: Invalid job id specified") is None


RUNNER_FAILED = {
    "state": "failed",
    "exit_code": 3,
    "reason": "exit code 3",
    "host": "n1",
    "started_at": "2026-11-24T22:10:17Z",
    "finished_at": "2026-11-24T22:10:19Z",
}


def rec(state, code=None, sig=None):
    return st.SlurmRecord(job_id="1", slurm_state=state, nodes="n1", exit_code=code, signal=sig)


def test_completed_allocation_takes_the_command_exit_code_from_the_runner():
    u = st.final_update(rec("COMPLETED", 0, 0), RUNNER_FAILED)
    assert (u.status, u.exit_code, u.reason) == ("failed", 3, "exit code 3")
    ok = {"state": "completed", "exit_code": 0, "reason": None}
    u = st.final_update(rec("COMPLETED", 0, 0), ok)
    assert (u.status, u.exit_code, u.clear_reason) == ("completed", 0, True)


def test_slurm_cancel_and_timeout_win_over_the_runner():
    stopped = {"state": "cancelled", "exit_code": 143, "reason": "cancelled (SIGTERM)"}
    assert st.final_update(rec("CANCELLED"), stopped).status == "cancelled"
    u = st.final_update(rec("TIMEOUT", 0, 1), stopped)
    assert u.status == "failed" and "time limit" in u.reason and u.exit_code == 143


def test_runner_sigterm_nobody_asked_for_is_a_failure():
    stopped = {"state": "cancelled", "exit_code": 143, "reason": "cancelled (SIGTERM)"}
    u = st.final_update(None, stopped, cancel_requested=False)
    assert u.status == "failed" and "stopped by SLURM" in u.reason
    assert st.final_update(None, stopped, cancel_requested=True).status == "cancelled"


def test_runner_status_alone_settles_a_job_slurm_forgot():
    u = st.final_update(None, RUNNER_FAILED)
    assert u.status == "failed" and u.exit_code == 3 and u.host == "n1"


def test_failed_allocation_without_runner_status_uses_slurm_exit_code():
    u = st.final_update(rec("FAILED", 0, 9), None)
    assert u.status == "failed" and u.exit_code == 137


def test_nothing_known_yet_is_none():
    assert st.final_update(rec("COMPLETED", 0, 0), None) is None
    assert st.final_update(rec("RUNNING"), None) is None
    assert st.final_update(None, {"state": "running"}) is None
