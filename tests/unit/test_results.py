"""``jupyter_jobs.record`` (values, names, the file, outside a job) and the results table of one
run and of a sweep's children, on fabricated jobs."""

from __future__ import annotations

import json
import os
import warnings
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_jobs import jobfiles, results
from jupyter_jobs.models import Job

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.fixture
def job_dir(tmp_path, monkeypatch):
    d = tmp_path / "job"
    d.mkdir()
    monkeypatch.setenv("JUPYTER_JOBS_DIR", str(d))
    return d


def recorded(job_dir) -> dict:
    with open(job_dir / "results.json") as f:
        return json.load(f)


def test_record_merges_values_into_results_json_in_the_order_first_recorded(job_dir):
    assert results.record(loss=0.5, label="x") is True
    assert results.record(acc=0.9, loss=0.1, done=True, note=None, epochs=3) is True
    assert recorded(job_dir) == {
        "loss": 0.1,
        "label": "x",
        "acc": 0.9,
        "done": True,
        "note": None,
        "epochs": 3,
    }
    assert list(recorded(job_dir)) == ["loss", "label", "acc", "done", "note", "epochs"]
    assert jobfiles.read_results(str(job_dir)) == recorded(job_dir)
    # atomic replace: no temp file is left next to it
    assert sorted(os.listdir(job_dir)) == ["results.json"]


@pytest.mark.parametrize(
    ("value", "kind", "words"),
    [
        ([1, 2], TypeError, "loss=[1, 2] is a list; record takes numbers, strings"),
        ({"a": 1}, TypeError, "loss={'a': 1} is a dict"),
        (object(), TypeError, "is a object"),
        (b"x", TypeError, "loss=b'x' is a bytes"),
        (float("nan"), ValueError, "loss=nan is not a finite number"),
        (float("inf"), ValueError, "loss=inf is not a finite number"),
        (2**70, ValueError, "too large a whole number"),
        ("x" * 10_001, ValueError, "a text of 10001 characters; at most 10000"),
    ],
)
def test_a_value_that_is_no_scalar_is_refused_naming_it_and_nothing_is_written(
    job_dir, value, kind, words
):
    results.record(kept=1)
    with pytest.raises(kind, match=None) as e:
        results.record(ok=2, loss=value)
    assert words in str(e.value), str(e.value)
    assert "jupyter_jobs.record" in str(e.value)
    assert recorded(job_dir) == {"kept": 1}  # the whole call refused: ok=2 not written either


def test_names_are_identifiers_of_at_most_100_characters(job_dir):
    with pytest.raises(TypeError, match="'a b' is not a valid name"):
        results.record(**{"a b": 1})
    with pytest.raises(TypeError, match="'1x' is not a valid name"):
        results.record(**{"1x": 1})
    with pytest.raises(ValueError, match="101 characters long; at most 100"):
        results.record(**{"n" * 101: 1})
    assert results.record(**{"n" * 100: 1}) is True


def test_the_file_is_capped(job_dir):
    for i in range(100):
        results.record(**{f"text_{i}": "y" * 9_000})
    with pytest.raises(ValueError, match="at most 1048576"):
        for i in range(100, 200):
            results.record(**{f"text_{i}": "y" * 9_000})
    assert len((job_dir / "results.json").read_bytes()) <= results.MAX_FILE_BYTES


def test_numpy_scalars_are_recorded_as_their_python_values(job_dir):
    np = pytest.importorskip("numpy", reason="numpy is not installed here")
    results.record(a=np.float64(0.25), b=np.int64(7), c=np.bool_(True), d=np.array(1.5))
    assert recorded(job_dir) == {"a": 0.25, "b": 7, "c": True, "d": 1.5}
    with pytest.raises(TypeError, match="is a ndarray"):
        results.record(e=np.array([1, 2]))


def test_outside_a_job_record_warns_once_and_records_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("JUPYTER_JOBS_DIR", raising=False)
    monkeypatch.setattr(results, "_warned_outside", False)
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning, match="not running as a job, so nothing is recorded"):
        assert results.record(loss=0.1) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second call: no warning
        assert results.record(loss=0.2) is False
    assert os.listdir(tmp_path) == []
    # bad values are refused outside a job too: the mistake shows before the job runs
    with pytest.raises(TypeError):
        results.record(loss=[0.1])


def test_read_results_keeps_only_scalars_and_ignores_what_is_no_mapping(tmp_path):
    assert jobfiles.read_results(str(tmp_path)) is None
    (tmp_path / "results.json").write_text('{"a": 1, "b": [1], "c": NaN, "d": "x"}')
    assert jobfiles.read_results(str(tmp_path)) == {"a": 1, "d": "x"}
    (tmp_path / "results.json").write_text("[1, 2]")
    assert jobfiles.read_results(str(tmp_path)) is None
    (tmp_path / "results.json").write_text('{"a": "' + "x" * (1 << 20) + '"}')
    assert jobfiles.read_results(str(tmp_path)) is None


# ---------------------------------------------------------------------- the table


def make_job(n: int, status="completed", seconds=None, parameters=None, recorded=None, **kw):
    started = T0 if seconds is not None else None
    job = Job(
        id=f"job{n:02d}" + "0" * 26,
        name=f"run {n}",
        kind="notebook",
        backend="local",
        profile="default",
        status=status,
        started_at=started,
        finished_at=T0 + timedelta(seconds=seconds)
        if seconds is not None and status != "running"
        else None,
        parameters=dict(parameters or {}),
        results=dict(recorded or {}),
    )
    for key, value in kw.items():
        setattr(job, key, value)
    return job


def test_one_run_is_one_row_id_status_duration_parameters_results():
    job = make_job(1, seconds=12.5, parameters={"alpha": 0.1}, recorded={"loss": 0.2, "acc": 0.9})
    assert results.table([job]) == {
        "columns": ["id", "status", "duration_seconds", "alpha", "loss", "acc"],
        "rows": [[job.id, "completed", 12.5, 0.1, 0.2, 0.9]],
    }


def test_a_run_that_has_not_started_has_no_duration_and_no_values():
    job = make_job(1, status="queued")
    assert results.table([job]) == {
        "columns": ["id", "status", "duration_seconds"],
        "rows": [[job.id, "queued", None]],
    }


def test_a_sweep_has_a_row_per_child_columns_in_first_seen_order_and_nulls_for_gaps():
    children = [
        make_job(0, seconds=3, parameters={"alpha": 0.1, "seed": 0}, recorded={"loss": 0.5}),
        make_job(1, "failed", seconds=1, parameters={"alpha": 0.5, "seed": 0}, recorded={}),
        make_job(
            2,
            seconds=4,
            parameters={"alpha": 1.0, "seed": 0, "extra": "x"},
            recorded={"acc": 0.7, "loss": 0.25},
        ),
        make_job(3, "queued", parameters={"alpha": 1.0, "seed": 1}),
    ]
    for i, child in enumerate(children):
        child.index = i
    answer = results.table(children, sweep=True)
    assert answer["columns"] == [
        "index", "id", "status", "duration_seconds", "alpha", "seed", "extra", "loss", "acc",
    ]  # fmt: skip
    assert answer["rows"] == [
        [0, children[0].id, "completed", 3.0, 0.1, 0, None, 0.5, None],
        [1, children[1].id, "failed", 1.0, 0.5, 0, None, None, None],
        [2, children[2].id, "completed", 4.0, 1.0, 0, "x", 0.25, 0.7],
        [3, children[3].id, "queued", None, 1.0, 1, None, None, None],
    ]
    assert results.rows_as_dicts(answer)[2]["acc"] == 0.7
    assert json.loads(json.dumps(answer)) == answer  # plain JSON


def test_a_sweep_of_jobs_without_an_index_counts_them_in_order():
    answer = results.table([make_job(5), make_job(6)], sweep=True)
    assert [row[0] for row in answer["rows"]] == [0, 1]


def test_names_taken_by_an_earlier_column_are_told_apart():
    job = make_job(1, parameters={"status": "p", "alpha": 1}, recorded={"alpha": 2, "id": "r"})
    answer = results.table([job])
    assert answer["columns"] == [
        "id", "status", "duration_seconds", "parameter.status", "alpha", "result.alpha", "result.id",
    ]  # fmt: skip
    assert answer["rows"][0][3:] == ["p", 1, 2, "r"]


def test_a_running_run_counts_its_duration_to_now_and_reads_results_through_the_callback():
    job = make_job(1, status="running", seconds=0)
    job.started_at = datetime.now(timezone.utc) - timedelta(seconds=30)
    answer = results.table([job], results_of=lambda j: {"step": 4})
    row = dict(zip(answer["columns"], answer["rows"][0]))
    assert row["duration_seconds"] >= 30 and row["step"] == 4


def test_the_text_table_aligns_columns_and_shortens_ids_and_csv_is_plain():
    children = [
        make_job(0, seconds=3, parameters={"lr": 0.1}, recorded={"loss": 0.5, "tag": "a,b"}),
        make_job(1, "failed", seconds=10, parameters={"lr": 0.01}, recorded={"ok": False}),
    ]
    answer = results.table(children, sweep=True)
    text = results.format_text(answer).splitlines()
    assert text[0].split() == [
        "index", "id", "status", "duration_seconds", "lr", "loss", "tag", "ok",
    ]  # fmt: skip
    assert text[1].split() == ["0", "job00000", "completed", "3", "0.1", "0.5", "a,b", "-"]
    assert text[2].split() == ["1", "job01000", "failed", "10", "0.01", "-", "-", "false"]
    # numbers are right-aligned: each line is as long as the widest column needs
    assert text[1].index("0.5") + 3 == text[0].index("loss") + 4
    csv_text = results.format_csv(answer)
    assert csv_text.splitlines() == [
        "index,id,status,duration_seconds,lr,loss,tag,ok",
        f'0,{children[0].id},completed,3.0,0.1,0.5,"a,b",',
        f"1,{children[1].id},failed,10.0,0.01,,,false",
    ]


def test_a_remote_kernel_is_no_run_record_warns_and_records_nothing(job_dir, monkeypatch):
    monkeypatch.setattr(results, "_warned_outside", False)
    (job_dir / "job.json").write_text(json.dumps({"id": "k", "kind": "kernel"}))
    with pytest.warns(UserWarning, match="not running as a job"):
        assert results.record(loss=0.1) is False
    assert not (job_dir / "results.json").exists()
