"""Asynchronous write processing, as OpsGenie does it: a write is only queued.

Every alert write (create, delete, acknowledge, note, tags, ...) answers 202 with the request's
``requestId`` and is put on a ``WriteQueue``. After ``delay`` seconds (real, monotonic time, whatever
the sandbox clock says) a worker thread runs it; until then ``GET /v2/alerts/requests/{requestId}``
answers 404 with header ``X-Opsgenie-Errortype: RequestNotProcessed``. Afterwards it answers the
outcome: ``{success, action, processedAt, integrationId, isSuccess, status, alertId, alias}``.
A ``delay`` of 0 runs the write before the 202 is sent. Writes run one at a time, in arrival order.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clock import SandboxClock
from .timefmt import format_ts

DEFAULT_WRITE_DELAY = 0.2  # seconds between the 202 and the write's outcome
NOT_PROCESSED_HEADER = "X-Opsgenie-Errortype"
NOT_PROCESSED_TYPE = "RequestNotProcessed"
_KEPT_STATUSES = 20_000  # request outcomes kept (oldest forgotten first)


@dataclass(frozen=True)
class Outcome:
    """What a processed write did: ``ok`` (isSuccess), OpsGenie's ``status`` text, the alert's
    ``alert_id`` and ``alias`` ("" when there is none)."""

    ok: bool
    status: str
    alert_id: str = ""
    alias: str = ""


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    request_id: str
    action: str
    run: Callable[[], Outcome]


class WriteQueue:
    """Queued writes and the outcome of each processed one, by request id. Thread-safe."""

    def __init__(
        self, clock: SandboxClock, integration_id: str, delay: float = DEFAULT_WRITE_DELAY
    ):
        if delay < 0:
            raise ValueError("the write delay must not be negative")
        self.clock = clock
        self.integration_id = integration_id
        self.delay = float(delay)
        self._lock = threading.RLock()
        self._wake = threading.Condition(threading.Lock())
        self._heap: list[_Pending] = []
        self._pending_ids: set[str] = set()
        self._done: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.processed = 0

    # ------------------------------------------------------------------------------ queueing
    def submit(self, request_id: str, action: str, run: Callable[[], Outcome]) -> None:
        """Queue ``run`` (which changes the store and returns an Outcome) as write ``action``
        (``"Create"``, ``"Acknowledge"``, ...) of request ``request_id``."""
        item = _Pending(time.monotonic() + self.delay, next(self._seq), request_id, action, run)
        with self._lock:
            heapq.heappush(self._heap, item)
            self._pending_ids.add(request_id)
        if self.delay <= 0:
            self.process_due()
        with self._wake:
            self._wake.notify_all()

    def process_due(self) -> int:
        """Run every write whose delay has passed, in order. Returns how many ran."""
        ran = 0
        with self._lock:
            now = time.monotonic()
            while self._heap and self._heap[0].due <= now:
                item = heapq.heappop(self._heap)
                self._run(item)
                ran += 1
        return ran

    def drain(self) -> int:
        """Run every queued write now, whatever its delay (tests). Returns how many ran."""
        ran = 0
        with self._lock:
            while self._heap:
                self._run(heapq.heappop(self._heap))
                ran += 1
        return ran

    def _run(self, item: _Pending) -> None:
        try:
            outcome = item.run()
        except Exception as exc:  # noqa: BLE001 - a write that breaks is a failed request
            outcome = Outcome(False, f"Internal sandbox error: {type(exc).__name__}: {exc}")
        self._pending_ids.discard(item.request_id)
        self._done[item.request_id] = {
            "success": outcome.ok,
            "action": item.action,
            "processedAt": format_ts(self.clock.now_ms()),
            "integrationId": self.integration_id,
            "isSuccess": outcome.ok,
            "status": outcome.status,
            "alertId": outcome.alert_id,
            "alias": outcome.alias,
        }
        while len(self._done) > _KEPT_STATUSES:
            self._done.popitem(last=False)
        self.processed += 1

    @property
    def pending(self) -> int:
        """How many writes wait for their delay."""
        with self._lock:
            return len(self._heap)

    def status(self, request_id: str) -> dict[str, Any] | str | None:
        """The outcome of ``request_id``; ``"pending"`` while queued; None when unknown."""
        self.process_due()
        with self._lock:
            if request_id in self._pending_ids:
                return "pending"
            found = self._done.get(request_id)
            return dict(found) if found is not None else None

    # ------------------------------------------------------------------------------ the worker
    def start(self) -> None:
        """Run due writes in a daemon thread (idempotent)."""
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(
            target=self._work, name="opsgenie-sandbox-writes", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker thread (queued writes stay queued)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        thread.join(timeout=5)

    def _work(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                with self._lock:
                    wait = self._heap[0].due - time.monotonic() if self._heap else 1.0
                if wait > 0:
                    self._wake.wait(min(wait, 1.0))
                if self._stopping:
                    return
            self.process_due()
