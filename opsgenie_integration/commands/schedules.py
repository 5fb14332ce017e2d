"""The schedule commands: Get Schedules, Get Schedule Timeline, Get On-call User."""

from __future__ import annotations

import re
from typing import Any

from .. import errors, picture
from ..command import CommandContext, CommandResult, CommandSpec
from ..readable import format_time, markdown_table
from ..shifts import TimelineShapeError, rotation_names, shifts_from_timeline, timeline_window
from ..times import format_query_date, to_epoch_ms, utc_now
from ._answers import (
    add_flat_recipients,
    answer_data,
    on_call_people,
    people_text,
    text_of,
    user_time,
)

_SHIFT_COLUMNS = [
    ("person", "Person"),
    ("rotation", "Rotation"),
    ("start", "Start"),
    ("end", "End"),
    ("type", "Type"),
    ("forwarded_from", "Forwarded from"),
]


def get_schedules(ctx: CommandContext) -> CommandResult:
    """Get Schedules: ``GET /v2/schedules``. Output ``schedules``: OpsGenie's list as answered.

    Raises:
        errors.BadResponseError: ``data`` is not a list.
    """
    body = ctx.client.list_schedules()
    schedules = answer_data(body, list, "list of schedules")
    rows = [
        {
            "name": s.get("name"),
            "timezone": s.get("timezone"),
            "enabled": s.get("enabled"),
            "owner": (s.get("ownerTeam") or {}).get("name")
            if isinstance(s.get("ownerTeam"), dict)
            else None,
            "id": s.get("id"),
        }
        for s in schedules
        if isinstance(s, dict)
    ]
    table = markdown_table(
        rows,
        [
            ("name", "Name"),
            ("timezone", "Time zone"),
            ("enabled", "Enabled"),
            ("owner", "Owner team"),
            ("id", "Id"),
        ],
        title="Schedules",
    )
    return CommandResult(raw_data=body, outputs={"schedules": schedules}, readable=table)


def _identifier_type(ctx: CommandContext) -> str:
    """The Schedule Identifier Type input: ``name`` (default) or ``id``."""
    return str(ctx.inputs.get("schedule_identifier_type") or "name")


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _name_that_is_an_id(ctx: CommandContext, exc: errors.NotFoundError) -> None:
    """A 404 for a UUID given as a name: say so (OpsGenie's message only asks to check it)."""
    name = str(ctx.inputs.get("schedule_name") or "").strip()
    if _identifier_type(ctx) == "name" and _UUID.match(name):
        exc.hint = (
            "Schedule Name looks like a schedule id: set Schedule Identifier Type "
            "(schedule_identifier_type) to id, or give the schedule's name."
        )


def _query_date(ctx: CommandContext) -> str | None:
    if "date" not in ctx.inputs:
        return None
    return format_query_date(user_time(ctx, "date", "Date"))


def get_schedule_timeline(ctx: CommandContext) -> CommandResult:
    """Get Schedule Timeline: ``GET /v2/schedules/{name or id}/timeline?identifierType=name|id``
    (Schedule Identifier Type, name by default) with ``interval``, ``intervalUnit``, ``date``
    and ``expand`` when given; with Picture = svg, also ``GET /v2/schedules/{name or
    id}?identifierType=name|id`` for the schedule's time zone.

    Outputs: ``periods``, the final timeline flattened, ``[{rotation, rotation_id, startDate,
    endDate, type, recipient}]`` in rotation order; ``shifts``, the same periods merged per
    rotation into one list across rotations sorted by start (``shifts.Shift.as_dict``: person,
    person_type, person_id, rotation, rotation_id, start, end, type, forwarded_from; ISO 8601
    UTC); ``timeline``, ``data`` as answered; with Picture = svg, ``picture`` (SVG text, see
    ``picture``) or, when drawsvg is not installed, ``picture`` null and ``picture_error``
    saying what to install (the command still succeeds).

    Raises:
        errors.BadResponseError: ``data`` is not an object, ``data.finalTimeline.rotations``
            is not a list, or a period's dates are not timestamps.
    """
    inputs = ctx.inputs
    expand = None
    if inputs.get("expand"):
        expand = [part.strip() for part in inputs["expand"].split(",")]
    date = _query_date(ctx)
    name = inputs["schedule_name"]
    try:
        body = ctx.client.get_schedule_timeline(
            name,
            identifier_type=_identifier_type(ctx),
            interval=inputs.get("interval"),
            interval_unit=inputs.get("interval_unit"),
            date=date,
            expand=expand,
        )
    except errors.NotFoundError as exc:
        _name_that_is_an_id(ctx, exc)
        raise
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
    shifts = shifts_from_timeline(data, strict=False)  # periods without dates are left out
    try:
        window: tuple[int, int] | None = timeline_window(data)
    except TimelineShapeError:
        window = None
    rows = [shift.as_dict() for shift in shifts]
    parent = data.get("_parent") if isinstance(data.get("_parent"), dict) else {}
    title = text_of(parent.get("name")) or name
    table_rows = [
        dict(
            row,
            person=row["person"]
            if row["person_type"] == "user"
            else f"{row['person']} ({row['person_type']})",
            start=format_time(shift.start_ms),
            end=format_time(shift.end_ms),
        )
        for row, shift in zip(rows, shifts)
    ]
    span = f", {format_time(window[0])} to {format_time(window[1])}" if window else ""
    readable = (
        f"Timeline of {title}{span}: {len(rows)} shift{'s' if len(rows) != 1 else ''}.\n\n"
        + markdown_table(table_rows, _SHIFT_COLUMNS)
    )
    outputs: dict[str, Any] = {"periods": periods, "shifts": rows, "timeline": data}
    raw: Any = body
    if inputs.get("picture") == "svg":
        problem = None
        if not picture.available():
            problem = picture.INSTALL_HINT
        elif window is None or window[0] >= window[1]:
            problem = "The timeline has no valid startDate and endDate to draw."
        if problem:
            outputs["picture"] = None
            outputs["picture_error"] = problem
            readable += f"\n\nNo picture: {problem}"
        else:
            schedule_body = ctx.client.get_schedule(name, identifier_type=_identifier_type(ctx))
            raw = [body, schedule_body]
            schedule = answer_data(schedule_body, dict, "schedule")
            zone = schedule.get("timezone") if isinstance(schedule.get("timezone"), str) else None
            outputs["picture"] = picture.render_timeline_svg(
                shifts,
                rotation_names(data),
                window,
                to_epoch_ms(utc_now()),
                zone,
                title,
            )
    return CommandResult(raw_data=raw, outputs=outputs, readable=readable)


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
    date = _query_date(ctx)
    kind = _identifier_type(ctx)
    try:
        body = ctx.client.get_on_calls(inputs["schedule_name"], identifier_type=kind, date=date)
    except errors.NotFoundError as exc:
        _name_that_is_an_id(ctx, exc)
        raise
    data = answer_data(body, dict, "on-call participants")
    tree = data.get("onCallParticipants") or []
    users, unresolved = on_call_people(tree, body)
    outputs: dict[str, Any] = {}
    raw: Any = body
    if unresolved:
        flat_body = ctx.client.get_on_calls(
            inputs["schedule_name"], identifier_type=kind, flat=True, date=date
        )
        raw = [body, flat_body]
        flat_data = answer_data(flat_body, dict, "on-call recipients")
        outputs["on_call_recipients"] = add_flat_recipients(
            users, flat_data.get("onCallRecipients")
        )
    outputs.update(
        {
            "on_call_users": users,
            "unresolved_participants": unresolved,
            "on_call_participants": tree,
            "schedule": data.get("_parent"),
        }
    )
    parent = data.get("_parent") if isinstance(data.get("_parent"), dict) else {}
    moment = user_time(ctx, "date", "Datetime") if "date" in inputs else utc_now()
    readable = (
        f"On call for {text_of(parent.get('name')) or inputs['schedule_name']} at "
        f"{format_time(to_epoch_ms(moment))}: {people_text(users)}."
    )
    return CommandResult(raw_data=raw, outputs=outputs, readable=readable)


COMMANDS = [
    CommandSpec("get_on_call_user", get_on_call_user),
    CommandSpec("get_schedules", get_schedules),
    CommandSpec("get_schedule_timeline", get_schedule_timeline),
]
