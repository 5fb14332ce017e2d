"""Asynchronous request tracking: what happened to a write OpsGenie answered 202.

OpsGenie queues every alert write and answers ``202 {"result", "took", "requestId"}``; the outcome
is read from ``GET /v2/alerts/requests/{requestId}``. ``track`` polls it with backoff, bounded by
the connection's Request Wait (s; 0 = do not wait), and only while OpsGenie says the request is not
processed yet: a 404 with ``X-Opsgenie-Errortype: RequestNotProcessed``, or a 200 whose ``data``
has no ``isSuccess`` and whose ``status`` says not processed. Any other answer ends the wait.

``write_result`` turns the outcome into the command's result:

- processed, ``isSuccess: true``: Successful, with the alert's id and alias;
- processed, ``isSuccess: false``: Failed (``request_failed``) carrying OpsGenie's status text;
- still not processed when Request Wait runs out: Successful with ``request_state: "pending"``
  and a note naming the requestId (never a false failure);
- the status could not be read (no Read right, a 404 without the error type, an outage):
  Successful with ``request_state: "unconfirmed"`` and the reason, since OpsGenie accepted it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import errors
from ..client import OpsGenieClient
from ..command import CommandResult

NOT_PROCESSED_TYPE = "RequestNotProcessed"
FIRST_POLL_S = 0.15  # first look, s after the 202 (OpsGenie usually processes within a second)
BACKOFF = 1.6  # each later gap is this much longer...
MAX_GAP_S = 2.0  # ...up to this
_sleep = time.sleep  # looked up at each call (tests replace it)
_SAYS_NOT_PROCESSED = re.compile(r"\bnot\s+(yet\s+)?(been\s+)?processed\b", re.IGNORECASE)


@dataclass
class Tracking:
    """What polling found: ``state`` processed | pending | unconfirmed; ``status`` the answer's
    ``data`` once processed; ``polls`` status requests sent; ``waited`` seconds since the first
    poll was planned; ``answers`` every status answer body (raw data); ``problem`` why the status
    could not be read (unconfirmed)."""

    state: str
    status: dict[str, Any] | None = None
    polls: int = 0
    waited: float = 0.0
    answers: list[Any] = field(default_factory=list)
    problem: errors.OpsGenieIntegrationError | None = None


def not_processed(exc: errors.OpsGenieIntegrationError) -> bool:
    """True for OpsGenie's "not processed yet" answer (404 with the error-type header)."""
    return (
        isinstance(exc, errors.NotFoundError)
        and getattr(exc, "opsgenie_error_type", None) == NOT_PROCESSED_TYPE
    )


def says_not_processed(data: Any) -> bool:
    """True for a 200 whose ``data`` has no ``isSuccess`` and whose ``status`` says not processed."""
    if not isinstance(data, dict) or isinstance(data.get("isSuccess"), bool):
        return False
    return isinstance(data.get("status"), str) and bool(_SAYS_NOT_PROCESSED.search(data["status"]))


def get_request_status(client: OpsGenieClient, request_id: str) -> dict:
    """``GET /v2/alerts/requests/{requestId}``: OpsGenie's whole answer (``data``: ``{action,
    processedAt, integrationId, isSuccess, status, alertId, alias}``). Raises as ``client.request``."""
    return client.request("GET", ["alerts", "requests", request_id])


def track(
    client: OpsGenieClient,
    request_id: str,
    wait: float,
    *,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Tracking:
    """Poll the request status of ``request_id`` for at most ``wait`` seconds (see the module).
    ``sleep`` waits between polls (default ``time.sleep``)."""
    sleep = sleep or _sleep
    started = clock()
    deadline = started + max(0.0, wait)
    gap = FIRST_POLL_S
    found = Tracking("pending")
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(gap, remaining))
        gap = min(gap * BACKOFF, MAX_GAP_S)
        found.polls += 1
        try:
            body = get_request_status(client, request_id)
        except errors.OpsGenieIntegrationError as exc:
            if not_processed(exc):
                found.answers.append(exc.body)
                continue
            found.state, found.problem = "unconfirmed", exc
            found.answers.append(exc.body)
            break
        found.answers.append(body)
        data = body.get("data")
        if says_not_processed(data):
            continue
        if isinstance(data, dict) and isinstance(data.get("isSuccess"), bool):
            found.state, found.status = "processed", data
        else:
            found.state = "unconfirmed"
            found.problem = errors.BadResponseError(
                "OpsGenie's request status has no isSuccess.",
                status_code=200,
                request_id=request_id,
            )
        break
    found.waited = round(clock() - started, 3)
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def write_result(client: OpsGenieClient, accepted: dict, what: str) -> CommandResult:
    """The result of a write OpsGenie answered 202 with ``accepted`` (``what``: the action, for
    messages), after tracking its request within the connection's Request Wait.

    Outputs: ``request_id``, ``request_state`` (processed | pending | unconfirmed), ``is_success``
    (bool or None), ``status`` (OpsGenie's text or None), ``alert_id``, ``alias``, ``action``,
    ``status_polls``, ``waited_seconds``, ``note`` (what to do when not processed).

    Raises:
        errors.BadResponseError: the 202 carries no requestId.
    """
    request_id = _text(accepted.get("requestId"))
    if not request_id:
        raise errors.BadResponseError(
            f"OpsGenie accepted the {what} request but its answer has no requestId.",
            status_code=202,
            hint="Check the Server URL: something other than OpsGenie may have answered.",
        )
    wait = float(getattr(client, "request_wait", 10.0))
    found = track(client, request_id, wait)
    status = found.status or {}
    outputs: dict[str, Any] = {
        "request_id": request_id,
        "request_state": found.state,
        "is_success": status.get("isSuccess") if found.status else None,
        "status": _text(status.get("status")),
        "alert_id": _text(status.get("alertId")) or None,
        "alias": _text(status.get("alias")) or None,
        "action": _text(status.get("action")),
        "status_polls": found.polls,
        "waited_seconds": found.waited,
        "note": None,
    }
    check = f"check Get Request Status with requestId {request_id}"
    if found.state == "pending":
        outputs["note"] = (
            f"OpsGenie accepted the {what} request but had not processed it after "
            f"{found.waited:g} s (Request Wait {wait:g} s); it may still succeed or fail: {check}."
        )
    elif found.state == "unconfirmed":
        reason = found.problem.message if found.problem else "no status"
        outputs["note"] = (
            f"OpsGenie accepted the {what} request; its outcome could not be read ({reason}); "
            f"{check}."
        )
    raw = {"accepted": accepted, "request_status": found.answers[-1] if found.answers else None}
    if found.state == "processed" and status.get("isSuccess") is False:
        text = _text(status.get("status")) or "no reason given"
        failure = errors.RequestFailedError(
            f"OpsGenie processed the {what} request and reports it failed: {text}",
            status_code=200,
            request_id=request_id,
            body=found.answers[-1] if found.answers else None,
            hint="The request was applied to nothing; correct the inputs and run it again.",
        )
        return CommandResult(raw_data=raw, outputs=outputs, error=failure)
    return CommandResult(raw_data=raw, outputs=outputs)
