"""The alert commands: Fetch Event (the window algorithm is in ``fetch_window``)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .. import errors
from ..checkpoint import MAX_SEEN_IDS, Checkpoint, CheckpointError, query_digest
from ..client import ALERT_PAGING_CAP
from ..command import CommandContext, CommandResult, CommandSpec
from ..readable import markdown_table
from ..times import to_epoch_ms, utc_now
from ..validation import is_enclosable_query
from ._answers import input_error, user_time
from .fetch_window import DEFAULT_LOOKBACK, SETTLE_MS, FetchWindowError, iso, read_after_cursor

if TYPE_CHECKING:  # pragma: no cover - types only
    from ..mapping import FieldMapping

DEFAULT_FIELD_MAPPING = "field_mappings/default_event_source.yaml"
#: Alerts read in full at once when Enrich is on (each one GET /v2/alerts/{id}).
ENRICH_CONCURRENCY = 4
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def fetch_event(ctx: CommandContext) -> CommandResult:
    """Fetch Event: alerts updated in a window, oldest update first, continuing from a checkpoint.

    Calls ``GET /v2/alerts`` with ``query=(<Search Condition>) AND updatedAt >= <cursor ms> AND
    updatedAt < <end ms>``, ``sort=updatedAt``, ``order=asc``, ``offset`` (0 except inside a group
    of alerts sharing the cursor's millisecond) and ``limit``. A Saved Search is read first
    (``GET /v2/alerts/saved-searches/{name or id}``) and its query takes the Search Condition's
    place, or joins it: ``(<saved query>) AND (<Search Condition>)``. With Enrich, each alert is
    read in full (``GET /v2/alerts/{id}``, ``ENRICH_CONCURRENCY`` at a time) before mapping.

    Outputs: ``events`` (mapped), ``checkpoint`` (string), ``has_more`` (bool: a full page came
    back, call again), ``window`` (``{"start", "end"}`` ISO 8601 UTC).

    Raises:
        errors.InputError: bad window, a checkpoint of another Search Condition, a bad mapping.
        errors.APIError / errors.TransportError: from the client; the checkpoint does not move.
        FetchWindowError: more alerts share one millisecond than the offset cap can page through.
    """
    inputs = ctx.inputs
    condition = (inputs.get("query") or "").strip()
    limit = int(inputs["limit"])
    enrich = bool(inputs.get("enrich"))
    mapping = _field_mapping(ctx, enrich)
    now = utc_now()
    # every time input is read (and refused) before any request, the saved search's included
    end_given = None
    if "end_time" in inputs:
        end_given = to_epoch_ms(user_time(ctx, "end_time", "End Time", now))
    start_given = None
    if "start_time" in inputs and "checkpoint" not in inputs:
        start_given = to_epoch_ms(user_time(ctx, "start_time", "Start Time", now))
    query, digest_of = condition, condition
    if inputs.get("saved_search"):
        saved = _saved_search_query(ctx, str(inputs["saved_search"]).strip())
        query = f"({saved}) AND ({condition})" if condition else saved
        digest_of = f"{condition}\x00saved search:{saved}"
    if "checkpoint" in inputs:
        try:
            checkpoint = Checkpoint.decode(inputs["checkpoint"])
        except CheckpointError as exc:
            raise input_error("Checkpoint", "checkpoint", str(exc)) from None
        if checkpoint.query != query_digest(digest_of):
            raise input_error(
                "Checkpoint",
                "checkpoint",
                "was made for another Search Condition; give the same Search Condition, or "
                "start again without a Checkpoint"
                if not inputs.get("saved_search")
                else "was made for another Search Condition or Saved Search query; give the "
                "same ones, or start again without a Checkpoint",
            )
        cursor, seen = checkpoint.updated_at, set(checkpoint.seen_ids)
        fixed_end = end_given if end_given is not None else checkpoint.end
    else:
        if start_given is not None:
            cursor = start_given
        else:
            cursor = to_epoch_ms(now - DEFAULT_LOOKBACK)
        seen = set()
        fixed_end = end_given
        if end_given is not None and cursor >= end_given:
            if "start_time" in inputs:
                raise input_error("Start Time", "start_time", "must be before End Time (end_time)")
            raise input_error(
                "End Time",
                "end_time",
                "is before the default Start Time (24 hours before the call); give a Start Time too",
            )
    # never read past "now - settle", even for an End Time in the future: updates still landing
    # in a millisecond already read could be missed; later calls continue up to the End Time
    settled = to_epoch_ms(now) - SETTLE_MS
    end = min(fixed_end, settled) if fixed_end is not None else settled
    window = {"start": iso(cursor), "end": iso(end)}
    unchanged = Checkpoint(cursor, frozenset(seen), fixed_end, query_digest(digest_of))
    if cursor >= end:
        outputs = {"events": [], "checkpoint": unchanged.encode(), "has_more": False}
        return CommandResult(raw_data=None, outputs={**outputs, "window": window})

    clause = f"updatedAt >= {cursor} AND updatedAt < {end}"
    full_query = f"({query}) AND {clause}" if query else clause
    pages, fresh, more = read_after_cursor(ctx, full_query, cursor, seen, end, limit)
    if fresh:
        last = fresh[-1][0]
        tail = {alert_id for ts, alert_id, _ in fresh if ts == last}
        next_seen = (seen | tail) if last == cursor else tail
        if len(next_seen) > MAX_SEEN_IDS:
            raise FetchWindowError(
                f"More than {MAX_SEEN_IDS} alerts share updatedAt {iso(last)}; OpsGenie cannot "
                f"page through them (offset + limit cap of {ALERT_PAGING_CAP})."
            )
        next_checkpoint = Checkpoint(last, frozenset(next_seen), fixed_end, query_digest(digest_of))
    else:
        next_checkpoint = unchanged
    alerts = [alert for _, _, alert in fresh]
    if enrich and alerts:
        alerts = _enriched(ctx, alerts)
    events = mapping.map_answer({"data": alerts})
    raw = pages[0] if len(pages) == 1 else pages
    return CommandResult(
        raw_data=raw,
        outputs={
            "events": events,
            "checkpoint": next_checkpoint.encode(),
            "has_more": more,
            "window": window,
        },
        readable=_readable(events, window, more),
    )


def _readable(events: list[Any], window: dict[str, str], more: bool) -> str:
    """``N events updated from <start> to <end>.`` (and whether more are waiting), then a table
    of the events' first six plain fields (at most 50 rows)."""
    count = len(events)
    text = (
        f"{count} event{'s' if count != 1 else ''} updated from {window['start']} to "
        f"{window['end']}"
        + ("; more are waiting: call again with the checkpoint." if more else ".")
    )
    rows = [e for e in events if isinstance(e, dict)]
    if not rows:
        return text
    columns = [k for k, v in rows[0].items() if v is None or isinstance(v, (str, int, float))][:6]
    table = markdown_table(rows[:50], [(c, c) for c in columns])
    if count > 50:
        table += f"\n\n… and {count - 50} more."
    return f"{text}\n\n{table}"


def _field_mapping(ctx: CommandContext, enrich: bool = False) -> FieldMapping:
    """The Field Mapping File's mapping, else the event source's default (cached).

    Raises:
        errors.InputError: a mapped field names an alert field the list answer lacks (null for
            every event) while Enrich is off.
    """
    # lazy: start-up (jsonpath-ng is imported only by commands that map events)
    from ..mapping import default_field_mapping, load_field_mapping_cached

    if ctx.inputs.get("field_mapping"):
        mapping = load_field_mapping_cached(ctx.inputs["field_mapping"])
    else:
        mapping = default_field_mapping(ctx.default_field_mapping or DEFAULT_FIELD_MAPPING)
    parameter, input_id = "Field Mapping File", "field_mapping"
    missing = [] if enrich else mapping.fields_missing_from_list()
    if missing:
        named = ", ".join(f"{name!r} ({top})" for name, top in missing)
        raise input_error(
            parameter,
            input_id,
            f"maps {named}: the alert list (GET /v2/alerts) never carries "
            f"{', '.join(sorted({top for _, top in missing}))}, so every event would have null "
            "there. Turn Enrich on (one GET /v2/alerts/{id} per event, counted against the rate "
            "limit), or map a field the list carries",
        )
    return mapping


def _saved_search_query(ctx: CommandContext, identifier: str) -> str:
    """The query of the Saved Search input (an id when UUID-shaped, else a name).

    Raises:
        errors.InputError: the saved search does not exist, or has no query.
        errors.APIError / errors.TransportError: from the client.
    """
    kind = "id" if _UUID.match(identifier) else "name"
    try:
        body = ctx.client.get_saved_search(identifier, identifier_type=kind)
    except errors.NotFoundError:
        raise input_error(
            "Saved Search",
            "saved_search",
            f"OpsGenie has no saved search with {kind} {identifier!r} (names are matched "
            "exactly, case included)",
        ) from None
    data = body.get("data")
    query = data.get("query") if isinstance(data, dict) else None
    if not isinstance(query, str) or not query.strip():
        raise input_error(
            "Saved Search", "saved_search", f"the saved search {identifier!r} has no query"
        )
    if not is_enclosable_query(query):  # checked as Search Condition is: it joins the window
        raise input_error(
            "Saved Search",
            "saved_search",
            f"the query of the saved search {identifier!r} cannot be combined with the time "
            "window as (<query>) AND <window>: its parentheses or double quotes do not balance, "
            "or it has \\( \\) outside quotes or a trailing \\. Fix the saved search in "
            "OpsGenie, or give its query as Search Condition, corrected",
        )
    return query.strip()


def _enriched(ctx: CommandContext, alerts: list[dict]) -> list[dict]:
    """Each alert as ``GET /v2/alerts/{id}`` answers it (``ENRICH_CONCURRENCY`` requests at a
    time), in the same order; an alert deleted meanwhile (404) keeps its list form."""

    def full(alert: dict) -> dict:
        try:
            body = ctx.client.get_alert(alert["id"])
        except errors.NotFoundError:
            return alert
        data = body.get("data")
        return {**alert, **data} if isinstance(data, dict) else alert

    with ThreadPoolExecutor(max_workers=ENRICH_CONCURRENCY) as pool:
        return list(pool.map(full, alerts))


COMMANDS = [CommandSpec("fetch_event", fetch_event)]
