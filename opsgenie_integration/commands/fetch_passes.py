"""Fetch Event's exact window where alerts cannot be sorted by ``updatedAt`` (JSM Operations).

OpsGenie mode moves one cursor along ``updatedAt`` (``sort=updatedAt``). JSM's ``GET /v1/alerts``
sorts only by createdAt, insertedAt, lastOccurredAt or priority, so this module reads the alerts
updated in a window in **passes**:

1. A pass fixes a window ``[lo, hi)`` of ``updatedAt`` when it begins, with
   ``hi = min(End Time, now - SETTLE_MS)``, and lists
   ``(<Search Condition>) AND updatedAt >= lo AND updatedAt < hi AND createdAt >= c``
   with ``sort=createdAt``, ``order=asc``, ``offset=0``: a keyset walk along ``createdAt`` (which
   never changes), ``c`` being the first createdAt millisecond not yet read. A full page's last
   millisecond is left to the next page (read from its start) unless it fills the page.
   Alerts created in one millisecond (a *group*; JSM documents no order among them) that cannot
   be read in one answer are read in windows of ``updatedAt`` narrow enough for one answer to
   hold all of the window (``... AND createdAt >= c AND createdAt < c + 1 AND updatedAt >= g AND
   updatedAt < g + w``): an answer shorter than asked is the whole window, whatever its order; a
   full one narrows ``w`` to below every alert it gave. Only 100 or more alerts sharing both the
   createdAt and the updatedAt millisecond (a *cell*) are paged by ``offset``.
2. While a pass runs, an alert of the window that is updated gets ``updatedAt >= now > hi``: it
   leaves the window (its earlier state is not returned) and is returned by a later pass, once, at
   its new ``updatedAt``. No alert can enter a window that is already ``SETTLE_MS`` in the past.
   So within a pass the set only shrinks, and the createdAt keyset neither skips nor repeats.
3. When a pass runs dry, the next one starts at ``lo = hi - REREAD_MS`` (a bounded re-read of the
   previous pass's last ``REREAD_MS``) and ends at the then ``now - SETTLE_MS``. Alerts of the re-read
   band already returned (same id and same ``updatedAt``, remembered in the checkpoint) are skipped;
   alerts that became searchable late are returned then.

Calling until ``has_more`` is false and no events come back returns every alert updated in the
window exactly once per ``(id, updatedAt)``, past the 20,000 offset cap (the offset is 0 except
inside a cell) and across ties in any order, updates during the fetch, and interruptions (the
checkpoint moves only when a call succeeds).

Where JSM makes exactness impossible, and what this module does:

- **Late indexing.** JSM documents no bound on how long an update takes to become searchable. An
  update that becomes searchable more than ``SETTLE_MS + REREAD_MS`` after its ``updatedAt`` lies
  in a window already read and is missed (unless the alert is updated again). The module waits
  ``SETTLE_MS`` before reading a millisecond and re-reads the previous pass's last ``REREAD_MS``,
  de-duplicated by ``(id, updatedAt)``; nothing short of a full scan can do better.
- **Bounded memory of the re-read band.** At most ``MAX_TAIL`` alerts of the band are remembered;
  when more were returned there, the band is shortened to the newest ``MAX_TAIL`` (the re-read
  starts after the newest millisecond that had to be forgotten), never to duplicates.
- **Order inside a cell.** 100 or more alerts sharing both the createdAt and the updatedAt
  millisecond cannot be told apart by any clause, so they are paged by ``offset``, which relies on
  JSM listing them in the same order on consecutive requests (as OpsGenie mode relies on it for
  one updatedAt millisecond). A cell that shifts because some of its alerts left the window is
  detected (a resumed page starts ``TIE_OVERLAP`` consumed alerts early and must start with one
  of them; each deeper page overlaps the previous by one alert) and read again from its start, at
  most ``MAX_RESCANS`` times, then ``FetchMovingError`` (retryable, checkpoint unchanged). A
  server that *reorders* a cell between requests is not always detected: alerts of that cell can
  then be missed (never repeated); tests/test_jsm_fetch_exactness.py pins both behaviours. More
  than ``20,000 - 100`` alerts in one cell cannot be paged (``FetchWindowError``).
- **The time clause itself.** JSM's ``from``/``to`` parameters are int32 and cannot carry epoch
  milliseconds, so the window rides in ``query``. Every alert returned is checked against the
  window: an alert older than ``lo`` means the clause was not applied (``BadResponseError``); an
  alert whose ``updatedAt`` reached ``hi`` meanwhile is skipped (a later pass returns it).
- **Event order.** Within a pass events come in createdAt order, not in updatedAt order.

The checkpoint (``checkpoint.PassCheckpoint``) belongs to the same family as OpsGenie mode's
(``<prefix><base64url of JSON>``, opaque, tied to the Search Condition's digest) with its own
prefix ``cj1.``, so a checkpoint of one platform given to the other is refused with a clear message.

Which algorithm reads a window is the backend's capability, not its name: the cursor along
``updatedAt`` (``fetch_window``) where ``list_alerts`` sorts by it, these passes otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .. import errors
from ..checkpoint import MAX_TAIL, PassCheckpoint
from ..times import from_epoch_ms, parse_server_timestamp

#: ms before "now" that a pass never reads (updates still being indexed).
SETTLE_MS = 5000
#: ms of the previous pass re-read at the start of the next one (late-indexed updates).
REREAD_MS = 60_000
#: the offset + size cap of GET /v1/alerts (it must stay below this).
OFFSET_CAP = 20_000
PAGE_SIZE_MAX = 100
#: ids consumed at the createdAt cursor that a checkpoint may hold.
MAX_SEEN_IDS = OFFSET_CAP - PAGE_SIZE_MAX - 1  # the checkpoint's cap is the same
#: consumed alerts re-read at the start of a page inside a cell (shift detection).
TIE_OVERLAP = 50
MAX_RESCANS = 3
#: pages read per call while nothing new turns up (the call then returns, has_more true).
MAX_PAGES_PER_CALL = 50


class FetchWindowError(errors.OpsGenieIntegrationError):
    """More alerts share one createdAt millisecond in the window than the offset cap can page."""

    error_type = "fetch_window"


class FetchMovingError(errors.OpsGenieIntegrationError):
    """A createdAt group kept shifting while it was paged; retrying later is safe."""

    error_type = "fetch_moving"
    retryable = True


@dataclass
class FetchOutcome:
    """One call's result: ``alerts`` (as JSM answered them, oldest createdAt first), the next
    ``checkpoint``, ``has_more`` (call again now), the ``window`` read (``(lo, hi)`` ms) and the
    ``pages`` answered, in order."""

    alerts: list[dict[str, Any]]
    checkpoint: PassCheckpoint
    has_more: bool
    window: tuple[int, int]
    pages: list[Any]


#: ``list_page(query, offset, size) -> answer``: the seam's ``list_alerts(query=, offset=,
#: limit=size, sort="createdAt", order="asc")``, ``answer["data"]`` the alerts sorted by createdAt
#: ascending and ``answer["count"]`` (when known) the number of matches.
ListPage = Callable[[str, int, int], Any]


def iso(ms: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return from_epoch_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _keyed(alert: Any, path: str) -> tuple[int, str, int]:
    if not isinstance(alert, dict) or not isinstance(alert.get("id"), str):
        raise errors.BadResponseError(
            f"Jira Service Management answered GET {path} with an alert that has no id.",
            status_code=200,
            path=path,
        )
    try:
        return (
            parse_server_timestamp(alert.get("createdAt")),
            alert["id"],
            parse_server_timestamp(alert.get("updatedAt")),
        )
    except (ValueError, TypeError, OverflowError):
        raise errors.BadResponseError(
            f"Jira Service Management answered GET {path} with an alert whose createdAt or updatedAt "
            "is not a timestamp.",
            status_code=200,
            path=path,
        ) from None


def _bounded_tail(tail: dict[str, int], floor: int) -> tuple[dict[str, int], int]:
    """At most MAX_TAIL entries, cut at a millisecond boundary; returns (tail, new floor)."""
    if len(tail) <= MAX_TAIL:
        return tail, floor
    ordered = sorted(tail.items(), key=lambda kv: kv[1], reverse=True)
    cut = ordered[MAX_TAIL][1]  # the newest millisecond that cannot be kept whole
    kept = {k: v for k, v in ordered if v > cut}
    return kept, max(floor, cut + 1)


def start_checkpoint(start_ms: int, end_ms: int | None, query_digest: str) -> PassCheckpoint:
    """The checkpoint of a fetch beginning at ``start_ms`` (no pass begun yet)."""
    return PassCheckpoint(start_ms, None, None, {}, end_ms, query_digest)


class _Pass:
    """The state of one call inside a pass (what the checkpoint holds, and what was read)."""

    def __init__(self, list_page: ListPage, cp: PassCheckpoint, condition: str, limit: int,
                 path: str, pages: list[Any]) -> None:  # fmt: skip
        assert cp.hi is not None
        self.list_page = list_page
        self.cp = cp
        self.condition = condition
        self.limit = limit
        self.path = path
        self.pages = pages
        self.lo, self.hi = cp.lo, cp.hi
        self.created = cp.created
        self.seen: dict[str, int] = dict(cp.ids)
        self.group = cp.group
        self.width = cp.width
        self.tail = dict(cp.tail)
        self.out: list[dict[str, Any]] = []

    # -- reading ------------------------------------------------------------------------------

    def query(self, clauses: list[str]) -> str:
        clause = " AND ".join(clauses)
        return f"({self.condition}) AND {clause}" if self.condition else clause

    def read(self, clauses: list[str], offset: int, size: int) -> tuple[list, Any]:
        if offset + size >= OFFSET_CAP:
            raise FetchWindowError(
                f"More than {MAX_SEEN_IDS} alerts updated in the window share createdAt "
                f"{iso(self.created or 0)}; Jira Service Management cannot page through them "
                f"(offset + size must stay below {OFFSET_CAP})."
            )
        body = self.list_page(self.query(clauses), offset, size)
        self.pages.append(body)
        values = body.get("data") if isinstance(body, dict) else None
        if not isinstance(values, list):
            raise errors.BadResponseError(
                f"Jira Service Management answered GET {self.path} without a list of alerts.",
                status_code=200,
                path=self.path,
            )
        keyed = [(*_keyed(alert, self.path), alert) for alert in values]
        if any(keyed[i][0] > keyed[i + 1][0] for i in range(len(keyed) - 1)):
            raise errors.BadResponseError(
                f"Jira Service Management answered GET {self.path} with alerts not sorted by "
                "createdAt ascending (sort=createdAt, order=asc were asked); the fetch cannot move "
                "forward safely.",
                status_code=200,
                path=self.path,
            )
        for c_ms, _, u_ms, _ in keyed:
            if u_ms < self.lo or (self.created is not None and c_ms < self.created):
                raise errors.BadResponseError(
                    f"Jira Service Management answered GET {self.path} with an alert outside the "
                    "updatedAt or createdAt clause of the query: the clauses were not applied, so "
                    "the fetch cannot move forward safely.",
                    status_code=200,
                    path=self.path,
                    hint="Check that the site's alert search supports updatedAt and createdAt in "
                    "queries.",
                )
        return keyed, body

    def take(self, c_ms: int, alert_id: str, u_ms: int, alert: dict) -> None:
        """Consume one alert (at the createdAt cursor) and return it unless it must be skipped."""
        if c_ms != self.created:
            self.created, self.seen = c_ms, {}
        self.seen[alert_id] = u_ms
        if u_ms >= self.hi:
            return  # updated since the search saw it: a later pass returns it
        if self.cp.prev.get(alert_id) == u_ms:
            return  # returned by the previous pass (the re-read band)
        self.out.append(alert)
        if u_ms >= self.hi - REREAD_MS:
            self.tail[alert_id] = u_ms

    def full(self) -> bool:
        return len(self.out) >= self.limit

    # -- the modes -------------------------------------------------------------------------------

    def along_created(self) -> bool:
        """One page along createdAt (offset 0, one alert of look-ahead). Returns True when the
        pass ran dry. A full page's last millisecond may go on past it: unless it fills the page
        it is left to the next page, read from its start (so no offset is needed)."""
        clauses = [f"updatedAt >= {self.lo}", f"updatedAt < {self.hi}"]
        if self.created is not None:
            clauses.append(f"createdAt >= {self.created}")
        size = min(PAGE_SIZE_MAX, self.limit - len(self.out) + 1)
        keyed, body = self.read(clauses, 0, size)
        short = _short(keyed, size, body)
        usable = keyed
        if not short:
            last = keyed[-1][0]
            cut = next(i for i, k in enumerate(keyed) if k[0] == last)
            if cut > 0:
                usable = keyed[:cut]  # whole milliseconds only
        for index, (c_ms, alert_id, u_ms, alert) in enumerate(usable):
            self.take(c_ms, alert_id, u_ms, alert)
            if self.full():
                following = keyed[index + 1] if index + 1 < len(keyed) else None
                if following is not None and following[0] > c_ms or following is None and short:
                    self.created, self.seen = c_ms + 1, {}  # its millisecond is complete
                else:
                    self.group, self.width = self.lo, None  # more may share c_ms: a group
                return False
        if short:
            return True
        if usable is not keyed:  # the next page starts with the millisecond left out
            self.created, self.seen = keyed[len(usable)][0], {}
        else:  # the whole page shares one millisecond: read the rest of it as a group
            self.group, self.width = self.lo, None
        return False

    def in_group(self) -> bool:
        """One window of the alerts created in the cursor's millisecond, narrow enough that one
        answer holds all of it (then JSM's order among them does not matter). Returns True when
        the group is done (the cursor moves to the next millisecond)."""
        c, start = self.created, self.group
        assert c is not None and start is not None
        if start >= self.hi:
            self.created, self.seen, self.group, self.width = c + 1, {}, None, None
            return True
        width = self.width or (self.hi - start)
        top = min(self.hi, start + width)
        clauses = [f"updatedAt >= {start}", f"updatedAt < {top}", f"createdAt >= {c}",
                   f"createdAt < {c + 1}"]  # fmt: skip
        keyed, body = self.read(clauses, 0, PAGE_SIZE_MAX)
        if not _short(keyed, PAGE_SIZE_MAX, body):
            if width > 1:
                # more than one answer holds: end the window below every alert this answer gave
                # (at least 100 fewer in it), or, when one of them is at its start, at start + 1
                lowest = min(k[2] for k in keyed)
                self.width = max(1, min(width - 1, lowest - start))
                return False
            return self.in_cell(start)  # 100 or more share both milliseconds
        for c_ms, alert_id, u_ms, alert in sorted(keyed, key=lambda k: (k[2], k[1])):
            if alert_id in self.seen:
                continue
            self.take(c_ms, alert_id, u_ms, alert)
            if self.full():
                break
        if self.full() and any(k[1] not in self.seen for k in keyed):
            self.width = width  # this window again next time, its consumed alerts skipped
            return False
        # the window is consumed: forget the alerts before it; the next window is all the rest
        # (one answer ends the group when it holds all of it; else it narrows as above)
        self.seen = {k: v for k, v in self.seen.items() if v >= top}
        self.group, self.width = top, None
        return False

    def in_cell(self, at: int) -> bool:
        """100 or more alerts share createdAt and updatedAt milliseconds: paged by offset, which
        needs JSM to list them in the same order on consecutive requests (the documented limit;
        a shift is detected by an overlap and read again). Returns False (the group goes on)."""
        c = self.created
        assert c is not None
        clauses = [f"updatedAt >= {at}", f"updatedAt < {at + 1}", f"createdAt >= {c}",
                   f"createdAt < {c + 1}"]  # fmt: skip
        consumed = {k for k, v in self.seen.items() if v == at}
        offset = max(0, len(consumed) - TIE_OVERLAP)
        previous_last: str | None = None
        rescans = 0
        for _ in range(MAX_PAGES_PER_CALL):
            want = self.limit - len(self.out)
            size = min(PAGE_SIZE_MAX, want + max(0, len(consumed) - offset))
            keyed, body = self.read(clauses, offset, max(1, size))
            if offset > 0 and keyed:
                first = keyed[0][1]
                in_place = first == previous_last if previous_last else first in consumed
                if not in_place:
                    rescans += 1
                    if rescans > MAX_RESCANS:
                        raise FetchMovingError(
                            f"The alerts sharing createdAt {iso(c)} and updatedAt {iso(at)} kept "
                            f"moving while they were read ({MAX_RESCANS} attempts); the checkpoint "
                            "did not move.",
                            hint="Call Fetch Event again with the same Checkpoint.",
                        )
                    offset, previous_last = 0, None
                    continue
            fresh = False
            for c_ms, alert_id, u_ms, alert in keyed:
                if alert_id in consumed:
                    continue
                fresh = True
                consumed.add(alert_id)
                self.take(c_ms, alert_id, u_ms, alert)
                if self.full():
                    break
            if len(self.seen) > MAX_SEEN_IDS:
                raise FetchWindowError(
                    f"More than {MAX_SEEN_IDS} alerts share createdAt {iso(c)} and updatedAt "
                    f"{iso(at)}; Jira Service Management cannot page through them."
                )
            if self.full():
                self.width = 1
                return False
            if _short(keyed, max(1, size), body, offset):  # the cell is consumed
                self.seen = {k: v for k, v in self.seen.items() if v > at}
                self.group, self.width = at + 1, None
                return False
            if fresh:
                offset = max(0, len(consumed) - TIE_OVERLAP)
                previous_last = None
            else:
                previous_last = keyed[-1][1]
                offset += len(keyed) - 1
        self.width = 1
        return False

    def checkpoint(self, lo: int | None = None) -> PassCheckpoint:
        tail, floor = _bounded_tail(self.tail, self.cp.floor)
        return PassCheckpoint(self.lo, self.hi, self.created, dict(self.seen), self.cp.end,
                              self.cp.query, tail, self.cp.prev, floor, self.group, self.width)  # fmt: skip

    def next_pass(self) -> PassCheckpoint:
        """The checkpoint of the next pass: it re-reads this one's last ``REREAD_MS``."""
        floor = self.cp.floor
        next_lo = max(self.lo, self.hi - REREAD_MS, floor)
        carried = {k: v for k, v in {**self.cp.prev, **self.tail}.items() if v >= next_lo}
        carried, floor = _bounded_tail(carried, floor)
        next_lo = max(next_lo, floor)
        return PassCheckpoint(
            next_lo, None, None, {}, self.cp.end, self.cp.query, {}, carried, floor
        )


def _short(keyed: list, size: int, body: Any, offset: int = 0) -> bool:
    """Whether an answer holds everything its query matched from ``offset`` on: it is empty, or
    shorter than asked while the count, when sent, does not say that more matched."""
    if not keyed:
        return True
    count = body.get("count") if isinstance(body, dict) else None
    return len(keyed) < size and not (isinstance(count, int) and offset + len(keyed) < count)


def fetch(
    list_page: ListPage,
    checkpoint: PassCheckpoint,
    condition: str,
    limit: int,
    now_ms: int,
    path: str = "/v1/alerts",
    _pages: list[Any] | None = None,
) -> FetchOutcome:
    """Read the next at most ``limit`` alerts after ``checkpoint`` (see the module text).

    Raises:
        errors.APIError / errors.TransportError: from ``list_page``; nothing moves.
        errors.BadResponseError: unsorted answers, or alerts outside the query's time clauses.
        FetchWindowError / FetchMovingError: see the module text.
    """
    cp = checkpoint
    pages: list[Any] = _pages if _pages is not None else []
    settled = now_ms - SETTLE_MS
    if cp.hi is None:  # begin a pass
        hi = min(cp.end, settled) if cp.end is not None else settled
        if cp.lo >= hi:
            return FetchOutcome([], cp, False, (cp.lo, max(cp.lo, hi)), pages)
        cp = replace(cp, hi=hi, created=None, ids={}, tail={}, group=None, width=None)
    state = _Pass(list_page, cp, condition, limit, path, pages)
    window = (state.lo, state.hi)
    for _ in range(MAX_PAGES_PER_CALL):
        if state.group is not None:
            state.in_group()
            if state.out:  # something new: return it (about one request per call)
                return FetchOutcome(state.out, state.checkpoint(), True, window, pages)
            continue
        dry = state.along_created()
        if dry:
            nxt = state.next_pass()
            ended = cp.end is not None and state.hi >= cp.end
            if not ended and state.hi < settled and not state.out and _pages is None:
                # time passed since this pass began: go on at once with the next one
                return fetch(list_page, nxt, condition, limit, now_ms, path, pages)
            return FetchOutcome(state.out, nxt, False, window, pages)
        if state.out:
            return FetchOutcome(state.out, state.checkpoint(), True, window, pages)
    return FetchOutcome(state.out, state.checkpoint(), True, window, pages)
