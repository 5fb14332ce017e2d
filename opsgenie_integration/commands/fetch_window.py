"""The Fetch Event window algorithm: read the alerts updated after a cursor, exactly once.

OpsGenie lists alerts sorted by ``updatedAt`` but pages only by ``offset`` (offset + limit at most
``client.ALERT_PAGING_CAP``). The window therefore moves by time: each call asks for
``updatedAt >= cursor``, and a checkpoint remembers the cursor's millisecond and the ids already
returned at it. Alerts sharing that millisecond are skipped by offset, with an overlap that
detects alerts of the group updated meanwhile (then the group is read again).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .. import errors
from ..client import ALERT_PAGING_CAP
from ..command import CommandContext
from ..times import from_epoch_ms, parse_server_timestamp

#: Default window start when neither Start Time nor Checkpoint is given: this long before the call.
DEFAULT_LOOKBACK = timedelta(hours=24)
#: Default window end: the call's time minus this, in ms, so alerts still being indexed by
#: OpsGenie are left for the next call instead of being skipped.
SETTLE_MS = 5000
#: Seen alerts re-read at the start of a page when continuing a large group of alerts that share
#: one updatedAt millisecond; detects (and recovers from) alerts of the group updated meanwhile.
TIE_OVERLAP = 50
#: OpsGenie's largest ``limit`` of ``GET /v2/alerts``.
PAGE_SIZE_MAX = 100
#: Times a moving group is read again from offset 0 before the call gives up (retryable).
MAX_RESCANS = 3

ALERTS_PATH = "/v2/alerts"


class FetchWindowError(errors.OpsGenieIntegrationError):
    """The fetch cannot continue without breaking OpsGenie's 20,000 offset + limit cap."""

    error_type = "fetch_window"


class FetchMovingError(errors.OpsGenieIntegrationError):
    """The alerts sharing the cursor's millisecond kept moving while they were read (or the server
    does not honour ``offset``); the checkpoint did not move, and trying again later is safe."""

    error_type = "fetch_moving"
    retryable = True


#: One alert read: (updatedAt in ms since the epoch, alert id, the alert as answered).
Keyed = tuple[int, str, dict]


def iso(ms: int) -> str:
    """``ms`` since the epoch as ISO 8601 UTC with milliseconds (``2024-03-01T00:00:00.000Z``)."""
    return from_epoch_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def alert_key(alert: Any, path: str = ALERTS_PATH) -> tuple[int, str]:
    """(updatedAt ms, id) of one listed alert.

    Raises:
        errors.BadResponseError: the alert is not an object with a string ``id``, or its
            ``updatedAt`` is not a timestamp.
    """
    if not isinstance(alert, dict) or not isinstance(alert.get("id"), str):
        raise errors.BadResponseError(
            f"OpsGenie answered GET {path} with an alert that has no id.",
            status_code=200,
            path=path,
        )
    try:
        return parse_server_timestamp(alert.get("updatedAt")), alert["id"]
    except (ValueError, TypeError, OverflowError):
        raise errors.BadResponseError(
            f"OpsGenie answered GET {path} with an alert whose updatedAt is not a timestamp "
            f"({str(alert.get('updatedAt'))[:40]!r}).",
            status_code=200,
            path=path,
        ) from None


def read_after_cursor(
    ctx: CommandContext, query: str, cursor: int, seen: set[str], end: int, limit: int
) -> tuple[list[dict], list[Keyed], bool]:
    """Read the next alerts after (cursor, seen): returns (pages, fresh alerts, has_more).

    Calls ``GET /v2/alerts`` with ``query``, ``sort=updatedAt``, ``order=asc``, ``offset`` and
    ``limit`` (at most ``PAGE_SIZE_MAX``). ``seen`` are the alerts already returned at ``cursor``;
    they are the first ones of that millisecond in OpsGenie's (stable) order. A call starts
    ``TIE_OVERLAP`` seen alerts before the first unseen one; if the page does not start with a seen
    alert, alerts of the group were updated meanwhile and the group is read again from offset 0.
    Deeper pages are read only while nothing new was found, each overlapping the previous one by
    one alert to detect shifts. The fresh alerts are those with ``cursor <= updatedAt < end`` not
    in ``seen``, one per (id, updatedAt), at most ``limit`` of them.

    Raises:
        errors.BadResponseError: no list of alerts, alerts not sorted ascending, or alerts outside
            the window (the time clause was not applied).
        FetchWindowError: the group at ``cursor`` is too large for the offset + limit cap.
        FetchMovingError: the group kept moving for ``MAX_RESCANS`` re-reads.
    """
    client = ctx.client
    path = ALERTS_PATH
    pages: list[dict] = []
    skip = len(seen)
    offset = max(0, skip - TIE_OVERLAP)
    rescans = 0
    previous_last: str | None = None
    while True:
        page_limit = min(PAGE_SIZE_MAX, limit + max(0, skip - offset))
        if offset + page_limit > ALERT_PAGING_CAP:
            raise FetchWindowError(
                f"More than {ALERT_PAGING_CAP - PAGE_SIZE_MAX} alerts share updatedAt "
                f"{iso(cursor)}; OpsGenie cannot page through them "
                f"(offset + limit cap of {ALERT_PAGING_CAP})."
            )
        body = client.list_alerts(
            query=query, offset=offset, limit=page_limit, sort="updatedAt", order="asc"
        )
        pages.append(body)
        data = body.get("data")
        if not isinstance(data, list):
            raise errors.BadResponseError(
                f"OpsGenie answered GET {path} without a list of alerts in data.",
                status_code=200,
                path=path,
                request_id=body.get("requestId"),
            )
        keyed: list[Keyed] = [(*alert_key(alert, path), alert) for alert in data]
        if any(keyed[i][0] > keyed[i + 1][0] for i in range(len(keyed) - 1)):
            raise errors.BadResponseError(
                f"OpsGenie answered GET {path} with alerts not sorted by updatedAt ascending "
                "(sort=updatedAt, order=asc were asked); the fetch cannot move forward safely.",
                status_code=200,
                path=path,
                request_id=body.get("requestId"),
                hint="Check the Server URL: something other than OpsGenie may have answered.",
            )
        if offset > 0 and keyed:
            first_ts, first_id, _ = keyed[0]
            if previous_last:
                expected_ok = first_id == previous_last
            else:
                expected_ok = first_ts == cursor and first_id in seen
            if not expected_ok:
                rescans += 1
                if rescans > MAX_RESCANS:
                    raise FetchMovingError(
                        f"The {len(seen)} or more alerts sharing updatedAt {iso(cursor)} kept "
                        f"moving while they were read ({MAX_RESCANS} attempts), or the server "
                        "does not honour offset; the checkpoint did not move.",
                        hint="Call Fetch Event again with the same Checkpoint.",
                    )
                offset, previous_last = 0, None
                continue
        fresh: list[Keyed] = []
        keys: set[tuple[str, int]] = set()
        for ts, alert_id, alert in keyed:
            already = ts == cursor and alert_id in seen
            if cursor <= ts < end and not already and (alert_id, ts) not in keys:
                keys.add(
                    (alert_id, ts)
                )  # one event per (alert id, updatedAt), even if listed twice
                fresh.append((ts, alert_id, alert))
        if fresh or len(data) < page_limit:
            has_more = len(data) >= page_limit or len(fresh) > limit
            return pages, fresh[:limit], has_more
        if any(ts != cursor or alert_id not in seen for ts, alert_id, _ in keyed):
            raise errors.BadResponseError(
                f"OpsGenie answered GET {path} with alerts outside the requested updatedAt "
                "window: the time clause of the query was not applied, so the fetch cannot move "
                "forward safely.",
                status_code=200,
                path=path,
                request_id=body.get("requestId"),
                hint="Check the Server URL; OpsGenie filters on updatedAt in the search query.",
            )
        # a full page of alerts already returned (a large group sharing the cursor's millisecond)
        previous_last = keyed[-1][1]
        offset += len(data) - 1
