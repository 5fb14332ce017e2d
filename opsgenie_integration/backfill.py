"""A concurrent backfill: worker threads reading the slices of a ``SliceBoard`` page by page.

``run_backfill`` starts ``workers`` threads. Each takes a slice, asks ``fetch_page`` for the
slice's next Fetch Event page (an envelope: ``events``, ``checkpoint``, ``has_more``), and hands
the events and the new state to ``emit`` under one lock, events first: the state saved never
claims a page whose events were not written. A retryable failure (429 after the client's own
retries, 5xx, a dropped connection, moving alerts) waits and asks for the same page again (the
slice's checkpoint does not move); ``MAX_FAILURES_IN_A_ROW`` failures of one slice, or one that
is not retryable, stop every worker and are returned. ``stop()`` true makes every worker finish
its current page and return (its slice stays in the state, to be resumed).

This module knows neither the CLI nor HTTP: pages come from ``fetch_page`` (the CLI passes a call
of ``Integration.run("Fetch Event", ...)``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .slices import Slice, SliceBoard

MAX_FAILURES_IN_A_ROW = 5
#: Longest wait between two attempts at one page, seconds.
MAX_WAIT_S = 60.0


@dataclass
class BackfillResult:
    """How a backfill ended: ``status`` ``done`` (every slice read), ``stopped`` (``stop()`` or
    ``max_events``) or ``failed`` (``error``: the failed envelope's error tab); counts."""

    status: str = "done"
    error: dict[str, Any] | None = None
    events: int = 0
    pages: int = 0
    failures: int = 0
    final_state: str | None = None
    notes: list[str] = field(default_factory=list)


def run_backfill(
    board: SliceBoard,
    workers: int,
    fetch_page: Callable[[dict[str, str]], dict[str, Any]],
    emit: Callable[[list, str], None],
    *,
    stop: Callable[[], bool] = lambda: False,
    max_events: int | None = None,
    on_page: Callable[[int], None] | None = None,
    on_retry: Callable[[dict[str, Any], float, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BackfillResult:
    """Read every slice of ``board`` with ``workers`` threads.

    Args:
        fetch_page: Fetch Event inputs of one page (``Slice.inputs()``) -> its envelope.
        emit: ``(events, state)``: write the events, then save ``state`` (the slice state, or
            the single-cursor checkpoint once every slice is read); called under one lock. An
            exception raised here stops the backfill and is raised again by ``run_backfill``.
        stop: polled between pages and during waits.
        max_events: stop once about this many events were emitted (whole pages).
        on_page: called with the number of events of each page emitted (under the lock).
        on_retry: called with ``(error tab, wait s, attempt)`` before waiting after a failure.

    Returns:
        BackfillResult (``events``/``pages`` emitted, ``final_state`` the last state saved).
    """
    result = BackfillResult()
    out_lock = threading.Lock()
    halt = threading.Event()
    raised: list[BaseException] = []

    def stopping() -> bool:
        return halt.is_set() or stop()

    def wait(seconds: float) -> None:
        left = seconds
        while left > 0 and not stopping():
            step = min(0.2, left)
            sleep(step)
            left -= step

    def read(piece: Slice) -> bool:
        """Read ``piece`` to its end; False when the worker must stop."""
        failures = 0
        while not stopping():
            envelope = fetch_page(piece.inputs())
            if envelope.get("return_data") != "Successful":
                error = envelope.get("error") or {}
                failures += 1
                with out_lock:
                    result.failures += 1
                if not error.get("retryable") or failures >= MAX_FAILURES_IN_A_ROW:
                    with out_lock:
                        if result.error is None:
                            result.status, result.error = "failed", error
                    halt.set()
                    return False
                seconds = _retry_wait(error, failures)
                if on_retry is not None:
                    on_retry(error, seconds, failures + 1)
                wait(seconds)
                continue
            failures = 0
            events = envelope.get("events") or []
            more = bool(envelope.get("has_more"))
            with out_lock:
                if halt.is_set():
                    return False
                state = board.record(piece, envelope["checkpoint"], more, len(events))
                try:
                    emit(events, state)
                except BaseException as exc:
                    raised.append(exc)
                    halt.set()
                    return False
                result.final_state = state
                result.events += len(events)
                result.pages += 1
                if on_page is not None:
                    on_page(len(events))
                if max_events is not None and result.events >= max_events:
                    if result.status == "done":
                        result.status = "stopped"
                    halt.set()
            if not more:
                return True
        return False

    def worker(index: int) -> None:
        try:
            while not stopping():
                piece = board.take(index, stopping)
                if piece is None:
                    return
                if not read(piece):
                    board.release(piece)
                    return
        except BaseException as exc:  # a bug must not leave the other threads waiting forever
            raised.append(exc)
            halt.set()
        finally:
            if halt.is_set():
                board.stop()  # wake the workers waiting for a slice

    threads = [
        threading.Thread(target=worker, args=(i,), name=f"fetch-worker-{i}", daemon=True)
        for i in range(max(1, workers))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    if raised:
        raise raised[0]
    if result.status == "done" and not board.finished:
        result.status = "stopped"
    return result


def _retry_wait(error: dict[str, Any], failures: int) -> float:
    """Seconds before the next attempt: what OpsGenie asked (``retry_after``), else 2, 4, 8 s."""
    asked = error.get("retry_after")
    if isinstance(asked, (int, float)) and not isinstance(asked, bool) and asked >= 0:
        return min(MAX_WAIT_S, max(float(asked), 0.5))
    return min(MAX_WAIT_S, 2.0**failures)
