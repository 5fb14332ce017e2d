"""Teams and escalations: Get Team, List Teams, Get Escalation, List Escalations.

Each handler calls one OpsGenie endpoint and returns its ``data`` with a readable summary
(Markdown: a sentence and a table). Teams and escalations are named by name (the default) or id:
``identifierType`` says which, as OpsGenie otherwise takes a name for an id.
"""

from __future__ import annotations

from typing import Any

from ..command import CommandContext, CommandResult, CommandSpec
from ..readable import join_names, markdown_table
from ._answers import answer_data

_UNITS = {"days": "d", "hours": "h", "minutes": "min", "seconds": "s", "miliseconds": "ms"}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _members(team: dict) -> list[dict[str, Any]]:
    """``[{id, username, role}]`` of a team's ``members`` (entries not shaped as documented are
    left out)."""
    out = []
    for member in team.get("members") or []:
        if not isinstance(member, dict):
            continue
        user = member.get("user") if isinstance(member.get("user"), dict) else {}
        out.append(
            {
                "id": _text(user.get("id")),
                "username": _text(user.get("username")),
                "role": _text(member.get("role")) or "user",
            }
        )
    return out


def get_team(ctx: CommandContext) -> CommandResult:
    """Get Team: ``GET /v2/teams/{team}?identifierType=name|id``.

    Outputs: ``team`` (``data`` as answered: ``{id, name, description, members}``) and
    ``members`` ``[{id, username, role}]``.

    Raises:
        errors.NotFoundError: no such team (OpsGenie's 404).
        errors.BadResponseError: ``data`` is not an object.
    """
    inputs = ctx.inputs
    kind = inputs.get("identifier_type", "name")
    body = ctx.client.get_team(inputs["team"], identifier_type=kind)
    team = answer_data(body, dict, "team")
    members = _members(team)
    name = _text(team.get("name")) or inputs["team"]
    sentence = f"Team {name}"
    if _text(team.get("description")):
        sentence += f" ({' '.join(team['description'].split())})"
    sentence += f": {len(members)} member{'s' if len(members) != 1 else ''}."
    table = markdown_table(members, [("username", "Username"), ("role", "Role"), ("id", "Id")])
    return CommandResult(
        raw_data=body,
        outputs={"team": team, "members": members},
        readable=f"{sentence}\n\n{table}",
    )


def list_teams(ctx: CommandContext) -> CommandResult:
    """List Teams: ``GET /v2/teams``. Output ``teams``: ``[{id, name, description}]`` as
    answered.

    Raises:
        errors.BadResponseError: ``data`` is not a list.
    """
    body = ctx.client.list_teams()
    teams = answer_data(body, list, "list of teams")
    rows = [t for t in teams if isinstance(t, dict)]
    table = markdown_table(
        rows, [("name", "Name"), ("description", "Description"), ("id", "Id")], title="Teams"
    )
    return CommandResult(raw_data=body, outputs={"teams": teams}, readable=table)


def _delay(rule: dict) -> str:
    delay = rule.get("delay") if isinstance(rule.get("delay"), dict) else {}
    amount = delay.get("timeAmount")
    unit = _text(delay.get("timeUnit")) or "minutes"
    if not isinstance(amount, int) or isinstance(amount, bool):
        return ""
    return f"{amount} {_UNITS.get(unit, unit)}"


def _recipient(recipient: Any) -> str:
    if not isinstance(recipient, dict):
        return ""
    kind = _text(recipient.get("type")) or "?"
    name = (
        _text(recipient.get("username"))
        or _text(recipient.get("name"))
        or _text(recipient.get("id"))
    )
    return f"{name} ({kind})" if name else kind


def escalation_rules(escalation: dict) -> list[dict[str, Any]]:
    """An escalation's ``rules`` as rows: ``[{step, delay, condition, notify_type, recipient,
    recipient_type, recipient_id}]`` (``step`` from 1, ``delay`` like ``10 min``, ``recipient``
    like ``ops (team)``)."""
    rows = []
    for i, rule in enumerate(r for r in escalation.get("rules") or [] if isinstance(r, dict)):
        recipient = rule.get("recipient") if isinstance(rule.get("recipient"), dict) else {}
        rows.append(
            {
                "step": i + 1,
                "delay": _delay(rule),
                "condition": _text(rule.get("condition")),
                "notify_type": _text(rule.get("notifyType")),
                "recipient": _recipient(recipient),
                "recipient_type": _text(recipient.get("type")),
                "recipient_id": _text(recipient.get("id")),
            }
        )
    return rows


_RULE_COLUMNS = [
    ("step", "Step"),
    ("delay", "After"),
    ("recipient", "Notify"),
    ("notify_type", "Notify type"),
    ("condition", "Condition"),
]


def get_escalation(ctx: CommandContext) -> CommandResult:
    """Get Escalation: ``GET /v2/escalations/{escalation}?identifierType=name|id``.

    Outputs: ``escalation`` (``data`` as answered: ``{id, name, description, ownerTeam?, rules,
    repeat?}``) and ``rules`` (see ``escalation_rules``).

    Raises:
        errors.NotFoundError: no such escalation (OpsGenie's 404).
        errors.BadResponseError: ``data`` is not an object.
    """
    inputs = ctx.inputs
    kind = inputs.get("identifier_type", "name")
    body = ctx.client.get_escalation(inputs["escalation"], identifier_type=kind)
    escalation = answer_data(body, dict, "escalation")
    rules = escalation_rules(escalation)
    name = _text(escalation.get("name")) or inputs["escalation"]
    owner = escalation.get("ownerTeam") if isinstance(escalation.get("ownerTeam"), dict) else {}
    sentence = f"Escalation {name}"
    if _text(owner.get("name")):
        sentence += f" (team {owner['name']})"
    sentence += f": {len(rules)} rule{'s' if len(rules) != 1 else ''}."
    return CommandResult(
        raw_data=body,
        outputs={"escalation": escalation, "rules": rules},
        readable=f"{sentence}\n\n{markdown_table(rules, _RULE_COLUMNS)}",
    )


def list_escalations(ctx: CommandContext) -> CommandResult:
    """List Escalations: ``GET /v2/escalations``. Output ``escalations``: the list as answered
    (each with its ``rules``).

    Raises:
        errors.BadResponseError: ``data`` is not a list.
    """
    body = ctx.client.list_escalations()
    escalations = answer_data(body, list, "list of escalations")
    rows = []
    for escalation in escalations:
        if not isinstance(escalation, dict):
            continue
        owner = escalation.get("ownerTeam") if isinstance(escalation.get("ownerTeam"), dict) else {}
        steps = [f"{r['delay'] or '?'}: {r['recipient']}" for r in escalation_rules(escalation)]
        rows.append(
            {
                "name": _text(escalation.get("name")),
                "owner": _text(owner.get("name")),
                "rules": join_names(steps, empty="no rule"),
                "id": _text(escalation.get("id")),
            }
        )
    table = markdown_table(
        rows,
        [("name", "Name"), ("owner", "Owner team"), ("rules", "Rules"), ("id", "Id")],
        title="Escalations",
    )
    return CommandResult(raw_data=body, outputs={"escalations": escalations}, readable=table)


COMMANDS = [
    CommandSpec("get_team", get_team),
    CommandSpec("list_teams", list_teams),
    CommandSpec("get_escalation", get_escalation),
    CommandSpec("list_escalations", list_escalations),
]
