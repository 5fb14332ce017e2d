"""What a notifier is given (``Notification``) and what it promises (``Notifier``), with the
limits every notifier shares (``check_notify_timeout``) and ``safe_url`` for naming a webhook."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import urlsplit

from .. import __version__
from ..redact import Redactor
from ..times import utc_now

PASSED = "passed"
FAILED = "failed"

#: Notification events.
EVENT_FAILED = "failed"  # passed -> failed, or the first check failed
EVENT_RECOVERED = "recovered"  # failed -> passed
EVENT_STILL_FAILING = "still_failing"  # another failed check (only with notify_each_failure)

DEFAULT_NOTIFY_TIMEOUT = 10.0  # s, per notification (SMTP session, webhook POST, command)
MAX_NOTIFY_TIMEOUT = 3600.0  # s
MAX_INTERVAL_MINUTES = 7 * 24 * 60.0  # one week
MAX_WEBHOOK_ANSWER_BYTES = 64 * 1024  # read of a webhook's error answer (for its message only)
MAX_SMTP_REPLY_BYTES = 256 * 1024  # every reply of one SMTP session together
MAX_COMMAND_STDERR_BYTES = 4096  # the tail of a command's stderr that is kept
USER_AGENT = f"opsgenie-integration-health-check/{__version__}"


utcnow = utc_now  # the loop's clock (tests replace it)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def one_line(text: str, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_notify_timeout(timeout: Any) -> float:
    """``timeout`` (s) as a float when it is finite, above 0 and at most ``MAX_NOTIFY_TIMEOUT``.

    Raises:
        ValueError: otherwise (an infinite or huge timeout would make every socket call fail).
    """
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        raise ValueError("the notify timeout must be a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= MAX_NOTIFY_TIMEOUT):
        raise ValueError(f"the notify timeout must be above 0 and at most {MAX_NOTIFY_TIMEOUT:g} s")
    return value


def safe_url(url: str) -> str:
    """``url`` for logs: scheme, host and port only (``https://hooks.example.com/…``), since a
    webhook URL's path or query often is itself a secret token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


# -- results and notifications ---------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """What every notifier is given.

    Attributes:
        event: ``failed`` (passed -> failed, or the first check failed), ``recovered``
            (failed -> passed) or ``still_failing`` (a further failure, with notify_each_failure).
        state / previous_state: ``passed`` / ``failed``; ``previous_state`` is None at the first check.
        check: the 1-based number of the check.
        checked_at: when the check started (UTC).
        consecutive_failures: failed checks in a row, this one included (0 when it passed).
        server_url: the connection's Server URL (None when unknown).
        envelope: the Test Connection envelope, scrubbed of the API key.
        redactor: the health check's one ``redact.Redactor``: ``payload``, ``subject`` and
            ``text`` hide its secrets in everything they return (the Server URL as given may
            hold the key, e.g. ``?apiKey=...``).
    """

    event: str
    state: str
    previous_state: str | None
    check: int
    checked_at: datetime
    consecutive_failures: int
    server_url: str | None
    envelope: dict[str, Any]
    redactor: Redactor = field(default_factory=Redactor, repr=False, compare=False)

    def payload(self) -> dict[str, Any]:
        """The envelope with a ``health_check`` key added: ``{"event", "state", "previous_state",
        "check", "checked_at" (ISO 8601 UTC), "consecutive_failures", "server_url"}``. This is
        the webhook's JSON body and the command's stdin."""
        payload = dict(self.envelope)
        payload["health_check"] = {
            "event": self.event,
            "state": self.state,
            "previous_state": self.previous_state,
            "check": self.check,
            "checked_at": iso(self.checked_at),
            "consecutive_failures": self.consecutive_failures,
            "server_url": self.server_url,
        }
        return self.redactor.value(payload)

    def subject(self) -> str:
        """A one-line summary, the e-mail's subject."""
        try:
            where = urlsplit(self.server_url).hostname if self.server_url else None
        except ValueError:  # not a URL at all
            where = None
        where = f" ({where})" if where else ""
        if self.event == EVENT_RECOVERED:
            subject = f"OpsGenie connection recovered{where}: Test Connection passed"
        elif self.event == EVENT_STILL_FAILING:
            subject = (
                f"OpsGenie connection still failing{where}: "
                f"{self.consecutive_failures} failed checks in a row"
            )
        else:
            subject = f"OpsGenie connection FAILED{where}: Test Connection failed"
        return self.redactor.text(subject)

    def text(self) -> str:
        """A plain-text report: what happened, the error, what each command can do, the JSON."""
        lines = [
            f"{self.subject()}.",
            "",
            (
                f"Check {self.check} at {iso(self.checked_at)} of {self.server_url or 'the connection'}: "
                f"{self.state} (before: {self.previous_state or 'no earlier check'})."
            ),
        ]
        error = self.envelope.get("error") or {}
        if error.get("text"):
            lines += ["", str(error["text"])]
        commands = self.envelope.get("commands")
        if isinstance(commands, dict) and commands:
            lines += ["", "What this API key can run:"]
            for name, entry in commands.items():
                if not isinstance(entry, dict):
                    continue
                if entry.get("can_run"):
                    lines.append(f"  {name}: can run ({entry.get('right')})")
                elif entry.get("can_run") is None and "can_run" in entry:
                    lines.append(f"  {name}: {entry.get('reason') or 'not checked'}")
                else:
                    lines.append(
                        f"  {name}: CANNOT run - {entry.get('reason') or entry.get('right')}"
                    )
        lines += [
            "",
            "The result (JSON):",
            json.dumps(self.payload(), indent=2, ensure_ascii=False, default=str),
            "",
        ]
        return self.redactor.text("\n".join(lines))


class NotificationError(Exception):
    """A notifier could not deliver; the message says why (never a secret)."""


class Notifier(Protocol):
    """Delivers a ``Notification``. ``name`` describes it for logs without secrets; ``send``
    raises any exception when delivery failed."""

    name: str

    def send(self, notification: Notification) -> None: ...
