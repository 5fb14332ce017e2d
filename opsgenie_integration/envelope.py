"""The result envelope every command returns (``schemas/envelope.schema.json``).

``{"command", "return_data": "Successful"|"Failed", "raw_data", "error", "readable", ...command
outputs}``; on failure ``error`` is the error tab: ``failure_indicator``, ``status_code``,
``message``, ``text``, ``type``, ``retryable``, ``hint``, ``request_id``, ``code``, ``errors``; a
rate-limited failure adds ``retry_after`` (s) and ``rate_limit_reason``, a proxy failure ``proxy``
(without its password). ``readable`` is what a person reads: the command's own Markdown text (a
sentence, a table), or, for a command that wrote none, ``readable.summarize`` of its outputs; on
failure the error's text.
"""

from __future__ import annotations

from typing import Any

from .errors import OpsGenieIntegrationError
from .readable import summarize

SUCCESSFUL = "Successful"
FAILED = "Failed"
TEST_CONNECTION = "Test Connection"


def failure_indicator(command: str) -> str:
    """``<Command> failed.``; for Test Connection ``Test Connection failed. Failed to check the connector.``"""
    if command == TEST_CONNECTION:
        return "Test Connection failed. Failed to check the connector."
    return f"{command} failed."


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def error_text(command: str, status_code: int | None, message: str, hint: str | None) -> str:
    """``Get Schedules failed. Status Code: 401. Message: Could not authenticate.`` (+ the hint)."""
    parts = [failure_indicator(command)]
    if status_code is not None:
        parts.append(f"Status Code: {status_code}.")
    parts.append(f"Message: {_sentence(message)}")
    if hint:
        parts.append(_sentence(hint))
    return " ".join(parts)


def success(
    command: str,
    raw_data: Any,
    outputs: dict[str, Any] | None = None,
    readable: str | None = None,
) -> dict[str, Any]:
    """A Successful envelope with the command's outputs beside the standard keys; ``readable``
    is the command's own text, else a summary of ``outputs`` (``readable.summarize``)."""
    text = readable if readable and readable.strip() else summarize(command, outputs or {})
    return _with_outputs(
        {
            "command": command,
            "return_data": SUCCESSFUL,
            "raw_data": raw_data,
            "error": None,
            "readable": text,
        },
        outputs,
    )


def _with_outputs(envelope: dict[str, Any], outputs: dict[str, Any] | None) -> dict[str, Any]:
    """The command's own outputs beside the standard keys (which they never replace)."""
    for key, value in (outputs or {}).items():
        envelope.setdefault(key, value)
    return envelope


def failure(
    command: str,
    exc: OpsGenieIntegrationError,
    raw_data: Any = None,
    outputs: dict[str, Any] | None = None,
    readable: str | None = None,
) -> dict[str, Any]:
    """A Failed envelope whose error tab describes ``exc``; ``readable`` is the error's text,
    followed by the command's own ``readable`` when it wrote one (Test Connection's table)."""
    error = {
        "failure_indicator": failure_indicator(command),
        "status_code": exc.status_code,
        "message": exc.message,
        "text": error_text(command, exc.status_code, exc.message, exc.hint),
        "type": exc.error_type,
        "retryable": bool(exc.retryable),
        "hint": exc.hint,
        "request_id": exc.request_id,
        "code": exc.code,
        "errors": exc.errors,
    }
    for key, attribute in (
        ("retry_after", "retry_after"),
        ("rate_limit_reason", "reason"),
        ("proxy", "proxy"),
    ):
        value = getattr(exc, attribute, None)
        if value is not None:
            error[key] = value
    text = error["text"]
    if readable and readable.strip():
        text = f"{text}\n\n{readable}"
    return _with_outputs(
        {
            "command": command,
            "return_data": FAILED,
            "raw_data": raw_data,
            "error": error,
            "readable": text,
        },
        outputs,
    )
