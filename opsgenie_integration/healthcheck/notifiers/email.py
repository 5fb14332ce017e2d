"""The e-mail notifier: a plain-text report over SMTP, bounded in time and in memory."""

from __future__ import annotations

import email.utils
import smtplib
import socket
import ssl
import time
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from ...watchdog import WATCHDOG
from ..notification import (
    DEFAULT_NOTIFY_TIMEOUT,
    MAX_SMTP_REPLY_BYTES,
    Notification,
    NotificationError,
    check_notify_timeout,
)


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
