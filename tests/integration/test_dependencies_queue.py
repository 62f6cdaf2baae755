"""A job released by the jobs it waited for into a full local queue says what it waits for now:
a free slot, not the parent that has ended (one slot: ``LocalSpawner.max_concurrent = 1``)."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.test_dependencies import files, gated, short  # noqa: F401

FINAL = ("completed", "failed", "cancelled", "lost")


@pytest.fixture
def jobs_config():
    return {"LocalSpawner": {"max_concurrent": 1, "poll_interval": 0.2}}


async def test_a_released_dependant_waiting_for_a_slot_says_so(
    jobs_api,
    files,  # noqa: F811
    tmp_path,
):
    gate_a, gate_c = tmp_path / "gate-a", tmp_path / "gate-c"
    a = await gated(jobs_api, gate_a, 0, "a")
    a = await jobs_api.wait(a["id"], statuses=("running",), timeout=30)
    c = await gated(jobs_api, gate_c, 0, "c")  # next in the queue: it takes A's slot
    b = await jobs_api.submit({"path": "quick.py", "name": "b", "after": [a["id"]]})
    b = await jobs_api.wait(b["id"], statuses=("queued", *FINAL), timeout=30)
    assert b["reason"] == f"waiting for {short(a)}", b
    c = await jobs_api.get(c["id"])
    assert c["status"] == "queued" and c["reason"].startswith("waiting for a free slot"), c

    gate_a.write_text("")  # A ends: C starts in its slot, B is released but finds none
    c = await jobs_api.wait(c["id"], statuses=("running", *FINAL), timeout=30)
    assert c["status"] == "running", c
    deadline = time.monotonic() + 30
    while (b := await jobs_api.get(b["id"]))["reason"] == f"waiting for {short(a)}":
        assert time.monotonic() < deadline, b  # still names the parent that has ended
        await asyncio.sleep(0.1)
    assert b["status"] == "queued", b
    assert b["reason"].startswith("waiting for a free slot (1 job runs at once on"), b

    gate_c.write_text("")
    b = await jobs_api.wait(b["id"], timeout=60)
    assert b["status"] == "completed" and b["reason"] is None, b
