"""The e-mail notifier against a real local SMTP server (aiosmtpd) and hostile raw servers."""

from __future__ import annotations

import ssl
import time

import pytest

from opsgenie_integration.healthcheck import (
    EmailNotifier,
    NotificationError,
)

from .helpers import (
    SMTP_PASSWORD,
    Recorder,
    a_notification,
    endless,
    run_scripted,
)


def test_email_with_starttls_and_login(smtp_starttls, tls_files):
    # Given a server that requires STARTTLS before AUTH, and a client that trusts its certificate
    context = ssl.create_default_context(cafile=tls_files[0])
    notifier = EmailNotifier(
        smtp_starttls.host,
        smtp_starttls.port,
        "health@example.com",
        ["ops@example.com"],
        starttls=True,
        user="health-bot",
        password=SMTP_PASSWORD,
        timeout=5,
        ssl_context=context,
    )
    notification = run_scripted([False])[1].got[0]
    # When
    notifier.send(notification)
    # Then it logged in over TLS and delivered
    assert smtp_starttls.logins == [("health-bot", SMTP_PASSWORD)]
    assert len(smtp_starttls.inbox.messages) == 1
    assert "Test Connection failed" in smtp_starttls.inbox.messages[0][2]["Subject"]


def test_email_starttls_refuses_an_untrusted_certificate(smtp_starttls):
    notifier = EmailNotifier(
        smtp_starttls.host,
        smtp_starttls.port,
        "a@example.com",
        ["b@example.com"],
        starttls=True,
        timeout=5,
    )  # the default context: system CAs only
    with pytest.raises(ssl.SSLError):
        notifier.send(run_scripted([False])[1].got[0])
    assert smtp_starttls.inbox.messages == []


def test_email_starttls_is_never_skipped_when_the_server_lacks_it(smtp):
    notifier = EmailNotifier(
        smtp.host, smtp.port, "a@example.com", ["b@example.com"], starttls=True, timeout=5
    )
    with pytest.raises(Exception, match="STARTTLS"):
        notifier.send(run_scripted([False])[1].got[0])
    assert smtp.inbox.messages == []


def test_email_wrong_password_is_a_failed_notification(smtp):
    notifier = EmailNotifier(
        smtp.host,
        smtp.port,
        "a@example.com",
        ["b@example.com"],
        user="bot",
        password="Not-the-Passw0rd",
        timeout=5,
    )
    recorder = Recorder()
    summary, _, log, _ = run_scripted([False], notifiers=[notifier, recorder])
    assert (
        summary.notifications_failed == 1
        and summary.notifications_sent == 1
        and len(recorder.got) == 1
    )
    assert "SMTPAuthenticationError" in log and "Not-the-Passw0rd" not in log
    assert smtp.inbox.messages == []


@pytest.mark.parametrize(
    "every, words",
    [(0.02, "no answer within 0.5 s"), (0.0, "more than 256 kB of replies")],
    ids=["dripping", "flooding"],
)
def test_smtp_endless_greeting_is_bounded_in_time_and_memory(raw_server, every, words):
    # Given an SMTP server that greets with 220- continuation lines for ever
    server = raw_server(lambda conn, srv: endless(srv, conn, b"220-still greeting you\r\n", every))
    notifier = EmailNotifier(
        "127.0.0.1", server.port, "a@example.com", ["b@example.com"], timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(NotificationError, match=words):
        notifier.send(a_notification())
    assert time.monotonic() - started < 2.0


def test_smtp_stalling_after_the_greeting_is_bounded(raw_server):
    # Given a server that greets, then answers EHLO one continuation line every 20 ms
    def handler(conn, server):
        server.send(conn, b"220 hello\r\n")
        conn.recv(1024)
        endless(server, conn, b"250-PIPELINING\r\n", 0.02)

    server = raw_server(handler)
    notifier = EmailNotifier(
        "127.0.0.1", server.port, "a@example.com", ["b@example.com"], timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(NotificationError, match="no answer within 0.5 s"):
        notifier.send(a_notification())
    assert time.monotonic() - started < 2.0
