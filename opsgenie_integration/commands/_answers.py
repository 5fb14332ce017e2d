"""Helpers the command families share: reading OpsGenie's ``data`` and naming a refused input."""

from __future__ import annotations

from typing import Any

from .. import errors


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
