"""Who is on call: Get Next On-call User, Get On-call Users Across Schedules, Is User On Call.

Every command takes an optional Datetime (default: now) in the formats the time inputs accept,
and sends it to OpsGenie as ``date`` (UTC, ``yyyy-MM-ddTHH:mm:ss+00:00``), so the answers and
the readable text speak of the same instant. People are found as Get On-call User finds them:
the participant tree flattened (each person once, with the team or escalation they came
through), and, where the tree names a team or an escalation without its members, OpsGenie's
``flat=true`` answer fills them in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import errors
from ..command import CommandContext, CommandResult, CommandSpec
from ..readable import format_time, format_until, join_names, markdown_table
from ..shifts import (
    TimelineShapeError,
    iso_utc,
    on_call_until,
    shifts_at,
    shifts_from_timeline,
)
from ..times import format_query_date, to_epoch_ms, utc_now
from ._answers import add_flat_recipients, answer_data, on_call_people, people_text, user_time

#: The timeline read to find when a shift ends: this many weeks from the week of the moment.
UNTIL_WEEKS = 2


def _moment(ctx: CommandContext) -> datetime:
    """Datetime, read with the connection's Date Format and Time Zone; now when left out."""
    return user_time(ctx, "date", "Datetime") if "date" in ctx.inputs else utc_now()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# -- Get Next On-call User ----------------------------------------------------------------------


def get_next_on_call_user(ctx: CommandContext) -> CommandResult:
    """Get Next On-call User: ``GET /v2/schedules/{schedule}/next-on-calls?scheduleIdentifierType=
    name|id&date=``, and again with ``flat=true`` when the tree names a team or an escalation
    without its members.

    Outputs: ``next_on_call_users`` ``[{id, name, path}]`` (who is on call at the first instant
    after Datetime where the on-call set changes, each person once), ``next_per_rotation``
    ``[{id, name, path}]`` (per rotation, the next recipient other than the current one),
    ``next_on_call_recipients`` (the flat answer's usernames, when asked), ``unresolved_
    participants``, ``exact_next_on_call_participants`` and ``next_on_call_participants`` (the
    trees as answered), ``schedule`` (``data._parent``). Nobody next is a Successful result with
    empty lists.

    Raises:
        errors.BadResponseError: ``data`` is not an object, or a tree is nested beyond reason.
    """
    inputs = ctx.inputs
    moment = _moment(ctx)
    kind = inputs.get("schedule_identifier_type", "name")
    date = format_query_date(moment)
    client = ctx.client
    body = client.get_next_on_calls(inputs["schedule_name"], identifier_type=kind, date=date)
    data = answer_data(body, dict, "next on-call participants")
    exact_tree = data.get("exactNextOnCallRecipients") or []
    next_tree = data.get("nextOnCallRecipients") or []
    exact_users, unresolved = on_call_people(exact_tree, body)
    per_rotation, unresolved_next = on_call_people(next_tree, body)
    outputs: dict[str, Any] = {}
    raw: Any = body
    if unresolved or unresolved_next:
        flat_body = client.get_next_on_calls(
            inputs["schedule_name"], identifier_type=kind, flat=True, date=date
        )
        raw = [body, flat_body]
        flat = answer_data(flat_body, dict, "next on-call recipients")
        outputs["next_on_call_recipients"] = add_flat_recipients(
            exact_users, flat.get("exactNextOnCallParticipants")
        )
        add_flat_recipients(per_rotation, flat.get("nextOnCallParticipants"))
    parent = data.get("_parent") if isinstance(data.get("_parent"), dict) else {}
    name = _text(parent.get("name")) or inputs["schedule_name"]
    outputs.update(
        {
            "next_on_call_users": exact_users,
            "next_per_rotation": per_rotation,
            "unresolved_participants": unresolved + unresolved_next,
            "exact_next_on_call_participants": exact_tree,
            "next_on_call_participants": next_tree,
            "schedule": data.get("_parent"),
        }
    )
    when = format_time(to_epoch_ms(moment))
    readable = f"Next on call for {name} after {when}: {people_text(exact_users)}."
    if per_rotation and [u["name"] for u in per_rotation] != [u["name"] for u in exact_users]:
        readable += f" Next in each rotation: {people_text(per_rotation)}."
    return CommandResult(raw_data=raw, outputs=outputs, readable=readable)


# -- Get On-call Users Across Schedules --------------------------------------------------------


def _owned_by(schedule: dict, team: str) -> bool:
    owner = schedule.get("ownerTeam")
    return isinstance(owner, dict) and team in (owner.get("id"), owner.get("name"))


def get_on_call_users_across_schedules(ctx: CommandContext) -> CommandResult:
    """Get On-call Users Across Schedules: ``GET /v2/schedules/on-calls?date=``; with a Team,
    first ``GET /v2/schedules`` to keep the schedules that team owns (OpsGenie's on-calls list
    has no team filter); and ``GET /v2/schedules/on-calls?flat=true&date=`` when a tree names a
    team or an escalation without its members.

    Output ``schedules``: one row per schedule, in OpsGenie's order: ``{schedule, schedule_id,
    enabled, on_call_users: [{id, name, path}], unresolved_participants,
    on_call_participants}`` (the same people Get On-call User finds for that schedule);
    ``team`` (the filter, or null).

    Raises:
        errors.BadResponseError: an answer's ``data`` is not a list, or a tree is nested beyond
            reason.
    """
    inputs = ctx.inputs
    moment = _moment(ctx)
    date = format_query_date(moment)
    client = ctx.client
    raw: list[Any] = []
    keep: set[str] | None = None
    team = inputs.get("team")
    if team:
        listed = client.list_schedules()
        raw.append(listed)
        keep = {
            s.get("id")
            for s in answer_data(listed, list, "list of schedules")
            if isinstance(s, dict) and _owned_by(s, team)
        }
    body = client.list_on_calls(date=date)
    raw.append(body)
    rows: list[dict[str, Any]] = []
    needs_flat = False
    for item in answer_data(body, list, "list of on-calls"):
        if not isinstance(item, dict):
            continue
        parent = item.get("_parent") if isinstance(item.get("_parent"), dict) else {}
        if keep is not None and parent.get("id") not in keep:
            continue
        tree = item.get("onCallParticipants") or []
        users, unresolved = on_call_people(tree, body)
        needs_flat = needs_flat or bool(unresolved)
        rows.append(
            {
                "schedule": _text(parent.get("name")),
                "schedule_id": _text(parent.get("id")),
                "enabled": parent.get("enabled"),
                "on_call_users": users,
                "unresolved_participants": unresolved,
                "on_call_participants": tree,
            }
        )
    if needs_flat:
        flat_body = client.list_on_calls(flat=True, date=date)
        raw.append(flat_body)
        flat = {
            (item.get("_parent") or {}).get("id"): item.get("onCallRecipients")
            for item in answer_data(flat_body, list, "list of on-call recipients")
            if isinstance(item, dict) and isinstance(item.get("_parent"), dict)
        }
        for row in rows:
            if row["unresolved_participants"]:
                add_flat_recipients(row["on_call_users"], flat.get(row["schedule_id"]))
    when = format_time(to_epoch_ms(moment))
    scope = f" owned by team {team}" if team else ""
    table = markdown_table(
        [
            {
                "schedule": r["schedule"],
                "who": people_text(r["on_call_users"]),
                "enabled": r["enabled"],
            }
            for r in rows
        ],
        [("schedule", "Schedule"), ("who", "On call"), ("enabled", "Enabled")],
    )
    readable = f"On call at {when} in {len(rows)} schedule{'s' if len(rows) != 1 else ''}{scope}."
    return CommandResult(
        raw_data=raw if len(raw) > 1 else body,
        outputs={"schedules": rows, "team": team},
        readable=f"{readable}\n\n{table}",
    )


# -- Is User On Call ---------------------------------------------------------------------------


def _matches_user(user: dict) -> Any:
    names = {n for n in (user.get("id"), user.get("username")) if n}

    def holds(shift: Any) -> bool:
        return shift.person_type == "user" and (shift.person_id in names or shift.person in names)

    return holds


def is_user_on_call(ctx: CommandContext) -> CommandResult:
    """Is User On Call: ``GET /v2/users/{user}``, then the flat on-calls at Datetime, of one
    schedule (``GET /v2/schedules/{schedule}/on-calls?scheduleIdentifierType=name&flat=true&
    date=``) or of all (``GET /v2/schedules/on-calls?flat=true&date=``); for each schedule where
    the person is on call, ``GET /v2/schedules/{id}/timeline?identifierType=id&interval=2&
    intervalUnit=weeks&date=`` tells through which rotation and until when.

    Outputs: ``on_call`` (bool), ``user`` ``{id, username, fullName}``, ``schedules``
    ``[{schedule, schedule_id, via: [{rotation, type, name}], until}]`` (``via`` a rotation that
    names the person, or the team, escalation or schedule they are on call through; ``until``
    ISO 8601 UTC, the end of that stretch as far as the timeline reaches, null when the timeline
    does not show it). An unknown user or schedule is OpsGenie's 404.

    Raises:
        errors.NotFoundError: the user (or the schedule named) does not exist.
        errors.BadResponseError: an answer is not shaped as documented (a timeline period
            without valid dates included).
    """
    inputs = ctx.inputs
    moment = _moment(ctx)
    at_ms = to_epoch_ms(moment)
    date = format_query_date(moment)
    client = ctx.client
    user_body = client.get_user(inputs["user"])
    user_data = answer_data(user_body, dict, "user")
    user = {
        "id": _text(user_data.get("id")),
        "username": _text(user_data.get("username")),
        "fullName": _text(user_data.get("fullName")),
    }
    raw: list[Any] = [user_body]
    if inputs.get("schedule_name"):
        one = client.get_on_calls(
            inputs["schedule_name"], identifier_type="name", flat=True, date=date
        )
        raw.append(one)
        items = [answer_data(one, dict, "on-call recipients")]
    else:
        every = client.list_on_calls(flat=True, date=date)
        raw.append(every)
        items = [i for i in answer_data(every, list, "list of on-calls") if isinstance(i, dict)]
    holds = _matches_user(user)
    found: list[dict[str, Any]] = []
    for item in items:
        parent = item.get("_parent") if isinstance(item.get("_parent"), dict) else {}
        recipients = [r for r in item.get("onCallRecipients") or [] if isinstance(r, str)]
        if user["username"] not in recipients or not _text(parent.get("id")):
            continue
        timeline_body = client.get_schedule_timeline(
            parent["id"],
            identifier_type="id",
            interval=UNTIL_WEEKS,
            interval_unit="weeks",
            date=date,
        )
        raw.append(timeline_body)
        try:
            shifts = shifts_from_timeline(answer_data(timeline_body, dict, "timeline"))
        except TimelineShapeError as exc:
            raise errors.BadResponseError(
                f"OpsGenie's timeline cannot be read: {exc}.",
                status_code=200,
                request_id=timeline_body.get("requestId"),
            ) from None
        now_shifts = shifts_at(shifts, at_ms)
        direct = [s for s in now_shifts if holds(s)]
        through = direct or [s for s in now_shifts if s.person_type != "user"]
        keys = {(s.person_type, s.person_id or s.person) for s in through}
        until = on_call_until(
            shifts, at_ms, lambda s, keys=keys: (s.person_type, s.person_id or s.person) in keys
        )
        found.append(
            {
                "schedule": _text(parent.get("name")),
                "schedule_id": parent["id"],
                "via": [
                    {"rotation": s.rotation, "type": s.person_type, "name": s.person}
                    for s in through
                ],
                "until": None if until is None else iso_utc(until),
                "_until_ms": until,
            }
        )
    who = user["fullName"] or user["username"] or inputs["user"]
    when = format_time(at_ms)
    if not found:
        where = (
            f"in {inputs['schedule_name']}" if inputs.get("schedule_name") else "in any schedule"
        )
        readable = f"{who} is not on call at {when} {where}."
    else:
        parts = []
        for row in found:
            via = join_names(
                f"rotation {v['rotation']}"
                if v["type"] == "user"
                else f"{v['type']} {v['name']} in rotation {v['rotation']}"
                for v in row["via"]
            )
            text = f"{row['schedule']} ({via})" if row["via"] else f"{row['schedule']}"
            if row["_until_ms"] is not None:
                text += f" until {format_until(at_ms, row['_until_ms'])}"
            parts.append(text)
        readable = f"{who} is on call at {when} in " + join_names(parts) + "."
    for row in found:
        del row["_until_ms"]
    return CommandResult(
        raw_data=raw,
        outputs={"on_call": bool(found), "user": user, "schedules": found},
        readable=readable,
    )


COMMANDS = [
    CommandSpec("get_next_on_call_user", get_next_on_call_user),
    CommandSpec("get_on_call_users_across_schedules", get_on_call_users_across_schedules),
    CommandSpec("is_user_on_call", is_user_on_call),
]
