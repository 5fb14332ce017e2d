"""Fetch Event's exact window where alerts cannot be sorted by ``updatedAt`` (JSM Operations).

OpsGenie mode moves one cursor along ``updatedAt`` (``sort=updatedAt``). JSM's ``GET /v1/alerts``
sorts only by createdAt, insertedAt, lastOccurredAt or priority, so this module reads the alerts
updated in a window in **passes**:

1. A pass fixes a window ``[lo, hi)`` of ``updatedAt`` when it begins, with
   ``hi = min(End Time, now - SETTLE_MS)``, and lists
   ``(<Search Condition>) AND updatedAt >= lo AND updatedAt < hi AND createdAt >= c``
   with ``sort=createdAt``, ``order=asc``: a keyset walk along ``createdAt`` (which never changes),
   where ``c`` is the createdAt of the last alert consumed and ``ids`` the alerts already consumed
   at ``c``. ``offset`` is used only inside a group of alerts sharing ``c``'s millisecond.
2. While a pass runs, an alert of the window that is updated gets ``updatedAt >= now > hi``: it
   leaves the window (its earlier state is not returned) and is returned by a later pass, once, at
   its new ``updatedAt``. No alert can enter a window that is already ``SETTLE_MS`` in the past.
   So within a pass the set only shrinks, and the createdAt keyset neither skips nor repeats.
3. When a pass runs dry, the next one starts at ``lo = hi - REREAD_MS`` (a bounded re-read of the
   previous pass's last ``REREAD_MS``) and ends at the then ``now - SETTLE_MS``. Alerts of the re-read
   band already returned (same id and same ``updatedAt``, remembered in the checkpoint) are skipped;
   alerts that became searchable late are returned then.

Calling until ``has_more`` is false and no events come back returns every alert updated in the
window exactly once per ``(id, updatedAt)``, past the 20,000 offset cap (the offset only grows
inside one createdAt millisecond) and across ties, updates during the fetch, and interruptions
(the checkpoint moves only when a call succeeds).

Where JSM makes exactness impossible, and what this module does:

- **Late indexing.** JSM documents no bound on how long an update takes to become searchable. An
  update that becomes searchable more than ``SETTLE_MS + REREAD_MS`` after its ``updatedAt`` lies
  in a window already read and is missed (unless the alert is updated again). The module waits
  ``SETTLE_MS`` before reading a millisecond and re-reads the previous pass's last ``REREAD_MS``,
  de-duplicated by ``(id, updatedAt)``; nothing short of a full scan can do better.
- **Bounded memory of the re-read band.** At most ``MAX_TAIL`` alerts of the band are remembered;
  when more were returned there, the band is shortened to the newest ``MAX_TAIL`` (the re-read
  starts after the newest millisecond that had to be forgotten), never to duplicates.
- **Order of alerts sharing one createdAt millisecond.** JSM documents no order among them, and
  paging inside such a group (the only place ``offset`` is used) relies on JSM listing it in the
  same order on consecutive requests, as OpsGenie mode relies on it for one updatedAt millisecond.
  A group that shifts because some of its alerts left the window is detected (each resumed page
  starts ``TIE_OVERLAP`` consumed alerts early and must start with one of them; each deeper page
  overlaps the previous by one alert) and read again from its start, at most ``MAX_RESCANS``
  times, then ``FetchMovingError`` (retryable, checkpoint unchanged). A server that *reorders* a
  group between requests is not always detected: alerts of that group can then be missed (never
  repeated); tests/test_jsm_fetch_exactness.py pins both behaviours. Alerts created in distinct
  milliseconds are never affected. More than ``20,000 - 100`` alerts in one createdAt
  millisecond inside one window cannot be paged (``FetchWindowError``).
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
from dataclasses import dataclass
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
#: consumed alerts re-read at the start of a page inside a createdAt group (shift detection).
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
    return PassCheckpoint(start_ms, None, None, frozenset(), end_ms, query_digest)


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
        cp = PassCheckpoint(cp.lo, hi, None, frozenset(), cp.end, cp.query, {}, cp.prev, cp.floor)
    lo, hi = cp.lo, cp.hi
    assert hi is not None
    created, seen = cp.created, set(cp.ids)
    tail = dict(cp.tail)
    out: list[dict[str, Any]] = []
    rescans = 0
    offset = max(0, len(seen) - TIE_OVERLAP) if created is not None else 0
    previous_last: str | None = None
    for _ in range(MAX_PAGES_PER_CALL):
        clause = f"updatedAt >= {lo} AND updatedAt < {hi}"
        if created is not None:
            clause += f" AND createdAt >= {created}"
        query = f"({condition}) AND {clause}" if condition else clause
        behind = max(0, len(seen) - offset) if created is not None else 0
        size = min(PAGE_SIZE_MAX, limit - len(out) + behind)
        if offset + size >= OFFSET_CAP:
            raise FetchWindowError(
                f"More than {MAX_SEEN_IDS} alerts updated in the window share createdAt "
                f"{iso(created or 0)}; Jira Service Management cannot page through them (offset + "
                f"size must stay below {OFFSET_CAP})."
            )
        body = list_page(query, offset, size)
        pages.append(body)
        values = body.get("data") if isinstance(body, dict) else None
        if not isinstance(values, list):
            raise errors.BadResponseError(
                f"Jira Service Management answered GET {path} without a list of alerts.",
                status_code=200,
                path=path,
            )
        keyed = [(*_keyed(alert, path), alert) for alert in values]
        if any(keyed[i][0] > keyed[i + 1][0] for i in range(len(keyed) - 1)):
            raise errors.BadResponseError(
                f"Jira Service Management answered GET {path} with alerts not sorted by createdAt "
                "ascending (sort=createdAt, order=asc were asked); the fetch cannot move forward "
                "safely.",
                status_code=200,
                path=path,
            )
        if created is not None and keyed and keyed[0][0] < created:
            raise errors.BadResponseError(
                f"Jira Service Management answered GET {path} with alerts created before the "
                "createdAt clause of the query; the fetch cannot move forward safely.",
                status_code=200,
                path=path,
            )
        if offset > 0 and keyed:
            first_created, first_id = keyed[0][0], keyed[0][1]
            if previous_last is not None:
                in_place = first_id == previous_last
            else:
                in_place = first_created == created and first_id in seen
            if not in_place:  # the group shifted: read it again from its start
                rescans += 1
                if rescans > MAX_RESCANS:
                    raise FetchMovingError(
                        f"The alerts sharing createdAt {iso(created or 0)} kept moving while they "
                        f"were read ({MAX_RESCANS} attempts); the checkpoint did not move.",
                        hint="Call Fetch Event again with the same Checkpoint.",
                    )
                offset, previous_last = 0, None
                continue
        consumed = 0
        for c_ms, alert_id, u_ms, alert in keyed:
            if c_ms == created and alert_id in seen:
                continue  # consumed already (the overlap)
            if u_ms < lo:
                raise errors.BadResponseError(
                    f"Jira Service Management answered GET {path} with an alert updated before the "
                    "window asked for: the time clause of the query was not applied, so the fetch "
                    "cannot move forward safely.",
                    status_code=200,
                    path=path,
                    hint="Check that the site's alert search supports updatedAt in queries.",
                )
            if c_ms != created:
                created, seen = c_ms, set()
            seen.add(alert_id)
            consumed += 1
            if u_ms >= hi:
                continue  # updated since the search saw it: a later pass returns it
            if cp.prev.get(alert_id) == u_ms:
                continue  # returned by the previous pass (the re-read band)
            out.append(alert)
            if u_ms >= hi - REREAD_MS:
                tail[alert_id] = u_ms
            if len(out) >= limit:
                break
        if len(seen) > MAX_SEEN_IDS:
            raise FetchWindowError(
                f"More than {MAX_SEEN_IDS} alerts updated in the window share createdAt "
                f"{iso(created or 0)}; Jira Service Management cannot page through them."
            )
        count = body.get("count")
        # a short page ends the pass unless the count says the server cut the page short; an
        # empty page always does
        dry = not values or (
            len(values) < size and not (isinstance(count, int) and offset + len(values) < count)
        )
        if out and not dry:  # something new: return it (one request per call as a rule)
            tail, floor = _bounded_tail(tail, cp.floor)
            nxt = PassCheckpoint(
                lo, hi, created, frozenset(seen), cp.end, cp.query, tail, cp.prev, floor
            )
            return FetchOutcome(out, nxt, True, (lo, hi), pages)
        if dry:
            # the pass ran dry: the next one re-reads the last REREAD_MS of this one
            floor = cp.floor
            next_lo = max(lo, hi - REREAD_MS, floor)
            carried = {k: v for k, v in {**cp.prev, **tail}.items() if v >= next_lo}
            carried, floor = _bounded_tail(carried, floor)
            next_lo = max(next_lo, floor)
            nxt = PassCheckpoint(
                next_lo, None, None, frozenset(), cp.end, cp.query, {}, carried, floor
            )
            ended = cp.end is not None and hi >= cp.end
            if not ended and hi < settled and not out and _pages is None:
                # time passed since this pass began: go on at once with the next one
                return fetch(list_page, nxt, condition, limit, now_ms, path, pages)
            return FetchOutcome(out, nxt, False, (lo, hi), pages)
        if consumed:
            offset = max(0, len(seen) - TIE_OVERLAP)  # the cursor moved: the query changes
            previous_last = None
        else:  # a full page of consumed alerts, deep in one createdAt group: page deeper
            previous_last = keyed[-1][1]
            offset += len(values) - 1
    tail, floor = _bounded_tail(tail, cp.floor)
    nxt = PassCheckpoint(lo, hi, created, frozenset(seen), cp.end, cp.query, tail, cp.prev, floor)
    return FetchOutcome(out, nxt, True, (lo, hi), pages)
