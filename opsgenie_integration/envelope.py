"""The result envelope every command returns (``schemas/envelope.schema.json``).

``{"command", "return_data": "Successful"|"Failed", "raw_data", "error", ...command outputs}``;
on failure ``error`` is the error tab: ``failure_indicator``, ``status_code``, ``message``, ``text``,
``type``, ``retryable``, ``hint``, ``request_id``, ``code``, ``errors``.
"""

from __future__ import annotations

import pickle
from typing import Any, Dict, Iterable, Optional

from .errors import OpsGenieIntegrationError

SUCCESSFUL = "Successful"
FAILED = "Failed"
TEST_CONNECTION = "Test Connection"
REDACTED = "[REDACTED]"


def failure_indicator(command: str) -> str:
    """``<Command> failed.``; for Test Connection ``Test Connection failed. Failed to check the connector.``"""
    if command == TEST_CONNECTION:
        return "Test Connection failed. Failed to check the connector."
    return f"{command} failed."


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def error_text(command: str, status_code: Optional[int], message: str, hint: Optional[str]) -> str:
    """``Get Schedules failed. Status Code: 401. Message: Could not authenticate.`` (+ the hint)."""
    parts = [failure_indicator(command)]
    if status_code is not None:
        parts.append(f"Status Code: {status_code}.")
    parts.append(f"Message: {_sentence(message)}")
    if hint:
        parts.append(_sentence(hint))
    return " ".join(parts)


def success(command: str, raw_data: Any, outputs: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A Successful envelope with the command's outputs beside the standard keys."""
    return _with_outputs({"command": command, "return_data": SUCCESSFUL, "raw_data": raw_data, "error": None}, outputs)


def _with_outputs(envelope: Dict[str, Any], outputs: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The command's own outputs beside the standard keys (which they never replace)."""
    for key, value in (outputs or {}).items():
        envelope.setdefault(key, value)
    return envelope


def failure(
    command: str,
    exc: OpsGenieIntegrationError,
    raw_data: Any = None,
    outputs: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """A Failed envelope whose error tab describes ``exc``."""
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
    return _with_outputs({"command": command, "return_data": FAILED, "raw_data": raw_data, "error": error}, outputs)


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of ``value`` (JSON-like) where every secret string is replaced by ``[REDACTED]``.

    Secrets shorter than 4 characters are ignored (they would redact ordinary words).
    """
    needles = [s for s in secrets if isinstance(s, str) and len(s) >= 4]
    if not needles:
        return value
    try:
        # pickle writes every str whole, as UTF-8 (no escaping, unlike JSON, where a key holding
        # '"' or '\\' would hide), so a secret inside any string is a substring of its output:
        # one C-speed pass and no copy in the common case. A hit, or a value pickle refuses,
        # takes the exact walk.
        flat = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - whatever pickle refuses, the walk below handles
        return _scrub(value, needles)
    if not any(n.encode("utf-8", "surrogatepass") in flat for n in needles):
        return value
    return _scrub(value, needles)


def _scrub(value: Any, needles: list) -> Any:
    if isinstance(value, str):
        for needle in needles:
            if needle in value:
                value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, dict):
        return {_scrub(k, needles): _scrub(v, needles) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, needles) for v in value]
    return value
