"""Helpers the command families share: reading OpsGenie's ``data``, naming a refused input,
and finding the people in an on-call participant tree."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .. import errors
from ..command import CommandContext
from ..readable import join_names
from ..times import parse_user_time


def answer_data(body: dict, kind: type, what: str) -> Any:
    """``body["data"]`` when it is a ``kind`` (OpsGenie's documented shape).

    Raises:
        errors.BadResponseError: ``data`` is missing or of another type (status 200, the answer's
            ``requestId`` when it is a string, a hint to check the Server URL).
    """
    data = body.get("data")
    if not isinstance(data, kind):
        request_id = body.get("requestId")
        raise errors.BadResponseError(
            f"OpsGenie's answer has no {what} "
            f"(data is {type(data).__name__}, not {kind.__name__}).",
            status_code=200,
            request_id=request_id if isinstance(request_id, str) else None,
            hint="Check the Server URL: something other than OpsGenie may have answered.",
        )
    return data


def input_error(parameter: str, input_id: str, text: str) -> errors.InputError:
    """An ``InputError`` for one input: ``"<parameter> (<input_id>): <text>"``."""
    return errors.InputError(
        [{"parameter": parameter, "id": input_id, "message": f"{parameter} ({input_id}): {text}"}]
    )


def user_time(
    ctx: CommandContext, input_id: str, parameter: str, now: datetime | None = None
) -> datetime:
    """The time input ``input_id`` read with the connection's Date Format and Time Zone.

    Raises:
        errors.InputError: naming ``parameter`` (an ambiguous day/month order names the Date
            Format setting).
    """
    definition = getattr(ctx, "command", None)
    if definition is not None and input_id in definition.input_by_id():
        parameter = definition.input_by_id()[input_id].title  # the manifest's display name
    try:
        return parse_user_time(ctx.inputs[input_id], now=now, settings=ctx.time_inputs)
    except ValueError as exc:
        raise input_error(parameter, input_id, str(exc)) from None


def on_call_people(tree: Any, body: dict) -> tuple[list[dict], list[dict]]:
    """The people of an on-call participant tree (``onCallParticipants``, ``nextOnCall...``):
    ``(users, unresolved)``; ``users`` ``[{id, name, path}]`` has each user once (``path``: the
    ``type:name`` of the teams or escalations they came through); ``unresolved`` ``[{id, name,
    type, path, rules}]`` the teams, escalations or schedules listed without members. Non-objects
    are skipped.

    Raises:
        errors.BadResponseError: the tree is nested beyond reason (``body``'s requestId kept).
    """
    users: list[dict] = []
    unresolved: list[dict] = []
    try:
        _flatten_participants(tree, [], users, unresolved, set())
    except RecursionError:
        raise errors.BadResponseError(
            "OpsGenie's participant tree is nested too deeply to read.",
            status_code=200,
            request_id=body.get("requestId") if isinstance(body.get("requestId"), str) else None,
        ) from None
    return users, unresolved


def add_flat_recipients(users: list[dict], names: Any) -> list[str]:
    """Add the usernames of a ``flat=true`` answer that ``users`` lacks (``id`` None, ``path``
    ``["flat"]``); return the answer's usernames (non-strings dropped)."""
    recipients = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    known = {u["name"] for u in users}
    users.extend({"id": None, "name": r, "path": ["flat"]} for r in recipients if r not in known)
    return recipients


def people_text(users: list[dict], empty: str = "nobody") -> str:
    """``jane@example.com and eve@example.com (via escalation:Ops escalation)``: the names, each
    with the team or escalation it came through; ``empty`` when there is none."""
    return (
        join_names(
            (
                f"{u['name']} (via {u['path'][-1].replace(':', ' ', 1)})"
                if u.get("path") and u["path"] != ["flat"]
                else str(u["name"])
            )
            for u in users
        )
        if users
        else empty
    )


def _flatten_participants(
    nodes: Any, path: list[str], users: list[dict], unresolved: list[dict], seen: set[str | None]
) -> None:
    """Walk OpsGenie's participant tree: each user once into ``users``, each team, escalation
    or schedule listed without members into ``unresolved`` once per path, with ``rules``: the
    ``{notifyType, escalationTime}`` of each place it was listed (two escalation rules naming
    the same schedule are one entry with two rules); non-objects are skipped."""
    if not isinstance(nodes, list):
        return
    for node in nodes:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        children = node.get("onCallParticipants")
        if kind == "user":
            key = text_of(node.get("id")) or text_of(node.get("name"))
            if key not in seen:
                seen.add(key)
                users.append(
                    {
                        "id": text_of(node.get("id")),
                        "name": text_of(node.get("name")),
                        "path": list(path),
                    }
                )
        elif isinstance(children, list) and children:
            step = f"{text_of(kind)}:{text_of(node.get('name'))}"
            _flatten_participants(children, [*path, step], users, unresolved, seen)
        elif kind not in (None, "none"):
            rule = {k: node[k] for k in ("notifyType", "escalationTime") if node.get(k) is not None}
            entry = {
                "id": text_of(node.get("id")),
                "name": text_of(node.get("name")),
                "type": text_of(kind),
                "path": list(path),
            }
            same = next(
                (u for u in unresolved if {**u, "rules": None} == {**entry, "rules": None}), None
            )
            if same is None:
                same = {**entry, "rules": []}
                unresolved.append(same)
            if rule and rule not in same["rules"]:
                same["rules"].append(rule)


def text_of(value: Any) -> str | None:
    """An id/name/type OpsGenie sent as text (anything else is shown as JSON, at most 200
    characters, not trusted)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)[:200]
