"""The alert writes: Create Alert, Delete Alert and the alert actions.

Every write answers 202 and is tracked (``request_tracking``) within the connection's Request
Wait. A command acting on an alert names it by Alert Identifier and Identifier Type (``id`` by
default, ``alias`` or ``tiny``); the identifier travels as one percent-encoded path segment and
``identifierType`` is always sent. ``user``, ``source`` and ``note`` are sent only when given.

A write is never retried automatically once it may have reached OpsGenie (only a 429 and a
connection that failed before sending are); a 5xx or a timeout is reported as "may have been
applied" with the requestId when there is one (``errors.OutcomeUnknownError``). Create Alert's
Alias is OpsGenie's idempotency key: an open alert with the same alias has its count raised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..command import CommandContext, CommandResult, CommandSpec
from ..times import utc_now
from . import alert_inputs as parse
from ._answers import user_time
from .request_tracking import write_result

Body = dict[str, Any]


def _common(inputs: dict[str, Any], names: tuple[str, ...] = ("user", "source", "note")) -> Body:
    return {name: inputs[name] for name in names if inputs.get(name) is not None}


def _alert_params(inputs: dict[str, Any]) -> dict[str, Any]:
    return {"identifierType": parse.identifier_type(inputs.get("identifier_type"))}


def create_alert(ctx: CommandContext) -> CommandResult:
    """Create Alert: ``POST /v2/alerts`` with the given fields, then the request status.

    Outputs (see ``write_result``): ``alert_id`` and ``alias`` of the new alert, or of the open
    alert with the same alias whose count OpsGenie raised instead.

    Raises:
        errors.InputError: a bad responder, visibleTo, tag, action or details input.
    """
    inputs = ctx.inputs
    body: Body = {"message": inputs["message"]}
    for name in ("alias", "description", "entity", "priority"):
        if inputs.get(name) is not None:
            body[name] = inputs[name]
    if inputs.get("responders") is not None:
        body["responders"] = parse.recipients(inputs["responders"], "Responders", "responders")
    if inputs.get("visible_to") is not None:
        body["visibleTo"] = parse.recipients(
            inputs["visible_to"], "Visible To", "visible_to", parse.VISIBLE_TO_TYPES
        )
    if inputs.get("actions") is not None:
        body["actions"] = parse.text_list(
            inputs["actions"],
            "Actions",
            "actions",
            parse.MAX_ACTIONS,
            parse.MAX_ACTION_LENGTH,
            "action",
        )
    if inputs.get("tags") is not None:
        body["tags"] = parse.text_list(
            inputs["tags"], "Tags", "tags", parse.MAX_TAGS, parse.MAX_TAG_LENGTH
        )
    if inputs.get("details") is not None:
        body["details"] = parse.details(inputs["details"], "Details", "details")
    body.update(_common(inputs))
    accepted = ctx.client.request("POST", ["alerts"], body=body)
    return write_result(ctx.client, accepted, "Create Alert")


def delete_alert(ctx: CommandContext) -> CommandResult:
    """Delete Alert: ``DELETE /v2/alerts/{identifier}?identifierType=&user=&source=``."""
    inputs = ctx.inputs
    params = {**_alert_params(inputs), **_common(inputs, ("user", "source"))}
    accepted = ctx.client.request("DELETE", ["alerts", inputs["identifier"]], params=params)
    return write_result(ctx.client, accepted, "Delete Alert")


def _action(
    name: str, segment: str, extra: Callable[[CommandContext], Body] | None = None
) -> Callable[[CommandContext], CommandResult]:
    """A handler posting ``{user?, source?, note?, **extra(ctx)}`` to
    ``POST /v2/alerts/{identifier}/<segment>?identifierType=``."""

    def handler(ctx: CommandContext) -> CommandResult:
        inputs = ctx.inputs
        body = _common(inputs)
        if extra is not None:
            body.update(extra(ctx))
        accepted = ctx.client.request(
            "POST",
            ["alerts", inputs["identifier"], segment],
            params=_alert_params(inputs),
            body=body,
        )
        return write_result(ctx.client, accepted, name)

    handler.__name__ = name.lower().replace(" ", "_")
    handler.__doc__ = f"{name}: ``POST /v2/alerts/{{identifier}}/{segment}?identifierType=``."
    return handler


def _remove(
    name: str, segment: str, param: str, title: str, input_id: str
) -> Callable[[CommandContext], CommandResult]:
    """A handler for ``DELETE /v2/alerts/{identifier}/<segment>?identifierType=&<param>=a,b``
    (``user``, ``source``, ``note`` as query parameters when given)."""

    def handler(ctx: CommandContext) -> CommandResult:
        inputs = ctx.inputs
        values = parse.text_list(
            inputs[input_id], title, input_id, 1000, 1000, "tag" if param == "tags" else "key"
        )
        if any("," in v for v in values):
            raise parse.input_error(title, input_id, "a value cannot contain a comma")
        params = {**_alert_params(inputs), param: ",".join(values), **_common(inputs)}
        accepted = ctx.client.request(
            "DELETE", ["alerts", inputs["identifier"], segment], params=params
        )
        return write_result(ctx.client, accepted, name)

    handler.__name__ = name.lower().replace(" ", "_")
    handler.__doc__ = f"{name}: ``DELETE /v2/alerts/{{identifier}}/{segment}?{param}=``."
    return handler


def _snooze(ctx: CommandContext) -> Body:
    now = utc_now()
    moment = user_time(ctx, "end_time", "Snooze Until", now)  # Date Format and Time Zone apply
    return {"endTime": parse.future_time(moment, "Snooze Until", "end_time", now)}


def _escalation(ctx: CommandContext) -> Body:
    value = ctx.inputs["escalation"].strip()
    key = "id" if parse.looks_like_id(value) else "name"
    return {"escalation": {"type": "escalation", key: value}}  # type: the contract requires it


def _owner(ctx: CommandContext) -> Body:
    value = ctx.inputs["owner"].strip()
    key = "id" if parse.looks_like_id(value) else "username"
    return {"owner": {"type": "user", key: value}}


def _responder(ctx: CommandContext) -> Body:
    value = ctx.inputs["responder"]
    if isinstance(value, str) and value.strip().startswith("{"):
        found = parse.recipients(value, "Responder", "responder")
        if len(found) != 1:
            raise parse.input_error("Responder", "responder", "names more than one responder")
        return {"responder": found[0]}
    return {"responder": parse.recipient(value, "Responder", "responder")}


def _tags(ctx: CommandContext) -> Body:
    tags = parse.text_list(ctx.inputs["tags"], "Tags", "tags", parse.MAX_TAGS, parse.MAX_TAG_LENGTH)
    return {"tags": tags}


def _details(ctx: CommandContext) -> Body:
    return {"details": parse.details(ctx.inputs["details"], "Details", "details")}


def _note_only(ctx: CommandContext) -> Body:
    return {"note": ctx.inputs["note"]}


acknowledge_alert = _action("Acknowledge Alert", "acknowledge")
unacknowledge_alert = _action("Unacknowledge Alert", "unacknowledge")
close_alert = _action("Close Alert", "close")
snooze_alert = _action("Snooze Alert", "snooze", _snooze)
escalate_alert = _action("Escalate Alert", "escalate", _escalation)
assign_alert = _action("Assign Alert", "assign", _owner)
add_responder = _action("Add Responder", "responders", _responder)
add_note = _action("Add Note", "notes", _note_only)
add_tags = _action("Add Tags", "tags", _tags)
add_details = _action("Add Details", "details", _details)
remove_tags = _remove("Remove Tags", "tags", "tags", "Tags", "tags")
remove_details = _remove("Remove Details", "details", "keys", "Keys", "keys")

COMMANDS = [
    CommandSpec("create_alert", create_alert),
    CommandSpec("delete_alert", delete_alert),
    CommandSpec("acknowledge_alert", acknowledge_alert),
    CommandSpec("unacknowledge_alert", unacknowledge_alert),
    CommandSpec("close_alert", close_alert),
    CommandSpec("snooze_alert", snooze_alert),
    CommandSpec("escalate_alert", escalate_alert),
    CommandSpec("assign_alert", assign_alert),
    CommandSpec("add_responder", add_responder),
    CommandSpec("add_note", add_note),
    CommandSpec("add_tags", add_tags),
    CommandSpec("remove_tags", remove_tags),
    CommandSpec("add_details", add_details),
    CommandSpec("remove_details", remove_details),
]
