"""``opsgenie-integration health-check``: Test Connection on a schedule, with notifications.

```
opsgenie-integration health-check --interval MINUTES [--count N] [--connection FILE | --sandbox]
    [--notify-each-failure] [--notify-timeout S]
    [--smtp-host H [--smtp-port P] [--smtp-starttls] [--smtp-user U --smtp-password-ref REF]
     --mail-from A --mail-to B...]
    [--webhook URL]... [--exec "COMMAND"]...
```

Every ``--interval`` minutes (a float; the platform's settings count in minutes) it runs Test
Connection, writes one line per result on stderr and notifies on every change of state: passed to
failed (or a first check that fails) and failed to passed; with ``--notify-each-failure`` also on
every further failed check. Notifiers: e-mail over SMTP, a webhook POST and a command run without a
shell; each gets the Test Connection envelope (already scrubbed of the API key) with a
``health_check`` key added (see ``Notification.payload``). A notifier that fails is reported on
stderr and counted; it never stops the other notifiers or the loop.

At the end (``--count`` reached, SIGINT or SIGTERM) it prints one JSON summary line on stdout:
``{"checks", "passed", "failed", "state_changes", "notifications_sent", "notifications_failed",
"last_result", "stopped_by"}``. Exit status: 0 when the last check passed, 1 otherwise, 2 for a
usage error.

The connection is resolved again for every check (a rotated key or vault secret is picked up; an
unresolvable reference is a failed check like any other).
"""

from __future__ import annotations

import argparse
import email.utils
import json
import math
import os
import shlex
import signal
import smtplib
import ssl
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Protocol,
    TextIO,
)
from urllib.parse import urlsplit

from . import __version__
from . import envelope as env

if TYPE_CHECKING:  # pragma: no cover
    from .integration import Integration

TEST_CONNECTION = "Test Connection"
PASSED = "passed"
FAILED = "failed"

#: Notification events.
EVENT_FAILED = "failed"  # passed -> failed, or the first check failed
EVENT_RECOVERED = "recovered"  # failed -> passed
EVENT_STILL_FAILING = "still_failing"  # another failed check (only with notify_each_failure)

DEFAULT_NOTIFY_TIMEOUT = 10.0  # s, per notification (SMTP session, webhook POST, command)
USER_AGENT = f"opsgenie-integration-health-check/{__version__}"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scrub_text(text: str, secrets: Iterable[str]) -> str:
    scrubbed = env.scrub(text, list(secrets))
    return scrubbed if isinstance(scrubbed, str) else str(scrubbed)


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
class CheckResult:
    """One Test Connection: its 1-based ``number``, when it started (``checked_at``, UTC), how long
    it took (``seconds``) and its (scrubbed) ``envelope``."""

    number: int
    checked_at: datetime
    seconds: float
    envelope: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.envelope.get("return_data") == env.SUCCESSFUL

    @property
    def state(self) -> str:
        return PASSED if self.passed else FAILED


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
    """

    event: str
    state: str
    previous_state: str | None
    check: int
    checked_at: datetime
    consecutive_failures: int
    server_url: str | None
    envelope: dict[str, Any]

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
            "checked_at": _iso(self.checked_at),
            "consecutive_failures": self.consecutive_failures,
            "server_url": self.server_url,
        }
        return payload

    def subject(self) -> str:
        """A one-line summary, the e-mail's subject."""
        where = urlsplit(self.server_url).hostname if self.server_url else None
        where = f" ({where})" if where else ""
        if self.event == EVENT_RECOVERED:
            return f"OpsGenie connection recovered{where}: Test Connection passed"
        if self.event == EVENT_STILL_FAILING:
            return (
                f"OpsGenie connection still failing{where}: "
                f"{self.consecutive_failures} failed checks in a row"
            )
        return f"OpsGenie connection FAILED{where}: Test Connection failed"

    def text(self) -> str:
        """A plain-text report: what happened, the error, what each command can do, the JSON."""
        lines = [
            f"{self.subject()}.",
            "",
            (
                f"Check {self.check} at {_iso(self.checked_at)} of {self.server_url or 'the connection'}: "
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
        return "\n".join(lines)


class NotificationError(Exception):
    """A notifier could not deliver; the message says why (never a secret)."""


class Notifier(Protocol):
    """Delivers a ``Notification``. ``name`` describes it for logs without secrets; ``send``
    raises any exception when delivery failed."""

    name: str

    def send(self, notification: Notification) -> None: ...


class EmailNotifier:
    """E-mail over SMTP (``smtplib``): plain-text report, recipients ``mail_to``.

    Args:
        host, port: the SMTP server.
        mail_from: the envelope and header sender; mail_to: recipients (at least one).
        starttls: upgrade with STARTTLS before anything else (refuses to go on in clear text when
            the server does not offer it).
        user, password: log in when ``user`` is given (the password already resolved).
        timeout: s, for each socket operation.
        ssl_context: for STARTTLS; default ``ssl.create_default_context()`` (verifies the server).

    ``send`` raises ``smtplib.SMTPException`` or ``OSError`` (refused, timed out), or
    ``NotificationError`` when a recipient was refused.
    """

    def __init__(
        self,
        host: str,
        port: int,
        mail_from: str,
        mail_to: Sequence[str],
        *,
        starttls: bool = False,
        user: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_NOTIFY_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not mail_to:
            raise ValueError("at least one recipient is needed")
        self.host, self.port = host, int(port)
        self.mail_from, self.mail_to = mail_from, list(mail_to)
        self.starttls, self.user, self._password = starttls, user, password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.name = f"e-mail via {host}:{self.port} to {', '.join(self.mail_to)}"

    def message(self, notification: Notification) -> EmailMessage:
        """The e-mail for ``notification``."""
        message = EmailMessage()
        message["Subject"] = notification.subject()
        message["From"] = self.mail_from
        message["To"] = ", ".join(self.mail_to)
        message["Date"] = email.utils.format_datetime(notification.checked_at)
        message["Message-ID"] = email.utils.make_msgid(domain="opsgenie-integration.local")
        message["X-OpsGenie-Health-Event"] = notification.event
        message.set_content(notification.text())
        return message

    def send(self, notification: Notification) -> None:
        message = self.message(notification)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self._password or "")
            refused = smtp.send_message(message, from_addr=self.mail_from, to_addrs=self.mail_to)
        if refused:
            raise NotificationError(f"recipients refused: {', '.join(sorted(refused))}")


class WebhookNotifier:
    """POSTs ``Notification.payload()`` as JSON to ``url`` (requests; one attempt, no retries,
    no redirects). ``timeout``: s, connect and read. ``send`` raises ``NotificationError`` for a
    status other than 2xx or no answer; its message never shows the URL's path or query (a
    webhook URL often carries a token)."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_NOTIFY_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {safe_url(url)}")
        self.url = url
        self.timeout = timeout
        self.name = f"webhook {safe_url(url)}"

    def send(self, notification: Notification) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        body = json.dumps(notification.payload(), ensure_ascii=False, default=str).encode("utf-8")
        with requests.Session() as session:
            session.mount("http://", HTTPAdapter(max_retries=0))
            session.mount("https://", HTTPAdapter(max_retries=0))
            try:
                response = session.post(
                    self.url,
                    data=body,
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "User-Agent": USER_AGENT,
                        "X-OpsGenie-Health-Event": notification.event,
                    },
                    timeout=(min(self.timeout, 5.0), self.timeout),
                    allow_redirects=False,
                )
            except requests.Timeout:
                raise NotificationError(f"no answer within {self.timeout:g} s") from None
            except requests.exceptions.SSLError:
                raise NotificationError("the TLS handshake failed (certificate?)") from None
            except requests.ConnectionError:
                raise NotificationError("cannot connect (refused, reset or unknown host)") from None
            except requests.RequestException as exc:
                raise NotificationError(f"the request failed ({type(exc).__name__})") from None
        if not 200 <= response.status_code < 300:
            raise NotificationError(f"the webhook answered HTTP {response.status_code}")


class CommandNotifier:
    """Runs a command (no shell) with ``Notification.payload()`` as JSON on its stdin.

    Args:
        command: a command line, split with ``shlex`` (POSIX rules).
        timeout: s; the command is killed when it runs longer.
        secrets: strings the child's environment must not carry: variables whose value contains
            one of them (``OPSGENIE_API_KEY``, the variable an ``env:`` reference names) are removed.
            Read again at every ``send`` (the set may grow).

    The child also gets ``OPSGENIE_HEALTH_EVENT`` (failed / recovered / still_failing),
    ``OPSGENIE_HEALTH_STATE`` and ``OPSGENIE_HEALTH_CHECK``. Its stdout and stderr are captured,
    never mixed into ours. ``send`` raises ``NotificationError`` when it cannot be run (not found,
    not executable), runs longer than ``timeout`` or exits with a non-zero status; the message
    never shows the arguments (they may hold a token).

    Raises (constructor):
        ValueError: the command line is empty or its quotes do not balance.
    """

    def __init__(
        self,
        command: str,
        *,
        timeout: float = DEFAULT_NOTIFY_TIMEOUT,
        secrets: set[str] | None = None,
    ) -> None:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ValueError(f"cannot split the command line ({exc})") from None
        if not argv:
            raise ValueError("the command line is empty")
        self.argv = argv
        self.timeout = timeout
        self.secrets = secrets if secrets is not None else set()
        self.name = f"command {os.path.basename(argv[0])}"

    def environment(self, notification: Notification) -> dict[str, str]:
        """The child's environment: ours without ``OPSGENIE_API_KEY`` and without any variable
        holding a secret, plus the ``OPSGENIE_HEALTH_*`` variables."""
        needles = [s for s in self.secrets if isinstance(s, str) and len(s) >= 4]
        child = {
            name: value
            for name, value in os.environ.items()
            if name != "OPSGENIE_API_KEY" and not any(n in value for n in needles)
        }
        child["OPSGENIE_HEALTH_EVENT"] = notification.event
        child["OPSGENIE_HEALTH_STATE"] = notification.state
        child["OPSGENIE_HEALTH_CHECK"] = str(notification.check)
        return child

    def send(self, notification: Notification) -> None:
        data = json.dumps(notification.payload(), ensure_ascii=False, default=str).encode("utf-8")
        try:
            done = subprocess.run(
                self.argv,
                input=data,
                capture_output=True,
                timeout=self.timeout,
                env=self.environment(notification),
                check=False,
            )
        except subprocess.TimeoutExpired:  # its text would show every argument
            raise NotificationError(f"killed after {self.timeout:g} s") from None
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise NotificationError(f"cannot run {self.argv[0]!r}: {why}") from None
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            detail = f": {_one_line(tail[0], 200)}" if tail[0] else ""
            raise NotificationError(f"exit status {done.returncode}{detail}")


# -- the check -------------------------------------------------------------------------------


class TestConnectionCheck:
    """A callable that runs Test Connection once with ``settings`` and returns its envelope.

    It connects anew each time (a rotated key or vault secret is picked up; an unresolvable
    reference gives a Failed envelope naming the reference) and adds the key, as given and
    resolved, to ``secrets`` so that every later message can be scrubbed of it.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self, integration: Integration, settings: Mapping[str, Any], secrets: set[str] | None = None
    ) -> None:
        self.integration = integration
        self.settings = dict(settings)
        self.secrets = secrets if secrets is not None else set()

    def _remember(self, values: Iterable[Any]) -> None:
        self.secrets.update(v for v in values if isinstance(v, str) and len(v) >= 4)

    def __call__(self) -> dict[str, Any]:
        from .errors import OpsGenieIntegrationError
        from .secrets import literal_secrets

        self._remember(
            literal_secrets(self.settings.get("api_key") or self.settings.get("API Key"))
        )
        try:
            connection = self.integration.connect(self.settings)
        except OpsGenieIntegrationError as exc:
            return env.scrub(env.failure(TEST_CONNECTION, exc), self.secrets)
        self._remember(connection.secrets)
        with connection:
            envelope = self.integration.run(TEST_CONNECTION, {}, connection)
        return env.scrub(envelope, self.secrets)


# -- the loop --------------------------------------------------------------------------------


@dataclass
class Summary:
    """Counts of a health-check run (``as_dict`` is the JSON summary line)."""

    checks: int = 0
    passed: int = 0
    failed: int = 0
    state_changes: int = 0
    notifications_sent: int = 0
    notifications_failed: int = 0
    last_result: str | None = None
    stopped_by: str | None = None
    results: list[CheckResult] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": self.checks,
            "passed": self.passed,
            "failed": self.failed,
            "state_changes": self.state_changes,
            "notifications_sent": self.notifications_sent,
            "notifications_failed": self.notifications_failed,
            "last_result": self.last_result,
            "stopped_by": self.stopped_by,
        }


class HealthCheck:
    """Runs ``check`` every ``interval`` minutes and notifies on changes of state.

    Args:
        check: returns a Test Connection envelope (``TestConnectionCheck``); it must not raise
            (an exception is turned into a failed check all the same).
        interval: minutes between the starts of two checks (> 0; a float). A check that takes
            longer than the interval is followed at once by the next one.
        count: stop after this many checks (None: until ``stop()``).
        notifiers: ``Notifier`` objects, each called in turn for every notification.
        notify_each_failure: also notify every failed check, not only changes of state.
        server_url: shown in notifications.
        secrets: strings scrubbed from every line and notification; may grow while running.
        log: where result lines go (stderr); None: nowhere.
        clock: monotonic seconds (``time.monotonic``); now: wall time, UTC datetime.
        sleep: ``sleep(seconds)``; default sleeps in short slices and returns early after
            ``stop()``. Tests inject one that advances a fake clock.

    Raises:
        ValueError: ``interval`` <= 0 or ``count`` < 1.
    """

    def __init__(
        self,
        check: Callable[[], dict[str, Any]],
        *,
        interval: float,
        count: int | None = None,
        notifiers: Sequence[Notifier] = (),
        notify_each_failure: bool = False,
        server_url: str | None = None,
        secrets: set[str] | None = None,
        log: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not (interval > 0 and math.isfinite(interval)):
            raise ValueError("interval must be a finite number of minutes above 0")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        self.check = check
        self.interval = float(interval)
        self.count = count
        self.notifiers = list(notifiers)
        self.notify_each_failure = notify_each_failure
        self.server_url = server_url
        self.secrets = secrets if secrets is not None else set()
        self.log = log
        self.clock = clock
        self.now = now
        self._stop_requested = False
        self._sleep = sleep or self._wait
        self.summary = Summary()
        self._state: str | None = None
        self._failures_in_a_row = 0

    @property
    def interval_seconds(self) -> float:
        """The interval in s."""
        return self.interval * 60.0

    def stop(self, *_: Any) -> None:
        """Ask the loop to stop after the current check. Safe in a signal handler (it only sets a
        flag: taking a lock there could deadlock with the interrupted main thread)."""
        self._stop_requested = True

    @property
    def stopped(self) -> bool:
        return self._stop_requested

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds`` (s) in slices of 0.2 s, returning early once ``stop()`` was called."""
        deadline = time.monotonic() + seconds
        while not self._stop_requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.2))

    def _line(self, text: str) -> None:
        if self.log is None:
            return
        self.log.write(_scrub_text(f"health-check: {_one_line(text, 2000)}", self.secrets) + "\n")
        self.log.flush()

    def run(self) -> Summary:
        """Check until ``count`` checks ran or ``stop()`` was called; returns the summary."""
        while not self.stopped:
            started = self.clock()
            self.check_once()
            if self.count is not None and self.summary.checks >= self.count:
                self.summary.stopped_by = "count"
                break
            wait = started + self.interval_seconds - self.clock()
            if wait > 0 and not self.stopped:
                self._sleep(wait)
        if self.summary.stopped_by is None:
            self.summary.stopped_by = "signal"
        return self.summary

    def check_once(self) -> CheckResult:
        """Run one check, log its line, update the counts and send the notifications it calls for."""
        number = self.summary.checks + 1
        checked_at = self.now()
        started = self.clock()
        try:
            envelope = self.check()
        except Exception as exc:  # noqa: BLE001 - a check must not kill the loop
            from .errors import OpsGenieIntegrationError

            error = OpsGenieIntegrationError(f"The check itself failed ({type(exc).__name__}).")
            error.error_type = "internal"
            envelope = env.failure(TEST_CONNECTION, error)
        envelope = env.scrub(envelope, self.secrets)
        result = CheckResult(number, checked_at, self.clock() - started, envelope)
        summary = self.summary
        summary.checks = number
        summary.results.append(result)
        summary.last_result = result.state
        if result.passed:
            summary.passed += 1
            self._failures_in_a_row = 0
            self._line(f"{_iso(checked_at)} check {number}: passed ({result.seconds:.2f} s)")
        else:
            summary.failed += 1
            self._failures_in_a_row += 1
            text = (envelope.get("error") or {}).get("text") or "Test Connection failed."
            self._line(
                f"{_iso(checked_at)} check {number}: FAILED ({result.seconds:.2f} s): {text}"
            )
        previous, self._state = self._state, result.state
        changed = previous != result.state if previous is not None else not result.passed
        if changed:
            summary.state_changes += 1
            event = EVENT_RECOVERED if result.passed else EVENT_FAILED
        elif not result.passed and self.notify_each_failure:
            event = EVENT_STILL_FAILING
        else:
            return result
        self.notify(
            Notification(
                event=event,
                state=result.state,
                previous_state=previous,
                check=number,
                checked_at=checked_at,
                consecutive_failures=self._failures_in_a_row,
                server_url=self.server_url,
                envelope=envelope,
            )
        )
        return result

    def notify(self, notification: Notification) -> None:
        """Send ``notification`` by every notifier; each failure is logged and counted."""
        for notifier in self.notifiers:
            try:
                notifier.send(notification)
            except Exception as exc:  # noqa: BLE001 - one notifier must not stop the rest
                self.summary.notifications_failed += 1
                detail = _one_line(str(exc), 300)
                self._line(
                    f"notifying {notification.event} by {notifier.name} failed: "
                    f"{type(exc).__name__}{': ' + detail if detail else ''}"
                )
            else:
                self.summary.notifications_sent += 1
                self._line(f"notified {notification.event} by {notifier.name}")


# -- the command line ------------------------------------------------------------------------


def add_health_check_parser(sub: Any) -> None:
    """Add the ``health-check`` subcommand to the CLI's subparsers."""
    from .cli import add_connection_arguments

    parser = sub.add_parser(
        "health-check",
        help="run Test Connection on a schedule and notify on changes of state",
        description="Run Test Connection every --interval minutes; log each result on stderr; notify "
        "by e-mail, webhook or command on every change of state; print a JSON summary.",
    )
    parser.add_argument(
        "--interval",
        type=float,
        required=True,
        metavar="MINUTES",
        help="minutes between checks (a float, e.g. 0.5)",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=None,
        metavar="N",
        help="stop after N checks (default: run until SIGINT/SIGTERM)",
    )
    add_connection_arguments(parser)
    parser.add_argument(
        "--notify-each-failure",
        action="store_true",
        help="notify every failed check, not only changes of state",
    )
    parser.add_argument(
        "--notify-timeout",
        type=float,
        default=DEFAULT_NOTIFY_TIMEOUT,
        metavar="S",
        help=f"seconds allowed to each notification (default {DEFAULT_NOTIFY_TIMEOUT:g})",
    )
    mail = parser.add_argument_group("e-mail (SMTP)")
    mail.add_argument(
        "--smtp-host", metavar="HOST", help="SMTP server; enables e-mail notifications"
    )
    mail.add_argument(
        "--smtp-port",
        type=int,
        default=None,
        metavar="PORT",
        help="SMTP port (default 587 with --smtp-starttls, else 25)",
    )
    mail.add_argument(
        "--smtp-starttls", action="store_true", help="upgrade the session with STARTTLS"
    )
    mail.add_argument(
        "--smtp-user", metavar="USER", help="log in as USER (needs --smtp-password-ref)"
    )
    mail.add_argument(
        "--smtp-password-ref",
        metavar="REF",
        help="the SMTP password as a secret reference: env:NAME, file:PATH, "
        "keyring:SERVICE/USERNAME or a vault plugin's scheme",
    )
    mail.add_argument("--mail-from", metavar="ADDRESS", help="sender address")
    mail.add_argument(
        "--mail-to",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="recipient; repeat for several",
    )
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="POST the result envelope as JSON to URL; repeat for several",
    )
    parser.add_argument(
        "--exec",
        dest="exec_commands",
        action="append",
        default=[],
        metavar="COMMAND",
        help="run COMMAND (no shell; split like a POSIX shell) with the envelope JSON on "
        "stdin; repeat for several",
    )
    parser.add_argument(
        "--verbose", "-v", action="count", default=0, help="log to stderr (-vv: HTTP debug)"
    )
    parser.set_defaults(handler=cmd_health_check)


def _password_problem(reference: str, exc: Exception) -> str:
    problems = getattr(exc, "problems", None) or [{"message": str(exc)}]
    text = str(problems[0].get("message", "")).replace("API Key (api_key): ", "", 1)
    return f"health-check: --smtp-password-ref {reference!r} cannot be resolved: {text}"


def build_notifiers(
    args: argparse.Namespace, integration: Integration, secrets: set[str], stderr: TextIO
) -> list[Notifier]:
    """The notifiers the command line asks for, in the order e-mail, webhooks, commands.

    Raises:
        cli.UsageError: inconsistent or malformed options; an SMTP password reference that
            cannot be resolved (the message names the reference, never the password).
    """
    from .cli import UsageError
    from .errors import OpsGenieIntegrationError
    from .secrets import split_reference

    timeout = args.notify_timeout
    if not timeout > 0:
        raise UsageError("health-check: --notify-timeout must be above 0")
    notifiers: list[Notifier] = []
    mail_options = [
        name
        for name, value in (
            ("--smtp-port", args.smtp_port),
            ("--smtp-starttls", args.smtp_starttls),
            ("--smtp-user", args.smtp_user),
            ("--smtp-password-ref", args.smtp_password_ref),
            ("--mail-from", args.mail_from),
            ("--mail-to", args.mail_to),
        )
        if value
    ]
    if not args.smtp_host:
        if mail_options:
            verb = "needs" if len(mail_options) == 1 else "need"
            raise UsageError(f"health-check: {', '.join(mail_options)} {verb} --smtp-host")
    else:
        if not args.mail_to or not args.mail_from:
            raise UsageError(
                "health-check: --smtp-host needs --mail-from and at least one --mail-to"
            )
        if bool(args.smtp_user) != bool(args.smtp_password_ref):
            raise UsageError("health-check: --smtp-user and --smtp-password-ref go together")
        password = None
        if args.smtp_password_ref:
            reference = args.smtp_password_ref
            if split_reference(reference) is None:
                raise UsageError(
                    "health-check: --smtp-password-ref must be a reference such as "
                    "env:SMTP_PASSWORD, not the password itself (a command line is "
                    "visible to every user of the host)"
                )
            try:
                password = integration.resolve_secret(reference)
            except OpsGenieIntegrationError as exc:
                raise UsageError(_password_problem(reference, exc)) from None
            secrets.add(password)
            if not args.smtp_starttls and args.smtp_host not in ("localhost", "127.0.0.1", "::1"):
                stderr.write("health-check: warning: the SMTP password is sent without STARTTLS\n")
        port = args.smtp_port or (587 if args.smtp_starttls else 25)
        if not 0 < port < 65536:
            raise UsageError("health-check: --smtp-port must be between 1 and 65535")
        notifiers.append(
            EmailNotifier(
                args.smtp_host,
                port,
                args.mail_from,
                args.mail_to,
                starttls=args.smtp_starttls,
                user=args.smtp_user,
                password=password,
                timeout=timeout,
            )
        )
    for url in args.webhook:
        try:
            notifiers.append(WebhookNotifier(url, timeout=timeout))
        except ValueError as exc:
            raise UsageError(f"health-check: --webhook: {exc}") from None
    for command in args.exec_commands:
        try:
            notifiers.append(CommandNotifier(command, timeout=timeout, secrets=secrets))
        except ValueError as exc:
            raise UsageError(f"health-check: --exec: {exc}") from None
    return notifiers


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def cmd_health_check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``health-check``: see the module docstring. Returns the exit status.

    Raises:
        cli.UsageError: bad options (exit status 2).
    """
    from .cli import ExitStatus, SandboxConnection, UsageError
    from .errors import OpsGenieIntegrationError
    from .integration import Integration
    from .logs import configure_cli_logging

    if not (args.interval > 0 and math.isfinite(args.interval)):
        raise UsageError("health-check: --interval must be above 0 minutes (and finite)")
    if args.count is not None and args.count < 1:
        raise UsageError("health-check: --count must be at least 1")
    redactor = configure_cli_logging(stderr, args.verbose)
    secrets = redactor.secrets  # one set: the log filter and every message share it
    integration = Integration.load()
    notifiers = build_notifiers(args, integration, secrets, stderr)
    health: HealthCheck | None = None
    previous: dict[int, Any] = {}
    try:
        with SandboxConnection(args, stderr) as settings:
            server_url = str(settings.get("server_url") or settings.get("Server URL") or "") or None
            check = TestConnectionCheck(integration, settings, secrets)
            health = HealthCheck(
                check,
                interval=args.interval,
                count=args.count,
                notifiers=notifiers,
                notify_each_failure=args.notify_each_failure,
                server_url=server_url,
                secrets=secrets,
                log=stderr,
            )
            if _in_main_thread():
                previous = {
                    sig: signal.signal(sig, health.stop) for sig in (signal.SIGINT, signal.SIGTERM)
                }
            summary = health.run()
    except OpsGenieIntegrationError as exc:  # an unreadable --connection file
        stderr.write(
            _scrub_text(
                f"health-check: {env.failure(TEST_CONNECTION, exc)['error']['text']}\n", secrets
            )
        )
        summary = health.summary if health else Summary(stopped_by="error")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stdout.write(json.dumps(summary.as_dict()) + "\n")
    stdout.flush()
    return ExitStatus.SUCCESSFUL if summary.last_result == PASSED else ExitStatus.FAILED
