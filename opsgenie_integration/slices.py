"""Concurrent backfill: a window cut into time slices, each read with its own Fetch Event cursor.

A backfill of ``[start, end)`` (epoch ms, UTC, ``end`` at most "now - 5 s" when it is planned) is
cut into slices ``[s_i, s_i+1)`` of updatedAt. Each slice is read by one worker at a time with
the ordinary Fetch Event algorithm and its own checkpoint (a ``ck1.`` string made for exactly that
slice), so everything Fetch Event guarantees holds inside each slice: no offset beyond a few
hundred (the window moves by updatedAt, never past OpsGenie's 20,000 offset + limit cap), alerts
sharing one millisecond neither lost nor repeated across pages. Slices are half-open and never
overlap: an alert updated exactly at ``s_i+1`` belongs to the next slice only. A slice is finished
when a page comes back short (``has_more`` false): its window lies in the past, so nothing can
join it later (an alert updated meanwhile moves to "now", beyond every slice, and is read by the
tail).

Balance: the window starts as ``workers * SLICES_PER_WORKER`` slices of equal duration (one each); when a
worker has nothing left to take, the next worker to finish a page of a slice with enough time
left splits it at the middle of what it has not read (strictly after its cursor, so the alerts
already returned at the cursor's millisecond stay with the slice that remembers them), and the
idle worker takes the second half. Splits stop after a few "barren" ones (a second half read in
one page): updates clustered in time would otherwise cost a request per empty half.

Order: inside a slice, oldest update first; across slices, pages are written as they arrive
(interleaved). Sort on ``updatedAt`` when order matters.

The state file (written atomically after every page, by the caller) is one line of JSON::

    {"format": "opsgenie-integration/fetch-slices/1", "q": "<query digest>",
     "window": [start_ms, end_ms], "tail_end": end_ms | null,
     "slices": [[start_ms, end_ms, "ck1..." | null], ...]}

holding the slices not finished yet (finished ones are dropped). When none is left the backfill
is complete, and the caller goes on with one cursor from ``end``: ``tail_checkpoint()`` (a plain
``ck1.`` checkpoint with ``tail_end``: the user's End Time, or None for "now - 5 s at each call").
A single-cursor checkpoint file starts with ``ck1.``; a slice state starts with ``{``.

This module is a leaf: it imports only ``checkpoint``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .checkpoint import MAX_MS, Checkpoint, CheckpointError

FORMAT = "opsgenie-integration/fetch-slices/1"
#: Initial slices per worker (each slice costs one short last page; idle workers split busy ones).
SLICES_PER_WORKER = 1
#: A slice is not split when less than twice this much of it is left unread, ms.
MIN_SLICE_MS = 2_000
#: Most slices a state may hold (a file beyond it is refused as damaged).
MAX_SLICES = 4096


class SliceStateError(ValueError):
    """The text is not a slice state written by ``fetch`` (or was written for another query)."""


@dataclass
class Slice:
    """One slice: ``[start, end)`` epoch ms and its Fetch Event ``checkpoint`` (None before its
    first page). ``owner``: the worker reading it (not saved)."""

    start: int
    end: int
    checkpoint: str | None = None
    owner: int | None = None
    split_off: bool = False
    pages: int = 0
    events: int = 0
    cursor_ms: int | None = None  # cache of cursor(), kept by SliceBoard.record

    def cursor(self) -> int:
        """updatedAt (epoch ms) the next page of this slice starts at."""
        if self.checkpoint is None:
            return self.start
        return Checkpoint.decode(self.checkpoint).updated_at

    def inputs(self) -> dict[str, str]:
        """Fetch Event inputs of the next page: ``end_time`` always (it wins over the end inside the
        checkpoint, which a split may have moved), ``start_time`` or ``checkpoint``."""
        if self.checkpoint is None:
            return {"start_time": str(self.start), "end_time": str(self.end)}
        return {"checkpoint": self.checkpoint, "end_time": str(self.end)}


def plan(start: int, end: int, count: int, min_ms: int = MIN_SLICE_MS) -> list[Slice]:
    """``count`` slices of equal duration over ``[start, end)`` (fewer when a slice would be
    shorter than ``min_ms``; at least one when ``start < end``, none otherwise)."""
    if start >= end:
        return []
    span = end - start
    count = max(1, min(count, span // max(1, min_ms), MAX_SLICES))
    edges = [start + span * i // count for i in range(count)] + [end]
    return [Slice(edges[i], edges[i + 1]) for i in range(count)]


class SliceBoard:
    """The slices of one backfill, shared by the workers (thread-safe).

    ``start``/``end``: the backfill window (epoch ms); ``query``: the Search Condition digest
    (``checkpoint.query_digest``); ``tail_end``: the user's End Time (ms) or None; ``slices``: the
    slices not finished yet.
    """

    def __init__(
        self,
        start: int,
        end: int,
        query: str,
        tail_end: int | None,
        slices: list[Slice],
        *,
        min_ms: int = MIN_SLICE_MS,
    ) -> None:
        self.start, self.end, self.query, self.tail_end = start, end, query, tail_end
        self.slices = list(slices)
        self.min_ms = min_ms
        self.idle = 0
        self.splits = 0
        #: splits whose second half held at most one page (its time was mostly empty)
        self.barren_splits = 0
        #: no more splits after this many barren ones (clustered updates: each would cost a
        #: request for an empty half)
        self.barren_budget = max(4, 2 * len(self.slices))
        self._stopped = False
        self._cond = threading.Condition()

    @classmethod
    def new(
        cls,
        start: int,
        end: int,
        query: str,
        tail_end: int | None,
        workers: int,
        *,
        min_ms: int = MIN_SLICE_MS,
    ) -> SliceBoard:
        """A fresh backfill of ``[start, end)`` planned for ``workers`` workers."""
        slices = plan(start, end, max(1, workers) * SLICES_PER_WORKER, min_ms)
        return cls(start, end, query, tail_end, slices, min_ms=min_ms)

    # -- the state file ----------------------------------------------------------------------

    def encode(self) -> str:
        """The state as one line of JSON (see the module docstring)."""
        with self._cond:
            return self._encode()

    def _encode(self) -> str:
        rows = [[s.start, s.end, s.checkpoint] for s in sorted(self.slices, key=lambda s: s.start)]
        return json.dumps(
            {
                "format": FORMAT,
                "q": self.query,
                "window": [self.start, self.end],
                "tail_end": self.tail_end,
                "slices": rows,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str, query: str | None = None) -> SliceBoard:
        """Read a state written by ``encode``; ``query``: the digest it must have been made for.

        Raises:
            SliceStateError: not a slice state, damaged, or made for another Search Condition.
        """
        try:
            payload = json.loads(text)
        except (ValueError, RecursionError):
            raise SliceStateError("is not a fetch state (it is not JSON)") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise SliceStateError(f"is not a fetch state (format {FORMAT} expected)")
        q, window, tail_end, rows = (
            payload.get("q"),
            payload.get("window"),
            payload.get("tail_end"),
            payload.get("slices"),
        )
        damaged = SliceStateError("is not a usable fetch state (it is damaged)")
        if (
            not isinstance(q, str)
            or not (isinstance(window, list) and len(window) == 2 and all(map(_is_ms, window)))
            or window[0] > window[1]
            or not (tail_end is None or _is_ms(tail_end))
            or not isinstance(rows, list)
            or len(rows) > MAX_SLICES
        ):
            raise damaged
        if query is not None and q != query:
            raise SliceStateError(
                "was made for another Search Condition; give the same Search Condition, or start "
                "again with another checkpoint file"
            )
        slices: list[Slice] = []
        previous_end = window[0]
        for row in rows:
            if not (isinstance(row, list) and len(row) == 3 and _is_ms(row[0]) and _is_ms(row[1])):
                raise damaged
            start, end, checkpoint = row
            if not (previous_end <= start < end <= window[1]):
                raise damaged
            if checkpoint is not None:
                try:
                    decoded = Checkpoint.decode(checkpoint)
                except CheckpointError:
                    raise damaged from None
                if decoded.query != q or not start <= decoded.updated_at < end:
                    raise damaged
            slices.append(Slice(start, end, checkpoint))
            previous_end = end
        return cls(window[0], window[1], q, tail_end, slices)

    # -- the workers -------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True when every slice has been read."""
        with self._cond:
            return not self.slices

    def stop(self) -> None:
        """Wake every waiting worker; ``take`` returns None from now on."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def take(self, worker: int, stop: Callable[[], bool] | None = None) -> Slice | None:
        """The next slice for ``worker`` (the earliest nobody reads), waiting while every slice
        left is being read (one of them may be split for it). None when all are finished or when
        ``stop()`` / ``stop`` was called."""
        with self._cond:
            self.idle += 1
            try:
                while True:
                    if self._stopped or (stop is not None and stop()):
                        return None
                    free = [s for s in self.slices if s.owner is None]
                    if free:
                        chosen = min(free, key=lambda s: s.start)
                        chosen.owner = worker
                        return chosen
                    if not self.slices:
                        return None
                    self._cond.wait(0.2)
            finally:
                self.idle -= 1

    def record(self, piece: Slice, checkpoint: str, has_more: bool, events: int = 0) -> str:
        """A page of ``piece`` (``events`` alerts) was written out: keep its new ``checkpoint``;
        drop the slice when the page was its last (``has_more`` false); when a worker is idle,
        split it if it is the slice with the most work left (estimated from the alerts per ms it
        has shown so far; each owner splits its own slice, between two of its pages). Returns the
        state to save (``encode``), or the tail checkpoint once every slice is finished."""
        with self._cond:
            piece.pages += 1
            piece.events += events
            if has_more:
                piece.checkpoint = checkpoint
                piece.cursor_ms = Checkpoint.decode(checkpoint).updated_at
                if (
                    self.idle
                    and self.barren_splits < self.barren_budget
                    and not any(s.owner is None for s in self.slices)
                    and self._most_work() is piece
                ):
                    self._split(piece)
            else:
                self.slices = [s for s in self.slices if s is not piece]
                piece.owner = None
                if piece.split_off and piece.pages <= 1:
                    self.barren_splits += 1
            self._cond.notify_all()
            return self._encode() if self.slices else self.tail_checkpoint()

    def release(self, piece: Slice) -> None:
        """``piece``'s worker stops reading it (it stays to be read, from its checkpoint)."""
        with self._cond:
            piece.owner = None
            self._cond.notify_all()

    def _work_left(self, piece: Slice, density: float) -> float:
        cursor = piece.cursor_ms if piece.cursor_ms is not None else piece.start
        if piece.end - (cursor + 1) < 2 * self.min_ms:
            return 0.0
        if piece.events:
            density = piece.events / max(1, cursor - piece.start + 1)
        return (piece.end - cursor) * density

    def _most_work(self) -> Slice | None:
        read = sum(s.events for s in self.slices)
        covered = sum(
            (s.cursor_ms if s.cursor_ms is not None else s.start) - s.start + 1 for s in self.slices
        )
        density = read / covered if read else 1.0
        best = max(self.slices, key=lambda s: self._work_left(s, density), default=None)
        return best if best is not None and self._work_left(best, density) > 0 else None

    def _split(self, piece: Slice) -> None:
        """Cut what ``piece`` has not read into ``idle + 1`` parts of equal duration (each at
        least ``min_ms``), strictly after its cursor; ``piece`` keeps the first."""
        cursor = piece.cursor_ms if piece.cursor_ms is not None else piece.cursor()
        left = piece.end - (cursor + 1)
        parts = min(self.idle + 1, left // self.min_ms, MAX_SLICES - len(self.slices) + 1)
        if parts < 2:
            return
        edges = [cursor + 1 + left * i // parts for i in range(1, parts)] + [piece.end]
        if piece.checkpoint is not None:
            old = Checkpoint.decode(piece.checkpoint)
            piece.checkpoint = Checkpoint(
                old.updated_at, old.seen_ids, edges[0], old.query
            ).encode()
        for low, high in zip(edges, edges[1:]):
            self.slices.append(Slice(low, high, split_off=True))
        piece.end = edges[0]
        self.splits += 1

    def tail_checkpoint(self) -> str:
        """A single-cursor checkpoint from the end of the backfill: continue with it once every
        slice is finished (``--follow``, or the updates that landed during the backfill)."""
        return Checkpoint(self.end, frozenset(), self.tail_end, self.query).encode()

    def remaining_ms(self) -> int:
        """updatedAt time still to read, summed over the slices (ms)."""
        with self._cond:
            return sum(max(0, s.end - s.cursor()) for s in self.slices)


def is_slice_state(text: str) -> bool:
    """True when a checkpoint file's text is a slice state (it starts with ``{``)."""
    return text.lstrip().startswith("{")


def _is_ms(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MS
