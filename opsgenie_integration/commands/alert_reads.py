"""The alert reads beside the actions: Get Alert, List Alert Notes, List Alert Logs, List Alert
Recipients, Count Alerts, Get Request Status.

The alert is named by Alert Identifier and Identifier Type (id by default, alias or tiny), sent as
one percent-encoded path segment with ``identifierType`` always set. Answers are passed through as
OpsGenie sent them (fields it adds later included).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from .. import errors
from ..command import CommandContext, CommandResult, CommandSpec
from . import alert_inputs as parse
from ._answers import answer_data
from .request_tracking import get_request_status, not_processed, says_not_processed


def _alert_params(inputs: dict[str, Any]) -> dict[str, Any]:
    return {"identifierType": parse.identifier_type(inputs.get("identifier_type"))}


def get_alert(ctx: CommandContext) -> CommandResult:
    """Get Alert: ``GET /v2/alerts/{identifier}?identifierType=``. Output ``alert``: ``data``.

    Raises:
        errors.NotFoundError: no such alert; errors.BadResponseError: ``data`` is not an object.
    """
    inputs = ctx.inputs
    body = ctx.client.request("GET", ["alerts", inputs["identifier"]], params=_alert_params(inputs))
    return CommandResult(raw_data=body, outputs={"alert": answer_data(body, dict, "alert")})


def _next_offset(body: dict) -> str | None:
    paging = body.get("paging")
    link = paging.get("next") if isinstance(paging, dict) else None
    if not isinstance(link, str):
        return None
    values = parse_qs(urlsplit(link).query).get("offset")
    return values[0] if values else None


def _paged(what: str, segment: str) -> Any:
    def handler(ctx: CommandContext) -> CommandResult:
        inputs = ctx.inputs
        params = {
            **_alert_params(inputs),
            "limit": inputs.get("limit"),
            "order": inputs.get("order"),
            "offset": inputs.get("offset"),
            "direction": inputs.get("direction"),
        }
        body = ctx.client.request("GET", ["alerts", inputs["identifier"], segment], params=params)
        items = answer_data(body, list, f"list of {what}")
        return CommandResult(
            raw_data=body, outputs={what: items, "next_offset": _next_offset(body)}
        )

    handler.__name__ = f"list_alert_{what}"
    handler.__doc__ = (
        f"List Alert {what.title()}: ``GET /v2/alerts/{{identifier}}/{segment}?identifierType="
        f"&limit=&order=&offset=&direction=``. Outputs ``{what}`` (``data``) and ``next_offset`` "
        "(give it as Offset for the next page; None on the last page)."
    )
    return handler


list_alert_notes = _paged("notes", "notes")
list_alert_logs = _paged("logs", "logs")


def list_alert_recipients(ctx: CommandContext) -> CommandResult:
    """List Alert Recipients: ``GET /v2/alerts/{identifier}/recipients?identifierType=``.
    Output ``recipients``: ``data`` (``[{user: {id, username}, state, method, ...}]``)."""
    inputs = ctx.inputs
    body = ctx.client.request(
        "GET", ["alerts", inputs["identifier"], "recipients"], params=_alert_params(inputs)
    )
    items = answer_data(body, list, "list of recipients")
    return CommandResult(raw_data=body, outputs={"recipients": items})


def count_alerts(ctx: CommandContext) -> CommandResult:
    """Count Alerts: ``GET /v2/alerts/count?query=``. Output ``count`` (int).

    Raises:
        errors.BadResponseError: ``data.count`` is not an integer.
    """
    body = ctx.client.count_alerts(query=(ctx.inputs.get("query") or "").strip() or None)
    data = answer_data(body, dict, "count")
    count = data.get("count")
    if not isinstance(count, int) or isinstance(count, bool):
        raise errors.BadResponseError(
            "OpsGenie's count answer has no integer data.count.", status_code=200
        )
    return CommandResult(raw_data=body, outputs={"count": count})


def get_request_status_command(ctx: CommandContext) -> CommandResult:
    """Get Request Status: ``GET /v2/alerts/requests/{requestId}``, once.

    Outputs: ``processed`` (False while OpsGenie answers not processed yet: then Successful),
    ``request_status`` (``data``), ``is_success``, ``status``, ``alert_id``, ``alias``.
    ``isSuccess: false`` is still Successful here: the command read the status it was asked for.
    """
    request_id = ctx.inputs["request_id"].strip()
    try:
        body = get_request_status(ctx.client, request_id)
    except errors.NotFoundError as exc:
        if not not_processed(exc):
            raise
        outputs = {"processed": False, "request_status": None, "is_success": None}
        outputs.update(status=None, alert_id=None, alias=None, request_id=request_id)
        return CommandResult(raw_data=exc.body, outputs=outputs)
    data = answer_data(body, dict, "request status")
    outputs = {
        "processed": not says_not_processed(data),
        "request_status": data,
        "is_success": data.get("isSuccess"),
        "status": data.get("status"),
        "alert_id": data.get("alertId"),
        "alias": data.get("alias"),
        "request_id": request_id,
    }
    return CommandResult(raw_data=body, outputs=outputs)


COMMANDS = [
    CommandSpec("get_alert", get_alert),
    CommandSpec("list_alert_notes", list_alert_notes),
    CommandSpec("list_alert_logs", list_alert_logs),
    CommandSpec("list_alert_recipients", list_alert_recipients),
    CommandSpec("count_alerts", count_alerts),
    CommandSpec("get_request_status", get_request_status_command),
]
