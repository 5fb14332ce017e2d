"""``fetch --workers N``: the concurrent backfill of the ``fetch`` action, then one cursor.

How a fetch runs (``slices.py``: the slices and their state file; ``pacing.py``: the rate):

1. ``GET /v2/request-limits/`` is read once (a team key may be refused there, an older server
   may not have it: nothing is published then, and the pacer adapts from 429s). The
   connection's pacer is filled from it and shared by every worker.
2. Workers: ``--workers N``, else chosen from the published Search limit (enough to keep it
   busy at an assumed 300 ms a page: ``ceil(limit/s x 0.3) + 1``, 2 to 16), else
   ``DEFAULT_WORKERS`` (8).
3. A fresh window ``[start, min(end, now - 5 s))`` is cut into slices read concurrently
   (``backfill.run_backfill``); events are written as JSON Lines as pages arrive (oldest update
   first inside a slice, pages of different slices interleaved) and the checkpoint file holds
   the slice state, written atomically after every page. A checkpoint file holding a slice state
   resumes every slice where it stopped.
4. When every slice is read, one cursor continues from the end of the backfill (the updates
   that landed meanwhile, then ``--follow``); the checkpoint file then holds that ``ck1.``
   checkpoint, as a sequential fetch writes it.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, TextIO

from ..checkpoint import query_digest
from ..pacing import Pacer
from ..slices import SliceBoard

#: Workers when no Search limit is published.
DEFAULT_WORKERS = 8
MAX_WORKERS = 32
#: Page round trip assumed when choosing workers from a published limit, seconds.
ASSUMED_PAGE_S = 0.3
#: Like Fetch Event, a backfill never reads past "now - 5 s" (updates still landing).
SETTLE_MS = 5000


def discover_pacer(client: Any) -> Pacer:
    """A pacer for ``client``, filled from ``GET /v2/request-limits/`` when it can be read. Any
    failure (a team key's 403, a 404, a bad answer, no answer) leaves it empty: it then adapts
    from 429s; the fetch itself reports what is wrong with the connection."""
    try:
        return Pacer.from_request_limits(client.get_request_limits())
    except Exception:  # noqa: BLE001 - the limits are optional: any failure means "not published"
        return Pacer(None)


def default_workers(pacer: Pacer) -> int:
    """Workers for a backfill when ``--workers`` is not given (see the module docstring)."""
    rate = pacer.per_second("search")
    if rate is None:
        return DEFAULT_WORKERS
    return max(2, min(16, math.ceil(rate * ASSUMED_PAGE_S) + 1))


class FetchProgress:
    """Progress on stderr, at most once a second: events, pages, events/s, requests/s, workers
    and the limit in force. Thread-safe. ``client``/``pacer``/``workers`` are set once known."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream, self.quiet = stream, quiet
        self.client: Any = None
        self.pacer: Pacer | None = None
        self.workers = 1
        self.board: SliceBoard | None = None
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

    def requests(self) -> int:
        return int(getattr(self.client, "requests_sent", 0) or 0)

    def limit(self) -> str:
        return self.pacer.domain("search").describe() if self.pacer else "search no limit known"

    def line(self) -> str:
        elapsed = max(1e-9, time.monotonic() - self.started)
        return (
            f"{self.events} events, {self.pages} pages, {self.events / elapsed:.0f} events/s, "
            f"{self.requests() / elapsed:.1f} requests/s, {self.workers} "
            f"worker{'s' if self.workers != 1 else ''}, limit: {self.limit()}"
        )

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.events / elapsed if elapsed > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """The ``fetch: done`` figures: counts, seconds, rates, workers, limit, 429s, slices."""
        elapsed = time.monotonic() - self.started
        search = self.pacer.domain("search") if self.pacer else None
        figures: dict[str, Any] = {
            "events": self.events,
            "pages": self.pages,
            "requests": self.requests(),
            "seconds": round(elapsed, 3),
            "events_per_second": round(self.rate(), 1),
            "requests_per_second": round(self.requests() / elapsed, 1) if elapsed > 0 else 0.0,
            "workers": self.workers,
            "limit": self.limit(),
            "throttled": search.throttled if search else 0,
        }
        if self.board is not None:
            figures["splits"] = self.board.splits
        return figures


def plan_board(
    start_ms: int, end_ms: int | None, now_ms: int, query: str | None, workers: int
) -> SliceBoard:
    """A fresh backfill of ``[start_ms, min(end_ms, now_ms - 5 s))``; ``end_ms`` None means "up
    to now" (the single cursor that follows has a moving end)."""
    settled = now_ms - SETTLE_MS
    end = min(end_ms, settled) if end_ms is not None else settled
    return SliceBoard.new(start_ms, max(start_ms, end), query_digest(query), end_ms, workers)


def resume_board(text: str, query: str | None) -> SliceBoard:
    """The backfill saved in a checkpoint file.

    Raises:
        slices.SliceStateError: damaged, or made for another Search Condition.
    """
    return SliceBoard.decode(text, query_digest(query))
