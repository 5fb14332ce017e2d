"""``fetch --workers N``: the concurrent backfill of the ``fetch`` action, then one cursor.

How it runs (see ``slices.py`` for the slices and their state file, ``pacing.py`` for the rate):

1. Before the first page, ``GET /v2/request-limits/`` is read once (a team key may be refused
   there, an older server may not have it: then nothing is published and the pacer adapts
   from 429s). The connection's pacer is filled from it and shared by every worker.
2. Workers: ``--workers N``, else chosen from the published Search limit (enough to keep it
   busy at an assumed 300 ms a page, 2 to 16), else ``DEFAULT_WORKERS`` (8).
3. The backfill window ``[start, min(end, now - 5 s))`` is cut into slices read concurrently
   (``backfill.run_backfill``); events are written as JSON Lines as pages arrive (oldest update
   first inside a slice, pages of different slices interleaved) and the state file is written
   atomically after every page.
4. When every slice is read the caller continues with one cursor from the end of the backfill
   (the updates that landed meanwhile, and ``--follow``).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, TextIO

from .checkpoint import query_digest
from .pacing import Pacer
from .slices import SliceBoard, SliceStateError

#: Workers when no Search limit is published.
DEFAULT_WORKERS = 8
MAX_WORKERS = 32
#: Page round trip assumed when choosing workers from a published limit, seconds.
ASSUMED_PAGE_S = 0.3
SETTLE_MS = 5000


def discover_pacer(client: Any) -> Pacer:
    """A pacer for ``client``, filled from ``GET /v2/request-limits/`` when it can be read
    (any failure, including a team key's 403, leaves it empty: it then adapts from 429s)."""
    try:
        body = client.get_request_limits()
        return Pacer.from_request_limits(body)
    except Exception:  # noqa: BLE001 - any answer but the published limits means "not published"
        return Pacer(None)


def default_workers(pacer: Pacer) -> int:
    """Workers for a backfill when ``--workers`` is not given (see the module docstring)."""
    rate = pacer.per_second("search")
    if rate is None:
        return DEFAULT_WORKERS
    return max(2, min(16, math.ceil(rate * ASSUMED_PAGE_S) + 1))


class ParallelProgress:
    """Progress on stderr, at most once a second: events, events/s, requests/s, workers and the
    limit in force. Thread-safe (``page`` is called under the output lock)."""

    def __init__(self, stream: TextIO, quiet: bool, client: Any, pacer: Pacer, workers: int):
        self.stream, self.quiet, self.client, self.pacer = stream, quiet, client, pacer
        self.workers = workers
        self.started = time.monotonic()
        self.events = 0
        self.pages = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def page(self, events: int) -> None:
        with self._lock:
            self.events += events
            self.pages += 1
            now = time.monotonic()
            if self.quiet or now - self._last < 1.0:
                return
            self._last = now
        self.stream.write(f"fetch: {self.line()}\n")
        self.stream.flush()

    def line(self) -> str:
        elapsed = max(1e-9, time.monotonic() - self.started)
        requests = getattr(self.client, "requests_sent", 0)
        return (
            f"{self.events} events, {self.pages} pages, {self.events / elapsed:.0f} events/s, "
            f"{requests / elapsed:.1f} requests/s, {self.workers} workers, "
            f"limit: {self.pacer.domain('search').describe()}"
        )

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.events / elapsed if elapsed > 0 else 0.0


def plan_board(
    start_ms: int, end_ms: int | None, now_ms: int, query: str | None, workers: int
) -> SliceBoard:
    """A fresh backfill of ``[start_ms, min(end_ms, now_ms - 5 s))``; ``end_ms`` None means "up
    to now" (the tail then follows with a moving end)."""
    settled = now_ms - SETTLE_MS
    end = min(end_ms, settled) if end_ms is not None else settled
    return SliceBoard.new(start_ms, max(start_ms, end), query_digest(query), end_ms, workers)


def resume_board(text: str, query: str | None) -> SliceBoard:
    """The backfill saved in a checkpoint file.

    Raises:
        SliceStateError: damaged, or made for another Search Condition.
    """
    return SliceBoard.decode(text, query_digest(query))


__all__ = [
    "DEFAULT_WORKERS",
    "MAX_WORKERS",
    "ParallelProgress",
    "SliceStateError",
    "default_workers",
    "discover_pacer",
    "plan_board",
    "resume_board",
]
