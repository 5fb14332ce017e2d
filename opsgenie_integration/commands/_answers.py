"""Helpers the command families share: reading OpsGenie's ``data`` and naming a refused input."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import errors
from ..command import CommandContext
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
