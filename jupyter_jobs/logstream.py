"""Live log follow over an authenticated websocket, from a byte offset.

Protocol (docs/CONTRACT.md): ``data`` frames carry ``offset``/``next_offset`` byte positions and never
split a UTF-8 character; an ``end`` frame follows once the job is final and all was sent. A client
that reconnects with its last ``next_offset`` misses and repeats nothing. Each frame is awaited before
the next is read, so a slow client holds back the reader instead of filling the server's memory.

The websocket handler is :class:`jupyter_jobs.handlers.logs.LogFollowHandler`; this module holds
its pure parts (no server imports).
"""

from __future__ import annotations

CHUNK = 64 * 1024
IDLE_WAIT = 0.1  # seconds between two looks at a log that did not grow


def utf8_cut(data: bytes) -> int:
    """Length of the longest prefix of ``data`` that does not end inside a UTF-8 character."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        b = data[n - back]
        if b & 0x80 == 0:  # ASCII
            return n
        if b & 0xC0 == 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if b & 0xE0 == 0xC0 else 3 if b & 0xF0 == 0xE0 else 4
            return n if back >= need else n - back
    return n
