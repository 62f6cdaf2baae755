"""``GET jobs`` at scale (issue 14, point 11): 10,000 jobs in a real server's index — pages, search,
filters, ``total`` and ``counts``, and ``changed_since`` with its deletions and its "reload".

The jobs are written into the server's own index directly (scripts/seed_jobs.py builds them; no
job directories, so it takes well under a second): the server never scans rows it did not learn
itself, so they stay listed. Jobs made through the API are real local jobs.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys
import time

import pytest

from jupyter_jobs import store as store_module

N = 10_000
SEED_PATH = pathlib.Path(__file__).parents[2] / "scripts" / "seed_jobs.py"
_spec = importlib.util.spec_from_file_location("seed_jobs", SEED_PATH)
assert _spec and _spec.loader
seed_jobs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(seed_jobs)


@pytest.fixture
def seeded(manager):
    jobs = seed_jobs.make_jobs(N, manager.root.path)
    t0 = time.monotonic()
    manager.store.save_many(jobs)
    print(f"\nindexed {N} jobs in {time.monotonic() - t0:.2f} s")
    return jobs  # oldest first


async def get(api, expect=200, **params):
    """``GET jobs``; a list value repeats the parameter (``status=a&status=b``)."""
    pairs = [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
    r = await api.fetch("jupyter-jobs", "api", "jobs", params=pairs, raise_error=False)
    assert r.code == expect, r.body
    return json.loads(r.body)


async def test_pages_reach_every_job_with_total_and_counts(jobs_api, seeded):
    t0 = time.monotonic()
    first = await get(jobs_api)
    print(f"first page: {(time.monotonic() - t0) * 1000:.1f} ms, {len(json.dumps(first))} bytes")
    assert len(first["jobs"]) == 100  # the default page
    assert first["total"] == N
    assert first["counts"] == {
        **dict.fromkeys(("pending", "queued", "running", "cancelling", "cancelled"), 0),
        **seed_jobs.expected(N),
    }
    assert first["jobs"][0]["id"] == seeded[-1].id  # newest first
    seen = []
    cursor = None
    requests = 0
    while True:
        page = await get(jobs_api, limit="1000", **({"cursor": cursor} if cursor else {}))
        requests += 1
        seen += [j["id"] for j in page["jobs"]]
        assert page["total"] == N
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert requests == 10 and len(seen) == N == len(set(seen))  # no cap
    assert seen == [j.id for j in reversed(seeded)]
    assert (await get(jobs_api, limit="1001", expect=400))["field"] == "limit"


async def test_search_and_filters_are_answered_by_the_server(jobs_api, seeded):
    oldest = seeded[0]
    # an old job by its name, ignoring case
    page = await get(jobs_api, q=oldest.name.upper())
    assert [j["id"] for j in page["jobs"]] == [oldest.id] and page["total"] == 1
    # by a part of the path, with a filter; counts stay those of the whole store
    q = "sweeps/sweep-0000"
    page = await get(jobs_api, q=q, status="failed")
    want = [j.id for j in reversed(seeded) if q in j.path and j.status == "failed"]
    assert [j["id"] for j in page["jobs"]] == want and page["total"] == len(want) == 1
    assert page["counts"]["completed"] == seed_jobs.expected(N)["completed"]
    # failed or lost: the exact count, paged
    failed = await get(jobs_api, status="failed,lost", limit="50")
    expected = seed_jobs.expected(N)
    assert failed["total"] == expected["failed"] + expected["lost"] == 1200
    assert len(failed["jobs"]) == 50 and {j["status"] for j in failed["jobs"]} <= {"failed", "lost"}
    # repeatable lists mean the same as comma lists
    again = await get(jobs_api, status=["failed", "lost"], limit="50")
    assert again["total"] == failed["total"]
    # kind is the scope: page, total and counts
    notebooks = await get(jobs_api, kind="notebook")
    assert notebooks["total"] == sum(1 for j in seeded if j.kind == "notebook") == N // 5
    assert sum(notebooks["counts"].values()) == N // 5
    assert (await get(jobs_api, backend="slurm"))["total"] == 0
    t0 = time.monotonic()
    await get(jobs_api, q="no such job anywhere")
    print(f"\nsearch of {N} jobs: {(time.monotonic() - t0) * 1000:.1f} ms")


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"q": "a\tb"}, "q", "control character"),
        ({"q": "a\x0fb"}, "q", "control character"),  # tornado would make it a space
        ({"q": "x" * 201}, "q", "at most 200"),
        ({"q": ["a", "b"]}, "q", "once"),
        ({"changed_since": "yesterday"}, "changed_since", "change_token of an earlier answer"),
        ({"changed_since": "ABCDEF01-1"}, "changed_since", "change_token"),
        ({"status": "broken"}, "status", "unknown status"),
        ({"kind": "script,"}, "kind", "empty value"),
        ({"limit": "0"}, "limit", "at least 1"),
    ],
)
async def test_bad_list_requests_are_400_in_the_users_words(jobs_api, params, field, words):
    error = await get(jobs_api, expect=400, **params)
    assert error["field"] == field and words in error["message"], error


async def test_changed_since_gives_only_what_changed_and_deletions(
    jobs_api, seeded, manager, monkeypatch
):
    first = await get(jobs_api, limit="10")
    token = first["change_token"]
    nothing = await get(jobs_api, changed_since=token)
    assert nothing["jobs"] == [] and nothing["deleted"] == [] and not nothing["reload"]
    assert nothing["total"] == N

    (pathlib.Path(jobs_api.root) / "quick.py").write_text("print('hi')\n")
    job = await jobs_api.submit({"path": "quick.py"})
    await jobs_api.wait(job["id"])
    old = seeded[5]
    r = await jobs_api.request("DELETE", f"jobs/{old.id}")
    assert r.code == 204, r.body

    changes = await get(jobs_api, changed_since=token)
    assert [j["id"] for j in changes["jobs"]] == [job["id"]]
    assert changes["jobs"][0]["status"] == "completed"
    assert changes["deleted"] == [old.id] and not changes["reload"]
    assert changes["total"] == N  # one more, one fewer
    assert changes["counts"]["completed"] == seed_jobs.expected(N)["completed"] + 1 - (
        old.status == "completed"
    )
    # with a filter, still every change (so a client drops rows that left its view), but the
    # total of the filter
    failed = await get(jobs_api, changed_since=token, status="failed")
    assert [j["id"] for j in failed["jobs"]] == [job["id"]]
    assert failed["total"] == seed_jobs.expected(N)["failed"] - (old.status == "failed")
    # after the latest token: nothing
    latest = await get(jobs_api, changed_since=changes["change_token"])
    assert latest["jobs"] == [] and latest["deleted"] == []

    # more deletions than the index keeps tombstones of: an old token must reload
    monkeypatch.setattr(store_module, "MAX_TOMBSTONES", 2)
    for victim in seeded[10:13]:
        r = await jobs_api.request("DELETE", f"jobs/{victim.id}")
        assert r.code == 204, r.body
    too_old = await get(jobs_api, changed_since=token, limit="10")
    assert too_old["reload"] and too_old["deleted"] == []
    assert [j["id"] for j in too_old["jobs"]] == [job["id"]] + [j.id for j in seeded[::-1][:9]]
    assert too_old["total"] == N + 1 - 4
    # a token of another index (a rebuilt one, another host's): reload as well
    epoch, _, seq = too_old["change_token"].partition("-")
    other = ("0" if epoch[0] != "0" else "1") + epoch[1:]
    assert (await get(jobs_api, changed_since=f"{other}-{seq}"))["reload"]


def test_the_seed_script_runs(tmp_path):
    """scripts/seed_jobs.py as the browser test runs it: directories and index, one JSON line."""
    import subprocess

    out = subprocess.run(
        [sys.executable, str(SEED_PATH), str(tmp_path / "root"), "120"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    report = json.loads(out)
    assert report["jobs"] == 120 and report["counts"] == seed_jobs.expected(120)
    store = store_module.JobStore(str(tmp_path / "root" / "jobs.db"))
    assert store.count() == 120
    assert len([p for p in (tmp_path / "root").iterdir() if p.is_dir()]) == 120


async def test_an_id_prefix_is_looked_up_in_one_request(jobs_api, seeded):
    """``GET jobs?id=<start>``: what the CLI's short ids (``jupyter jobs logs 1a2b``) ask, once,
    instead of listing every page (issue 14, point 8)."""
    target = seeded[1234]
    page = await get(jobs_api, id=target.id[:12])
    assert [j["id"] for j in page["jobs"]] == [target.id]
    assert page["total"] == 1
    # a start shared by several jobs names them all (the client calls it ambiguous)
    start = target.id[:6]  # the seeded ids count up in hex: 256 of them start so
    shared = await get(jobs_api, id=start, limit="1000")
    assert target.id in [j["id"] for j in shared["jobs"]]
    assert shared["total"] == len(shared["jobs"]) == sum(j.id.startswith(start) for j in seeded) > 1
    assert (await get(jobs_api, id="zz-no-such"))["jobs"] == []
    bad = await get(jobs_api, id="a b", expect=400)
    assert bad["field"] == "id" and "job id" in bad["message"]
    assert (await get(jobs_api, id=["a", "b"], expect=400))["field"] == "id"
