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
stderr and counted; it never stops the other notifiers or the loop. ``--notify-timeout`` bounds
each notification in total time (whatever the other side does: a trickle of SMTP reply lines or
webhook headers is cut off by the watchdog) and memory (capped SMTP replies, webhook answer and
command stderr; a command's stdout is discarded).

At the end (``--count`` reached, SIGINT or SIGTERM) it prints one JSON summary line on stdout:
``{"checks", "passed", "failed", "state_changes", "notifications_sent", "notifications_failed",
"last_result", "stopped_by"}``. Exit status: 0 when the last check passed, 1 otherwise, 2 for a
usage error.

The connection is resolved again for every check (a rotated key or vault secret is picked up; an
unresolvable reference is a failed check like any other).
"""

from __future__ import annotations

import argparse
import dataclasses
import email.utils
import json
import math
import os
import pickle
import selectors
import shlex
import signal
import smtplib
import socket
import ssl
import subprocess
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
from .watchdog import WATCHDOG, pool_classes

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
MAX_NOTIFY_TIMEOUT = 3600.0  # s
MAX_INTERVAL_MINUTES = 7 * 24 * 60.0  # one week
MAX_WEBHOOK_ANSWER_BYTES = 64 * 1024  # read of a webhook's error answer (for its message only)
MAX_SMTP_REPLY_BYTES = 256 * 1024  # every reply of one SMTP session together
MAX_COMMAND_STDERR_BYTES = 4096  # the tail of a command's stderr that is kept
PARTIAL_SECRET = 8  # a run of this many first (or last) characters of a secret is redacted too
USER_AGENT = f"opsgenie-integration-health-check/{__version__}"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _needles(secrets: Iterable[str]) -> list[str]:
    """The secrets worth scrubbing (4 characters or more), longest first."""
    return sorted({s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True)


def _redact_runs(text: str, secret: str) -> str:
    """``text`` without any run of at least ``PARTIAL_SECRET`` characters that starts like
    ``secret`` or ends like it: a message cut short (``...9a0b1c2d...``) must not show the first
    (or last) characters of a key either."""
    size = PARTIAL_SECRET
    if len(secret) <= size:
        return text
    head, tail = secret[:size], secret[-size:]
    start = text.find(head)
    while start != -1:
        end = start + size
        while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
            end += 1
        text = text[:start] + env.REDACTED + text[end:]
        start = text.find(head, start + len(env.REDACTED))
    end = text.find(tail)
    while end != -1:
        stop = end + size  # the run is text[begin:stop], ending like the secret
        begin, matched = end, size
        while begin > 0 and matched < len(secret) and text[begin - 1] == secret[-matched - 1]:
            begin -= 1
            matched += 1
        text = text[:begin] + env.REDACTED + text[stop:]
        end = text.find(tail, begin + len(env.REDACTED))
    return text


def _scrub_text(text: Any, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and any run of its first or last ``PARTIAL_SECRET``
    characters) replaced by ``[REDACTED]``."""
    text = str(text)
    for secret in _needles(secrets):
        if secret in text:
            text = text.replace(secret, env.REDACTED)
        text = _redact_runs(text, secret)
    return text


def _scrub_value(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of ``value`` (JSON-like: dicts, lists, strings) scrubbed like ``_scrub_text``."""
    needles = _needles(secrets)
    if not needles:
        return value
    try:  # the common case, nothing to scrub, in one pass (pickle writes every str whole)
        flat = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        pieces = {p for n in needles for p in (n, n[:PARTIAL_SECRET], n[-PARTIAL_SECRET:])}
        if not any(p.encode("utf-8", "surrogatepass") in flat for p in pieces):
            return value
    except Exception:  # noqa: BLE001, S110 - whatever pickle refuses, the walk handles
        pass
    return _scrub_walk(value, needles)


def _scrub_walk(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        return _scrub_text(value, needles)
    if isinstance(value, dict):
        return {_scrub_walk(k, needles): _scrub_walk(v, needles) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_walk(v, needles) for v in value]
    return value


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
        secrets: strings that ``payload``, ``subject`` and ``text`` scrub from everything they
            return (the Server URL as given may hold the key, e.g. ``?apiKey=...``).
    """

    event: str
    state: str
    previous_state: str | None
    check: int
    checked_at: datetime
    consecutive_failures: int
    server_url: str | None
    envelope: dict[str, Any]
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

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
        return _scrub_value(payload, self.secrets)

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
        return _scrub_text(subject, self.secrets)

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
        return _scrub_text("\n".join(lines), self.secrets)


class NotificationError(Exception):
    """A notifier could not deliver; the message says why (never a secret)."""


class Notifier(Protocol):
    """Delivers a ``Notification``. ``name`` describes it for logs without secrets; ``send``
    raises any exception when delivery failed."""

    name: str

    def send(self, notification: Notification) -> None: ...


class _CountingReader:
    """The SMTP session's reply stream, failing once the replies together exceed a cap (a
    server sending endless ``220-`` continuation lines would otherwise fill the memory)."""

    def __init__(self, inner: Any, smtp: _BoundedSMTP) -> None:
        self._inner, self._smtp = inner, smtp

    def readline(self, size: int = -1) -> bytes:
        line = self._inner.readline(size)
        self._smtp.received += len(line)
        if self._smtp.received > MAX_SMTP_REPLY_BYTES:
            raise NotificationError(
                f"the SMTP server sent more than {MAX_SMTP_REPLY_BYTES // 1024} kB of replies"
            )
        return line

    def close(self) -> None:
        self._inner.close()


class _BoundedSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` whose whole session must end by ``deadline`` (``time.monotonic()``): the
    watchdog shuts the socket down when it has not (a timeout bounds each socket read only, and
    a server may send one reply line after another for ever). Replies are capped in size too.
    Create it without a host, then ``connect``; ``release()`` when done."""

    def __init__(self, deadline: float, timeout: float) -> None:
        self.deadline = deadline
        self.received = 0
        self._guard: socket.socket | None = None
        self._watch: Any = None
        super().__init__(timeout=timeout)  # no host: no connection yet

    @property
    def overdue(self) -> bool:
        return (self._watch is not None and self._watch.fired) or time.monotonic() >= self.deadline

    def connect(self, host: str = "localhost", port: int = 0, source_address: Any = None) -> Any:
        self._host = host  # smtplib sets it only when the constructor connects (STARTTLS needs it)
        return super().connect(host, port, source_address)

    def _get_socket(self, host: Any, port: Any, timeout: Any) -> Any:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no time left")
        sock = super()._get_socket(host, port, min(float(timeout or left), left))
        # A duplicate of the descriptor: shutting it down ends the connection even after STARTTLS
        # has wrapped (and detached) the socket object smtplib holds.
        self._guard = sock.dup()
        self._watch = WATCHDOG.watch(self._guard, max(self.deadline - time.monotonic(), 0.0))
        return sock

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:
            self.file = _CountingReader(self.sock.makefile("rb"), self)
        return super().getreply()

    def release(self) -> None:
        """Close the session and stop watching it."""
        if self._watch is not None:
            WATCHDOG.unwatch(self._watch)
        try:
            self.close()
        finally:
            if self._guard is not None:
                self._guard.close()
                self._guard = None


class EmailNotifier:
    """E-mail over SMTP (``smtplib``): plain-text report, recipients ``mail_to``.

    Args:
        host, port: the SMTP server.
        mail_from: the envelope and header sender; mail_to: recipients (at least one).
        starttls: upgrade with STARTTLS before anything else (refuses to go on in clear text when
            the server does not offer it).
        user, password: log in when ``user`` is given (the password already resolved).
        timeout: s, for the whole SMTP session (connecting, every command, the message).
        ssl_context: for STARTTLS; default ``ssl.create_default_context()`` (verifies the server).

    ``send`` raises ``smtplib.SMTPException`` or ``OSError`` (refused), or ``NotificationError``
    when a recipient was refused, the session did not end within ``timeout`` ("no answer within
    S s") or the server's replies exceeded ``MAX_SMTP_REPLY_BYTES``.

    Raises (constructor):
        ValueError: no recipient; a timeout that is not finite, above 0 and at most
            ``MAX_NOTIFY_TIMEOUT``.
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
        self.timeout = check_notify_timeout(timeout)
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
        smtp = _BoundedSMTP(time.monotonic() + self.timeout, self.timeout)
        try:
            smtp.connect(self.host, self.port)
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self._password or "")
            refused = smtp.send_message(message, from_addr=self.mail_from, to_addrs=self.mail_to)
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError, NotificationError):
                pass  # the message was accepted; a server that does not say goodbye is no failure
        except Exception:
            if smtp.overdue:
                raise NotificationError(f"no answer within {self.timeout:g} s") from None
            raise
        finally:
            smtp.release()
        if refused:
            raise NotificationError(f"recipients refused: {', '.join(sorted(refused))}")


def _pool_classes_until(deadline: float) -> dict[str, type]:
    """The watchdog's urllib3 pool classes (``watchdog.pool_classes``) whose header deadline is
    whatever is left until ``deadline`` (``time.monotonic()``) when the request has been sent."""

    def left(_self: Any) -> float:
        return max(deadline - time.monotonic(), 0.001)

    classes = {}
    for scheme, pool in pool_classes(max(deadline - time.monotonic(), 0.001)).items():
        connection = type(
            pool.ConnectionCls.__name__, (pool.ConnectionCls,), {"header_deadline": property(left)}
        )
        classes[scheme] = type(pool.__name__, (pool,), {"ConnectionCls": connection})
    return classes


def _read_some(response: Any, deadline: float, limit: int) -> bytes:
    """At most ``limit`` bytes of ``response``'s body (as sent, not decoded), read until
    ``deadline`` (``time.monotonic()``) at the latest: the watchdog shuts the socket down then,
    whatever the server does. Whatever goes wrong, what arrived so far."""
    raw = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    watch = (
        WATCHDOG.watch(sock, max(deadline - time.monotonic(), 0.0)) if sock is not None else None
    )
    chunks: list[bytes] = []
    size = 0
    try:
        read1 = getattr(raw, "read1", None)
        while size < limit and time.monotonic() < deadline and not (watch and watch.fired):
            want = min(65536, limit - size)
            chunk = (
                read1(want, decode_content=False)
                if callable(read1)
                else raw.read(want, decode_content=False)
            )
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except Exception:  # noqa: BLE001, S110 - the body only decorates an error message
        pass
    finally:
        if watch is not None:
            WATCHDOG.unwatch(watch)
    return b"".join(chunks)[:limit]


class WebhookNotifier:
    """POSTs ``Notification.payload()`` as JSON to ``url`` (requests; one attempt, no retries,
    no redirects).

    Args:
        url: http(s) URL; its path and query are never shown (a webhook URL often carries a token).
        timeout: s, for the whole exchange: connecting, the status line and headers (the watchdog
            shuts the connection down when they are not complete in time, however they trickle
            in) and, for an error status, the first ``MAX_WEBHOOK_ANSWER_BYTES`` of the body.
            A 2xx answer's body is never read.
        secrets: strings scrubbed from the piece of an error answer shown in the message.

    ``send`` raises ``NotificationError`` for a status other than 2xx (with the start of the
    answer, on one line) or no answer.

    Raises (constructor):
        ValueError: not an http(s) URL; a timeout that is not finite, above 0 and at most
            ``MAX_NOTIFY_TIMEOUT``.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_NOTIFY_TIMEOUT,
        secrets: set[str] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {safe_url(url)}")
        self.url = url
        self.timeout = check_notify_timeout(timeout)
        self.secrets = secrets if secrets is not None else set()
        self.name = f"webhook {safe_url(url)}"

    def _url_parts(self) -> list[str]:
        """The pieces of the URL an answer must not show: its path, query and credentials."""
        parts = urlsplit(self.url)
        pieces = [parts.path, parts.query, parts.fragment, parts.username, parts.password]
        pieces += [p for p in parts.path.split("/") if len(p) >= 4]
        pieces += [
            v for _, _, v in (q.partition("=") for q in parts.query.split("&")) if len(v) >= 4
        ]
        return [p for p in pieces if p and len(p) >= 4 and p != "/"]

    def send(self, notification: Notification) -> None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.poolmanager import ProxyManager

        deadline = time.monotonic() + self.timeout
        body = json.dumps(notification.payload(), ensure_ascii=False, default=str).encode("utf-8")
        classes = _pool_classes_until(deadline)

        class Adapter(HTTPAdapter):
            """The deadline pools directly and through an HTTP(S) proxy (HTTPS_PROXY...)."""

            def proxy_manager_for(self, proxy: Any, **kwargs: Any) -> Any:
                manager = super().proxy_manager_for(proxy, **kwargs)
                if type(manager) is ProxyManager:  # not SOCKS: its pools are its own
                    manager.pool_classes_by_scheme = classes
                return manager

        with requests.Session() as session:
            for prefix in ("http://", "https://"):
                adapter = Adapter(max_retries=0)
                adapter.poolmanager.pool_classes_by_scheme = classes
                session.mount(prefix, adapter)
            try:
                response = session.post(
                    self.url,
                    data=body,
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "User-Agent": USER_AGENT,
                        "X-OpsGenie-Health-Event": notification.event,
                        "Accept-Encoding": "identity",  # the body is read as sent, capped
                    },
                    timeout=(min(self.timeout, 5.0), self.timeout),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.Timeout:
                raise NotificationError(f"no answer within {self.timeout:g} s") from None
            except requests.exceptions.SSLError:
                raise NotificationError("the TLS handshake failed (certificate?)") from None
            except requests.ConnectionError:
                if time.monotonic() >= deadline:  # the watchdog cut a trickle of headers short
                    raise NotificationError(f"no answer within {self.timeout:g} s") from None
                raise NotificationError("cannot connect (refused, reset or unknown host)") from None
            except requests.RequestException as exc:
                raise NotificationError(f"the request failed ({type(exc).__name__})") from None
            try:
                status = response.status_code
                answer = b""
                if not 200 <= status < 300:
                    answer = _read_some(response, deadline, MAX_WEBHOOK_ANSWER_BYTES)
            finally:
                response.close()
        if not 200 <= status < 300:
            shown = _scrub_text(
                answer.decode("utf-8", "replace"), [*self.secrets, *self._url_parts()]
            )
            shown = _one_line(shown, 200)
            raise NotificationError(
                f"the webhook answered HTTP {status}{': ' + shown if shown else ''}"
            )


class CommandNotifier:
    """Runs a command (no shell) with ``Notification.payload()`` as JSON on its stdin.

    Args:
        command: a command line, split with ``shlex`` (POSIX rules).
        timeout: s; the command (its whole process group) is killed when it runs longer.
        secrets: strings the child's environment must not carry: variables whose value contains
            one of them are removed. Read again at every ``send`` (the set may grow).
        variables: names of variables the child must not get whatever their value (the
            variable an ``env:`` reference to the API key names, known even when the connection
            settings are invalid and the reference was never resolved). Read at every ``send``.
            ``OPSGENIE_API_KEY`` is never passed on either.

    The child also gets ``OPSGENIE_HEALTH_EVENT`` (failed / recovered / still_failing),
    ``OPSGENIE_HEALTH_STATE`` and ``OPSGENIE_HEALTH_CHECK``. It runs in a session of its own; its
    stdout is discarded and only the last ``MAX_COMMAND_STDERR_BYTES`` of its stderr are kept
    (a command printing without end costs no memory), never mixed into ours. ``send`` raises
    ``NotificationError`` when it cannot be run (not found, not executable), runs longer than
    ``timeout`` or exits with a non-zero status (with the last line of its stderr); the message
    never shows the arguments (they may hold a token).

    Raises (constructor):
        ValueError: the command line is empty or its quotes do not balance; a timeout that is
            not finite, above 0 and at most ``MAX_NOTIFY_TIMEOUT``.
    """

    def __init__(
        self,
        command: str,
        *,
        timeout: float = DEFAULT_NOTIFY_TIMEOUT,
        secrets: set[str] | None = None,
        variables: set[str] | None = None,
    ) -> None:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ValueError(f"cannot split the command line ({exc})") from None
        if not argv:
            raise ValueError("the command line is empty")
        self.argv = argv
        self.timeout = check_notify_timeout(timeout)
        self.secrets = secrets if secrets is not None else set()
        self.variables = variables if variables is not None else set()
        self.name = f"command {os.path.basename(argv[0])}"

    def environment(self, notification: Notification) -> dict[str, str]:
        """The child's environment: ours without ``OPSGENIE_API_KEY``, the ``variables`` and any
        variable holding a secret, plus the ``OPSGENIE_HEALTH_*`` variables."""
        needles = _needles(self.secrets)
        dropped = {"OPSGENIE_API_KEY", *self.variables}
        child = {
            name: value
            for name, value in os.environ.items()
            if name not in dropped and not any(n in value for n in needles)
        }
        child["OPSGENIE_HEALTH_EVENT"] = notification.event
        child["OPSGENIE_HEALTH_STATE"] = notification.state
        child["OPSGENIE_HEALTH_CHECK"] = str(notification.check)
        return child

    def send(self, notification: Notification) -> None:
        data = json.dumps(notification.payload(), ensure_ascii=False, default=str).encode("utf-8")
        deadline = time.monotonic() + self.timeout
        try:
            child = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=self.environment(notification),
                start_new_session=True,  # its own process group: killed whole on timeout
            )
        except OSError as exc:  # its text would show every argument
            why = exc.strerror or type(exc).__name__
            raise NotificationError(f"cannot run {self.argv[0]!r}: {why}") from None
        try:
            tail = _talk(child, data, deadline)
            returncode = child.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            raise NotificationError(f"killed after {self.timeout:g} s") from None
        finally:
            if child.poll() is None:
                _kill_group(child)
            for pipe in (child.stdin, child.stderr):
                if pipe is not None and not pipe.closed:
                    pipe.close()
        if returncode != 0:
            text = _scrub_text(tail.decode("utf-8", "replace"), self.secrets)
            last = [line for line in text.strip().splitlines() if line.strip()][-1:] or [""]
            detail = f": {_one_line(last[0], 200)}" if last[0] else ""
            raise NotificationError(f"exit status {returncode}{detail}")


def _kill_group(child: subprocess.Popen) -> None:
    """SIGKILL ``child``'s process group (it leads one, see ``start_new_session``) and reap it."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process stuck in the kernel
        pass


def _talk(child: subprocess.Popen, data: bytes, deadline: float) -> bytes:
    """Write ``data`` to ``child``'s stdin and read its stderr, keeping only the last
    ``MAX_COMMAND_STDERR_BYTES`` (from a line start when cut), until both pipes are done, a
    moment after the child exited (a grandchild may hold them open) or until ``deadline``
    (then ``subprocess.TimeoutExpired``). Returns that tail of stderr."""
    assert child.stdin is not None and child.stderr is not None
    stdin, stderr = child.stdin, child.stderr
    tail, cut = b"", False
    offset = 0
    view = memoryview(data)
    with selectors.DefaultSelector() as selector:
        if data:
            os.set_blocking(stdin.fileno(), False)
            selector.register(stdin, selectors.EVENT_WRITE)
        else:
            stdin.close()
        selector.register(stderr, selectors.EVENT_READ)
        exited_at: float | None = None
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                raise subprocess.TimeoutExpired(child.args, 0)
            if child.poll() is not None:
                exited_at = now if exited_at is None else exited_at
                if now - exited_at > 0.2:
                    break
            for key, _ in selector.select(timeout=min(deadline - now, 0.1)):
                if key.fileobj is stdin:
                    try:
                        offset += os.write(stdin.fileno(), view[offset : offset + 65536])
                    except BlockingIOError:
                        continue
                    except OSError:  # BrokenPipeError: it does not read its stdin; fine
                        offset = len(data)
                    if offset >= len(data):
                        selector.unregister(stdin)
                        stdin.close()
                else:
                    chunk = os.read(stderr.fileno(), 65536)
                    if not chunk:
                        selector.unregister(stderr)
                        continue
                    tail += chunk
                    if len(tail) > MAX_COMMAND_STDERR_BYTES:
                        tail, cut = tail[-MAX_COMMAND_STDERR_BYTES:], True
    if cut:  # the first line is a piece of a longer one
        newline = tail.find(b"\n")
        tail = tail[newline + 1 :] if newline != -1 else b""
    return tail


# -- the check -------------------------------------------------------------------------------


class TestConnectionCheck:
    """A callable that runs Test Connection once with ``settings`` and returns its envelope.

    It connects anew each time (a rotated key or vault secret is picked up; an unresolvable
    reference gives a Failed envelope naming the reference) and adds the key, as given and
    resolved, to ``secrets`` so that every later message can be scrubbed of it, even when the
    settings are invalid (validation fails before the reference is resolved: the check then
    resolves it itself, since another setting, such as a Server URL with ``?apiKey=``, may hold
    the key). The names of the variables an ``env:`` reference to the key names go to
    ``variables`` (see ``CommandNotifier``).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        integration: Integration,
        settings: Mapping[str, Any],
        secrets: set[str] | None = None,
        variables: set[str] | None = None,
    ) -> None:
        self.integration = integration
        self.settings = dict(settings)
        self.secrets = secrets if secrets is not None else set()
        self.variables = variables if variables is not None else set()

    def _remember(self, values: Iterable[Any]) -> None:
        self.secrets.update(v for v in values if isinstance(v, str) and len(v) >= 4)

    def _raw_keys(self) -> list[str]:
        """The API Key settings as given (``api_key``, ``API Key``, ... as ``connect`` reads them)."""
        return [
            value
            for name, value in self.settings.items()
            if isinstance(name, str)
            and name.replace("_", " ").strip().casefold() == "api key"
            and isinstance(value, str)
        ]

    def _resolve_anyway(self, raw_keys: list[str]) -> None:
        """Learn the resolved key(s) when ``connect`` failed, perhaps before resolving them."""
        for value in raw_keys:
            try:
                self._remember([self.integration.resolve_secret(value)])
            except Exception:  # noqa: BLE001, S112 - the failed check already says what is wrong
                continue

    def __call__(self) -> dict[str, Any]:
        from .errors import OpsGenieIntegrationError
        from .secrets import literal_secrets, split_reference

        raw_keys = self._raw_keys()
        for value in raw_keys:
            self._remember(literal_secrets(value))
            reference = split_reference(value)
            if reference is not None and reference[0] == "env" and reference[1].strip():
                self.variables.add(reference[1].strip())
        try:
            connection = self.integration.connect(self.settings)
        except OpsGenieIntegrationError as exc:
            self._resolve_anyway(raw_keys)
            return _scrub_value(env.failure(TEST_CONNECTION, exc), self.secrets)
        self._remember(connection.secrets)
        with connection:
            envelope = self.integration.run(TEST_CONNECTION, {}, connection)
        return _scrub_value(envelope, self.secrets)


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
        interval: minutes between the starts of two checks (a float above 0, at most
            ``MAX_INTERVAL_MINUTES``). A check that takes longer than the interval is followed at
            once by the next one.
        count: stop after this many checks (an int, at least 1; None: until ``stop()``).
        notifiers: ``Notifier`` objects, each called in turn for every notification.
        notify_each_failure: also notify every failed check, not only changes of state.
        server_url: shown in notifications.
        secrets: strings scrubbed from every line and every field of a notification (with any run
            of their first or last ``PARTIAL_SECRET`` characters); may grow while running.
        log: where result lines go (stderr); None: nowhere.
        clock: monotonic seconds (``time.monotonic``); now: wall time, UTC datetime.
        sleep: ``sleep(seconds)``; default sleeps in short slices and returns early after
            ``stop()``. Tests inject one that advances a fake clock.

    Raises:
        ValueError: ``interval`` not finite, <= 0 or too long; ``count`` not an int or < 1.
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
        if not (math.isfinite(interval) and 0 < interval <= MAX_INTERVAL_MINUTES):
            raise ValueError(
                f"interval must be a number of minutes above 0 and at most {MAX_INTERVAL_MINUTES:g}"
            )
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise ValueError("count must be a whole number, at least 1")
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
        # scrubbed before it is cut short: a cut must not leave the first characters of a key
        text = _one_line(_scrub_text(text, self.secrets), 2000)
        self.log.write(_scrub_text(f"health-check: {text}", self.secrets) + "\n")
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

            error = OpsGenieIntegrationError(f"The check itself failed ({type(exc).__name__}).",
                                             error_type="internal")
            envelope = env.failure(TEST_CONNECTION, error)
        envelope = _scrub_value(envelope, self.secrets)
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
                secrets=tuple(self.secrets),
            )
        )
        return result

    def notify(self, notification: Notification) -> None:
        """Send ``notification`` by every notifier; each failure is logged and counted. Every
        field the notifiers see is scrubbed of the secrets (the Server URL may hold the key)."""
        notification = dataclasses.replace(
            notification,
            server_url=(
                _scrub_text(notification.server_url, self.secrets)
                if notification.server_url is not None
                else None
            ),
            envelope=_scrub_value(notification.envelope, self.secrets),
            secrets=tuple({*notification.secrets, *self.secrets}),
        )
        for notifier in self.notifiers:
            try:
                notifier.send(notification)
            except Exception as exc:  # noqa: BLE001 - one notifier must not stop the rest
                self.summary.notifications_failed += 1
                detail = _one_line(_scrub_text(str(exc), self.secrets), 300)
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
        help=f"minutes between checks (a float, e.g. 0.5; at most {MAX_INTERVAL_MINUTES:g})",
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
        help=f"seconds allowed to each notification, all told (default {DEFAULT_NOTIFY_TIMEOUT:g}, "
        f"at most {MAX_NOTIFY_TIMEOUT:g})",
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
    args: argparse.Namespace,
    integration: Integration,
    secrets: set[str],
    stderr: TextIO,
    variables: set[str] | None = None,
) -> list[Notifier]:
    """The notifiers the command line asks for, in the order e-mail, webhooks, commands.
    ``secrets`` and ``variables`` are shared with the commands (see ``CommandNotifier``).

    Raises:
        cli.UsageError: inconsistent or malformed options; an SMTP password reference that
            cannot be resolved (the message names the reference, never the password).
    """
    from .cli import UsageError
    from .errors import OpsGenieIntegrationError
    from .secrets import split_reference

    try:
        timeout = check_notify_timeout(args.notify_timeout)
    except ValueError:
        raise UsageError(
            f"health-check: --notify-timeout must be above 0 and at most {MAX_NOTIFY_TIMEOUT:g} "
            "seconds"
        ) from None
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
            notifiers.append(WebhookNotifier(url, timeout=timeout, secrets=secrets))
        except ValueError as exc:
            raise UsageError(f"health-check: --webhook: {exc}") from None
    for command in args.exec_commands:
        try:
            notifiers.append(
                CommandNotifier(command, timeout=timeout, secrets=secrets, variables=variables)
            )
        except ValueError as exc:
            raise UsageError(f"health-check: --exec: {exc}") from None
    return notifiers


def cmd_health_check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``health-check``: see the module docstring. Returns the exit status.

    Raises:
        cli.UsageError: bad options (exit status 2).
    """
    from .cli import ExitStatus, SandboxConnection, UsageError, in_main_thread
    from .errors import OpsGenieIntegrationError
    from .integration import Integration
    from .logs import configure_cli_logging

    if not (math.isfinite(args.interval) and 0 < args.interval <= MAX_INTERVAL_MINUTES):
        raise UsageError(
            f"health-check: --interval must be above 0 and at most {MAX_INTERVAL_MINUTES:g} minutes"
        )
    if args.count is not None and args.count < 1:
        raise UsageError("health-check: --count must be at least 1")
    redactor = configure_cli_logging(stderr, args.verbose)
    secrets = redactor.secrets  # one set: the log filter and every message share it
    variables: set[str] = set()  # named by an env: reference to the key: kept from commands
    integration = Integration.load()
    notifiers = build_notifiers(args, integration, secrets, stderr, variables)
    health: HealthCheck | None = None
    previous: dict[int, Any] = {}
    try:
        with SandboxConnection(args, stderr) as settings:
            server_url = str(settings.get("server_url") or settings.get("Server URL") or "") or None
            check = TestConnectionCheck(integration, settings, secrets, variables)
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
            if in_main_thread():
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
