"""The schedule commands: Get Schedules, Get Schedule Timeline, Get On-call User."""

from __future__ import annotations

import json
from typing import Any

from .. import errors
from ..command import CommandContext, CommandResult, CommandSpec
from ..times import format_query_date, parse_user_time
from ._answers import answer_data


def get_schedules(ctx: CommandContext) -> CommandResult:
    """Get Schedules: ``GET /v2/schedules``. Output ``schedules``: OpsGenie's list as answered.

    Raises:
        errors.BadResponseError: ``data`` is not a list.
    """
    body = ctx.client.list_schedules()
    schedules = answer_data(body, list, "list of schedules")
    return CommandResult(raw_data=body, outputs={"schedules": schedules})


def get_schedule_timeline(ctx: CommandContext) -> CommandResult:
    """Get Schedule Timeline: ``GET /v2/schedules/{name}/timeline?identifierType=name`` with
    ``interval``, ``intervalUnit``, ``date`` and ``expand`` when given.

    Output ``periods``: the final timeline flattened, ``[{rotation, rotation_id, startDate,
    endDate, type, recipient}]`` in rotation order; ``timeline``: ``data`` as answered.

    Raises:
        errors.BadResponseError: ``data`` is not an object, or ``data.finalTimeline.rotations``
            is not a list.
    """
    inputs = ctx.inputs
    expand = None
    if inputs.get("expand"):
        expand = [part.strip() for part in inputs["expand"].split(",")]
    date = format_query_date(parse_user_time(inputs["date"])) if "date" in inputs else None
    body = ctx.client.get_schedule_timeline(
        inputs["schedule_name"],
        identifier_type="name",
        interval=inputs.get("interval"),
        interval_unit=inputs.get("interval_unit"),
        date=date,
        expand=expand,
    )
    data = answer_data(body, dict, "timeline")
    final = data.get("finalTimeline")
    rotations = final.get("rotations") if isinstance(final, dict) else None
    if not isinstance(rotations, list):
        raise errors.BadResponseError(
            "OpsGenie's timeline has no list of rotations in data.finalTimeline.",
            status_code=200,
            request_id=body.get("requestId"),
        )
    periods = []
    for rotation in rotations:
        if not isinstance(rotation, dict):
            continue
        for period in rotation.get("periods") or []:
            if isinstance(period, dict):
                periods.append(
                    {
                        "rotation": rotation.get("name"),
                        "rotation_id": rotation.get("id"),
                        "startDate": period.get("startDate"),
                        "endDate": period.get("endDate"),
                        "type": period.get("type"),
                        "recipient": period.get("recipient"),
                    }
                )
    return CommandResult(raw_data=body, outputs={"periods": periods, "timeline": data})


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

    Raises:
        errors.BadResponseError: ``data`` is not an object, or the tree is nested too deeply.
    """
    inputs = ctx.inputs
    date = format_query_date(parse_user_time(inputs["date"])) if "date" in inputs else None
    body = ctx.client.get_on_calls(inputs["schedule_name"], identifier_type="name", date=date)
    data = answer_data(body, dict, "on-call participants")
    tree = data.get("onCallParticipants") or []
    users: list[dict] = []
    unresolved: list[dict] = []
    try:
        _flatten_participants(tree, [], users, unresolved, set())
    except RecursionError:
        raise errors.BadResponseError(
            "OpsGenie's participant tree is nested too deeply to read.",
            status_code=200,
            request_id=body.get("requestId"),
        ) from None
    outputs: dict[str, Any] = {}
    raw: Any = body
    if unresolved:
        flat_body = ctx.client.get_on_calls(
            inputs["schedule_name"], identifier_type="name", flat=True, date=date
        )
        raw = [body, flat_body]
        flat_data = answer_data(flat_body, dict, "on-call recipients")
        recipients = [r for r in flat_data.get("onCallRecipients") or [] if isinstance(r, str)]
        outputs["on_call_recipients"] = recipients
        known = {u["name"] for u in users}
        users.extend(
            {"id": None, "name": r, "path": ["flat"]} for r in recipients if r not in known
        )
    outputs.update(
        {
            "on_call_users": users,
            "unresolved_participants": unresolved,
            "on_call_participants": tree,
            "schedule": data.get("_parent"),
        }
    )
    return CommandResult(raw_data=raw, outputs=outputs)


def _flatten_participants(
    nodes: Any, path: list[str], users: list[dict], unresolved: list[dict], seen: set[str | None]
) -> None:
    """Walk OpsGenie's participant tree: each user once into ``users``, each team, escalation
    or schedule listed without members into ``unresolved``; non-objects are skipped."""
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
                users.append(
                    {
                        "id": _text(node.get("id")),
                        "name": _text(node.get("name")),
                        "path": list(path),
                    }
                )
        elif isinstance(children, list) and children:
            step = f"{_text(kind)}:{_text(node.get('name'))}"
            _flatten_participants(children, [*path, step], users, unresolved, seen)
        elif kind not in (None, "none"):
            unresolved.append(
                {
                    "id": _text(node.get("id")),
                    "name": _text(node.get("name")),
                    "type": _text(kind),
                    "path": list(path),
                }
            )


def _text(value: Any) -> str | None:
    """A participant's id/name/type as text (OpsGenie sends strings; anything else is shown as
    JSON, at most 200 characters, not trusted)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)[:200]


COMMANDS = [
    CommandSpec("get_on_call_user", get_on_call_user),
    CommandSpec("get_schedules", get_schedules),
    CommandSpec("get_schedule_timeline", get_schedule_timeline),
]
