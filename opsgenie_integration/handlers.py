"""The built-in commands, registered as a plugin through ``opsgenie_register_commands``.

Each handler takes a ``CommandContext`` (validated inputs, a client), builds its requests from
named inputs, and returns a ``CommandResult``. Handlers never catch broad exceptions: the
registry turns the exception tree into the envelope.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Dict, List, Optional, Set

from . import errors
from .checkpoint import MAX_SEEN_IDS, Checkpoint, CheckpointError, query_digest
from .client import ALERT_PAGING_CAP
from .hookspecs import hookimpl
from .registry import CommandContext, CommandResult, CommandSpec
from .times import format_query_date, from_epoch_ms, parse_server_timestamp, parse_user_time, to_epoch_ms, utc_now

#: Default window start when neither Start Time nor Checkpoint is given: this long before the call.
DEFAULT_LOOKBACK = timedelta(hours=24)
#: Default window end: the call's time minus this, in ms, so alerts still being indexed by
#: OpsGenie are left for the next call instead of being skipped.
SETTLE_MS = 5000
#: Seen alerts re-read at the start of a page when continuing a large group of alerts that share
#: one updatedAt millisecond; detects (and recovers from) alerts of the group updated meanwhile.
TIE_OVERLAP = 50
PAGE_SIZE_MAX = 100
MAX_RESCANS = 3


def _data(body: dict, kind: type, what: str) -> Any:
    """``body["data"]`` when it has the shape OpsGenie documents, else ``BadResponseError``."""
    data = body.get("data")
    if not isinstance(data, kind):
        raise errors.BadResponseError(
            f"OpsGenie's answer has no {what} (data is {type(data).__name__}, not {kind.__name__}).",
            status_code=200, request_id=body.get("requestId") if isinstance(body.get("requestId"), str) else None,
            hint="Check the Server URL: something other than OpsGenie may have answered.")
    return data


def _input_error(parameter: str, input_id: str, text: str) -> errors.InputError:
    return errors.InputError([{"parameter": parameter, "id": input_id, "message": f"{parameter} ({input_id}): {text}"}])


# -- Fetch Event -------------------------------------------------------------------------------


class FetchWindowError(errors.OpsGenieIntegrationError):
    """The fetch cannot continue without breaking OpsGenie's 20,000 offset + limit cap."""

    error_type = "fetch_window"


class FetchMovingError(errors.OpsGenieIntegrationError):
    """The alerts sharing the cursor's millisecond kept moving while they were read (or the server
    does not honour ``offset``); the checkpoint did not move, and trying again later is safe."""

    error_type = "fetch_moving"
    retryable = True


def fetch_event(ctx: CommandContext) -> CommandResult:
    """Fetch Event: alerts updated in a window, oldest update first, continuing from a checkpoint.

    Calls ``GET /v2/alerts`` with ``query=(<Search Condition>) AND updatedAt >= <cursor ms> AND
    updatedAt < <end ms>``, ``sort=updatedAt``, ``order=asc``, ``offset`` (0 except inside a group of
    alerts sharing the cursor's millisecond) and ``limit``.

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
    end_given = to_epoch_ms(parse_user_time(inputs["end_time"], now=now)) if "end_time" in inputs else None
    if "checkpoint" in inputs:
        try:
            checkpoint = Checkpoint.decode(inputs["checkpoint"])
        except CheckpointError as exc:
            raise _input_error("Checkpoint", "checkpoint", str(exc)) from None
        if checkpoint.query != query_digest(query):
            raise _input_error("Checkpoint", "checkpoint", "was made for another Search Condition; give the same "
                               "Search Condition, or start again without a Checkpoint")
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
                raise errors.InputError([
                    {"parameter": "Start Time", "id": "start_time",
                     "message": "Start Time (start_time): must be before End Time (end_time)"},
                ])
            raise errors.InputError([
                {"parameter": "End Time", "id": "end_time",
                 "message": "End Time (end_time): is before the default Start Time (24 hours before the call); "
                            "give a Start Time too"},
            ])
    # never read past "now - settle", even for an End Time in the future: updates still landing
    # in a millisecond already read could be missed; later calls continue up to the End Time
    end = min(fixed_end, to_epoch_ms(now) - SETTLE_MS) if fixed_end is not None else to_epoch_ms(now) - SETTLE_MS
    window = {"start": _iso(cursor), "end": _iso(end)}
    unchanged = Checkpoint(cursor, frozenset(seen), fixed_end, query_digest(query))
    if cursor >= end:
        return CommandResult(raw_data=None, outputs={
            "events": [], "checkpoint": unchanged.encode(), "has_more": False, "window": window})

    clause = f"updatedAt >= {cursor} AND updatedAt < {end}"
    full_query = f"({query}) AND {clause}" if query else clause
    pages, fresh, more = _read_after_cursor(ctx, full_query, cursor, seen, end, limit)
    if fresh:
        last = fresh[-1][0]
        tail = {alert_id for ts, alert_id, _ in fresh if ts == last}
        next_seen = (seen | tail) if last == cursor else tail
        if len(next_seen) > MAX_SEEN_IDS:
            raise FetchWindowError(
                f"More than {MAX_SEEN_IDS} alerts share updatedAt {_iso(last)}; OpsGenie cannot page through "
                f"them (offset + limit cap of {ALERT_PAGING_CAP}).")
        next_checkpoint = Checkpoint(last, frozenset(next_seen), fixed_end, query_digest(query))
    else:
        next_checkpoint = unchanged
    events = mapping.map_answer({"data": [alert for _, _, alert in fresh]})
    raw = pages[0] if len(pages) == 1 else pages
    return CommandResult(raw_data=raw, outputs={
        "events": events,
        "checkpoint": next_checkpoint.encode(),
        "has_more": more,
        "window": window,
    })


def _iso(ms: int) -> str:
    return from_epoch_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _field_mapping(ctx: CommandContext):
    from .mapping import default_field_mapping, load_field_mapping_cached  # jsonpath-ng: only when fetching

    if ctx.inputs.get("field_mapping"):
        return load_field_mapping_cached(ctx.inputs["field_mapping"])
    return default_field_mapping(ctx.default_field_mapping or "field_mappings/default_event_source.yaml")


def _alert_key(alert: Any, path: str) -> tuple:
    if not isinstance(alert, dict) or not isinstance(alert.get("id"), str):
        raise errors.BadResponseError(f"OpsGenie answered GET {path} with an alert that has no id.",
                                      status_code=200, path=path)
    try:
        return parse_server_timestamp(alert.get("updatedAt")), alert["id"]
    except (ValueError, TypeError, OverflowError):
        raise errors.BadResponseError(
            f"OpsGenie answered GET {path} with an alert whose updatedAt is not a timestamp "
            f"({str(alert.get('updatedAt'))[:40]!r}).", status_code=200, path=path) from None


def _read_after_cursor(ctx: CommandContext, query: str, cursor: int, seen: Set[str], end: int, limit: int):
    """Read the next alerts after (cursor, seen): returns (pages, [(ts, id, alert)], has_more).

    ``seen`` are the alerts already returned at ``cursor``; they are the first ones of that
    millisecond in OpsGenie's (stable) order. A call starts ``TIE_OVERLAP`` seen alerts before
    the first unseen one; if the page does not start with a seen alert, alerts of the group were
    updated meanwhile and the group is read again from offset 0. Deeper pages are read only while
    nothing new was found, each overlapping the previous one by one alert to detect shifts.
    """
    client = ctx.client
    path = "/v2/alerts"
    pages: List[dict] = []
    skip = len(seen)
    offset = max(0, skip - TIE_OVERLAP)
    rescans = 0
    previous_last: Optional[str] = None
    while True:
        page_limit = min(PAGE_SIZE_MAX, limit + max(0, skip - offset))
        if offset + page_limit > ALERT_PAGING_CAP:
            raise FetchWindowError(
                f"More than {ALERT_PAGING_CAP - PAGE_SIZE_MAX} alerts share updatedAt "
                f"{_iso(cursor)}; OpsGenie cannot page through them (offset + limit cap of {ALERT_PAGING_CAP})."
            )
        body = client.list_alerts(query=query, offset=offset, limit=page_limit, sort="updatedAt", order="asc")
        pages.append(body)
        data = body.get("data")
        if not isinstance(data, list):
            raise errors.BadResponseError(f"OpsGenie answered GET {path} without a list of alerts in data.",
                                          status_code=200, path=path, request_id=body.get("requestId"))
        keyed = [(*_alert_key(alert, path), alert) for alert in data]
        if any(keyed[i][0] > keyed[i + 1][0] for i in range(len(keyed) - 1)):
            raise errors.BadResponseError(
                f"OpsGenie answered GET {path} with alerts not sorted by updatedAt ascending (sort=updatedAt, "
                "order=asc were asked); the fetch cannot move forward safely.",
                status_code=200, path=path, request_id=body.get("requestId"),
                hint="Check the Server URL: something other than OpsGenie may have answered.")
        if offset > 0 and keyed:
            first_ts, first_id, _ = keyed[0]
            expected_ok = (first_id == previous_last) if previous_last else (first_ts == cursor and first_id in seen)
            if not expected_ok:
                rescans += 1
                if rescans > MAX_RESCANS:
                    raise FetchMovingError(
                        f"The {len(seen)} or more alerts sharing updatedAt {_iso(cursor)} kept moving while "
                        f"they were read ({MAX_RESCANS} attempts), or the server does not honour offset; "
                        "the checkpoint did not move.", hint="Call Fetch Event again with the same Checkpoint.")
                offset, previous_last = 0, None
                continue
        fresh = []
        keys = set()
        for ts, alert_id, alert in keyed:
            if cursor <= ts < end and not (ts == cursor and alert_id in seen) and (alert_id, ts) not in keys:
                keys.add((alert_id, ts))  # one event per (alert id, updatedAt), even if listed twice
                fresh.append((ts, alert_id, alert))
        if fresh or len(data) < page_limit:
            has_more = len(data) >= page_limit or len(fresh) > limit
            return pages, fresh[:limit], has_more
        if any(ts != cursor or alert_id not in seen for ts, alert_id, _ in keyed):
            raise errors.BadResponseError(
                f"OpsGenie answered GET {path} with alerts outside the requested updatedAt window: the "
                "time clause of the query was not applied, so the fetch cannot move forward safely.",
                status_code=200, path=path, request_id=body.get("requestId"),
                hint="Check the Server URL; OpsGenie filters on updatedAt in the search query.")
        # a full page of alerts already returned (a large group sharing the cursor's millisecond)
        previous_last = keyed[-1][1]
        offset += len(data) - 1


# -- schedules and users ----------------------------------------------------------------------


def _flatten_participants(nodes: Any, path: List[str], users: List[dict], unresolved: List[dict], seen: Set[str]) -> None:
    if not isinstance(nodes, list):
        return
    for node in nodes:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        children = node.get("onCallParticipants")
        if kind == "user":
            key = _text(node.get("id")) or _text(node.get("name"))
            if key not in seen:
                seen.add(key)
                users.append({"id": _text(node.get("id")), "name": _text(node.get("name")), "path": list(path)})
        elif isinstance(children, list) and children:
            _flatten_participants(children, path + [f"{_text(kind)}:{_text(node.get('name'))}"], users, unresolved, seen)
        elif kind not in (None, "none"):
            unresolved.append({"id": _text(node.get("id")), "name": _text(node.get("name")), "type": _text(kind),
                               "path": list(path)})


def _text(value: Any) -> Optional[str]:
    """A participant's id/name/type as text (OpsGenie sends strings; anything else is shown, not trusted)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)[:200]


def get_on_call_user(ctx: CommandContext) -> CommandResult:
    """Get On-call User: ``GET /v2/schedules/{name}/on-calls?scheduleIdentifierType=name[&date=]``.

    OpsGenie's participant tree may name a team or an escalation without its members; then a
    second call with ``flat=true`` asks OpsGenie for the on-call recipients flattened through
    teams and escalations, so the answer always says which people are on call.

    Outputs: ``on_call_users`` ``[{id, name, path}]`` (each person once; ``path`` lists the
    ``type:name`` of the teams/escalations they came through, ``["flat"]`` when only the flat
    answer named them, with ``id`` null); ``on_call_recipients`` (the flat answer's usernames, when
    asked); ``unresolved_participants`` (teams, escalations or schedules the tree listed without
    members); ``on_call_participants`` (the tree as answered); ``schedule`` (``data._parent``).
    Nobody on call is a Successful result with empty lists. ``raw_data`` is the tree answer, or
    both answers in order.
    """
    inputs = ctx.inputs
    date = format_query_date(parse_user_time(inputs["date"])) if "date" in inputs else None
    body = ctx.client.get_on_calls(inputs["schedule_name"], identifier_type="name", date=date)
    data = _data(body, dict, "on-call participants")
    tree = data.get("onCallParticipants") or []
    users: List[dict] = []
    unresolved: List[dict] = []
    try:
        _flatten_participants(tree, [], users, unresolved, set())
    except RecursionError:
        raise errors.BadResponseError("OpsGenie's participant tree is nested too deeply to read.",
                                      status_code=200, request_id=body.get("requestId")) from None
    outputs: Dict[str, Any] = {}
    raw: Any = body
    if unresolved:
        flat_body = ctx.client.get_on_calls(inputs["schedule_name"], identifier_type="name", flat=True, date=date)
        raw = [body, flat_body]
        flat_data = _data(flat_body, dict, "on-call recipients")
        recipients = [r for r in flat_data.get("onCallRecipients") or [] if isinstance(r, str)]
        outputs["on_call_recipients"] = recipients
        known = {u["name"] for u in users}
        users.extend({"id": None, "name": r, "path": ["flat"]} for r in recipients if r not in known)
    outputs.update({
        "on_call_users": users,
        "unresolved_participants": unresolved,
        "on_call_participants": tree,
        "schedule": data.get("_parent"),
    })
    return CommandResult(raw_data=raw, outputs=outputs)


def get_schedules(ctx: CommandContext) -> CommandResult:
    """Get Schedules: ``GET /v2/schedules``. Output ``schedules``: OpsGenie's list as answered."""
    body = ctx.client.list_schedules()
    return CommandResult(raw_data=body, outputs={"schedules": _data(body, list, "list of schedules")})


def get_schedule_timeline(ctx: CommandContext) -> CommandResult:
    """Get Schedule Timeline: ``GET /v2/schedules/{name}/timeline?identifierType=name`` with
    ``interval``, ``intervalUnit``, ``date`` and ``expand`` when given.

    Output ``periods``: the final timeline flattened, ``[{rotation, rotation_id, startDate,
    endDate, type, recipient}]`` in rotation order; ``timeline``: ``data`` as answered.
    """
    inputs = ctx.inputs
    expand = [part.strip() for part in inputs["expand"].split(",")] if inputs.get("expand") else None
    date = format_query_date(parse_user_time(inputs["date"])) if "date" in inputs else None
    body = ctx.client.get_schedule_timeline(
        inputs["schedule_name"],
        identifier_type="name",
        interval=inputs.get("interval"),
        interval_unit=inputs.get("interval_unit"),
        date=date,
        expand=expand,
    )
    data = _data(body, dict, "timeline")
    periods = []
    final = data.get("finalTimeline")
    rotations = final.get("rotations") if isinstance(final, dict) else None
    if not isinstance(rotations, list):
        raise errors.BadResponseError("OpsGenie's timeline has no list of rotations in data.finalTimeline.",
                                      status_code=200, request_id=body.get("requestId"))
    for rotation in rotations:
        if not isinstance(rotation, dict):
            continue
        for period in rotation.get("periods") or []:
            if isinstance(period, dict):
                periods.append({
                    "rotation": rotation.get("name"),
                    "rotation_id": rotation.get("id"),
                    "startDate": period.get("startDate"),
                    "endDate": period.get("endDate"),
                    "type": period.get("type"),
                    "recipient": period.get("recipient"),
                })
    return CommandResult(raw_data=body, outputs={"periods": periods, "timeline": data})


def get_single_user(ctx: CommandContext) -> CommandResult:
    """Get Single User: ``GET /v2/users/{id or username}``. Output ``user``: ``data`` as answered."""
    body = ctx.client.get_user(ctx.inputs["user"])
    return CommandResult(raw_data=body, outputs={"user": _data(body, dict, "user")})


# -- Test Connection ---------------------------------------------------------------------------


def test_connection(ctx: CommandContext) -> CommandResult:
    """Test Connection: ``GET /v2/account`` (key, region, Configuration access), then
    ``GET /v2/alerts?limit=1`` (Read).

    Successful only when every command of the manifest can run with this key. Outputs:
    ``commands`` ``{display name: {right, can_run, reason?}}`` and ``account``. A 401, a 422 or no
    answer at all ends the test at once (nothing else can be learnt).
    """
    client = ctx.client
    raw: List[Any] = []
    rights: Dict[str, Optional[errors.OpsGenieIntegrationError]] = {}
    account = None
    for right, call in (("configuration", client.get_account),
                        ("read", lambda: client.list_alerts(limit=1))):
        try:
            body = call()
        except errors.ForbiddenError as exc:
            raw.append(exc.body)
            rights[right] = exc
            continue
        except errors.AuthenticationError as exc:
            exc.hint = (f"The API Key is unknown to {client.base_url}: check the key, and that Server URL is the "
                        "account's region (US https://api.opsgenie.com, EU https://api.eu.opsgenie.com).")
            raise
        except errors.UnprocessableError as exc:
            exc.hint = ("The API Key is malformed, or is a user's key rather than the key of an API integration "
                        "(Settings > Integrations > API).")
            raise
        except errors.NotFoundError as exc:
            exc.hint = (f"{client.url_for(['account'])} does not exist: check the Server URL and the API Version "
                        "(OpsGenie's is v2).")
            raise
        raw.append(body)
        rights[right] = None
        if right == "configuration":
            data = body.get("data") if isinstance(body.get("data"), dict) else {}
            account = {"name": data.get("name"), "plan": (data.get("plan") or {}).get("name")
                       if isinstance(data.get("plan"), dict) else None}
    manifest = ctx.manifest
    report: Dict[str, Dict[str, Any]] = {}
    missing: Dict[str, List[str]] = {}
    for command in manifest.commands:
        right_name = manifest.rights.get(command.right, command.right)
        problem = rights.get(command.right)
        entry: Dict[str, Any] = {"right": right_name, "can_run": problem is None}
        if problem is not None:
            entry["reason"] = f"the key lacks {right_name} (OpsGenie: {problem.message})"
            missing.setdefault(right_name, []).append(command.name)
        report[command.name] = entry
    error = None
    if missing:
        parts = [f"{', '.join(names)} (missing right: {right})" for right, names in missing.items()]
        first = next(p for p in rights.values() if p is not None)
        error = errors.ForbiddenError(
            "This API key cannot run: " + "; ".join(parts) + ".",
            status_code=first.status_code, code=first.code, request_id=first.request_id,
            hint="Give the API integration the missing access rights in OpsGenie (Settings > Integrations > API), "
                 "or check that it is not restricted to another team.",
        )
    return CommandResult(raw_data=raw, outputs={"commands": report, "account": account}, error=error)


@hookimpl
def opsgenie_register_commands() -> List[CommandSpec]:
    return [
        CommandSpec("fetch_event", fetch_event),
        CommandSpec("get_on_call_user", get_on_call_user),
        CommandSpec("get_schedules", get_schedules),
        CommandSpec("get_schedule_timeline", get_schedule_timeline),
        CommandSpec("get_single_user", get_single_user),
        CommandSpec("test_connection", test_connection),
    ]
