"""The alert commands: Fetch Event (the window algorithm is in ``fetch_window``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..checkpoint import MAX_SEEN_IDS, Checkpoint, CheckpointError, query_digest
from ..client import ALERT_PAGING_CAP
from ..command import CommandContext, CommandResult, CommandSpec
from ..times import parse_user_time, to_epoch_ms, utc_now
from ._answers import input_error
from .fetch_window import DEFAULT_LOOKBACK, SETTLE_MS, FetchWindowError, iso, read_after_cursor

if TYPE_CHECKING:  # pragma: no cover - types only
    from ..mapping import FieldMapping

DEFAULT_FIELD_MAPPING = "field_mappings/default_event_source.yaml"


def fetch_event(ctx: CommandContext) -> CommandResult:
    """Fetch Event: alerts updated in a window, oldest update first, continuing from a checkpoint.

    Calls ``GET /v2/alerts`` with ``query=(<Search Condition>) AND updatedAt >= <cursor ms> AND
    updatedAt < <end ms>``, ``sort=updatedAt``, ``order=asc``, ``offset`` (0 except inside a group
    of alerts sharing the cursor's millisecond) and ``limit``.

    Outputs: ``events`` (mapped), ``checkpoint`` (string), ``has_more`` (bool: a full page came
    back, call again), ``window`` (``{"start", "end"}`` ISO 8601 UTC).

    Raises:
        errors.InputError: bad window, a checkpoint of another Search Condition, a bad mapping.
        errors.APIError / errors.TransportError: from the client; the checkpoint does not move.
        FetchWindowError: more alerts share one millisecond than the offset cap can page through.
    """
    inputs = ctx.inputs
    query = (inputs.get("query") or "").strip()
    limit = int(inputs["limit"])
    mapping = _field_mapping(ctx)
    now = utc_now()
    end_given = None
    if "end_time" in inputs:
        end_given = to_epoch_ms(parse_user_time(inputs["end_time"], now=now))
    if "checkpoint" in inputs:
        try:
            checkpoint = Checkpoint.decode(inputs["checkpoint"])
        except CheckpointError as exc:
            raise input_error("Checkpoint", "checkpoint", str(exc)) from None
        if checkpoint.query != query_digest(query):
            raise input_error(
                "Checkpoint",
                "checkpoint",
                "was made for another Search Condition; give the same Search Condition, or "
                "start again without a Checkpoint",
            )
        cursor, seen = checkpoint.updated_at, set(checkpoint.seen_ids)
        fixed_end = end_given if end_given is not None else checkpoint.end
    else:
        if "start_time" in inputs:
            cursor = to_epoch_ms(parse_user_time(inputs["start_time"], now=now))
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
    unchanged = Checkpoint(cursor, frozenset(seen), fixed_end, query_digest(query))
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
        next_checkpoint = Checkpoint(last, frozenset(next_seen), fixed_end, query_digest(query))
    else:
        next_checkpoint = unchanged
    events = mapping.map_answer({"data": [alert for _, _, alert in fresh]})
    raw = pages[0] if len(pages) == 1 else pages
    return CommandResult(
        raw_data=raw,
        outputs={
            "events": events,
            "checkpoint": next_checkpoint.encode(),
            "has_more": more,
            "window": window,
        },
    )


def _field_mapping(ctx: CommandContext) -> FieldMapping:
    """The Field Mapping File's mapping, else the event source's default (cached)."""
    # lazy: start-up (jsonpath-ng is imported only by commands that map events)
    from ..mapping import default_field_mapping, load_field_mapping_cached

    if ctx.inputs.get("field_mapping"):
        return load_field_mapping_cached(ctx.inputs["field_mapping"])
    return default_field_mapping(ctx.default_field_mapping or DEFAULT_FIELD_MAPPING)


COMMANDS = [CommandSpec("fetch_event", fetch_event)]
