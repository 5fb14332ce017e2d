"""The webhook notifier against a local receiver and hostile raw servers: one attempt, bounded
in time and memory, never showing the URL's token.
"""

from __future__ import annotations

import time

import pytest

from opsgenie_integration.healthcheck import (
    NotificationError,
    WebhookNotifier,
)

from .helpers import (
    a_notification,
    drip,
    endless,
    free_port,
    read_request,
    run_scripted,
)


def test_webhook_error_status_is_one_attempt_and_a_failure(webhook):
    webhook.status = 500
    notifier = WebhookNotifier(webhook.url, timeout=5)
    with pytest.raises(NotificationError, match="HTTP 500"):
        notifier.send(run_scripted([False])[1].got[0])
    assert len(webhook.posts) == 1  # no retries


def test_webhook_timeout_and_refusal_do_not_show_the_url_token(webhook):
    webhook.delay = 1.0
    notification = run_scripted([False])[1].got[0]
    with pytest.raises(NotificationError, match="no answer within 0.2 s") as timed_out:
        WebhookNotifier(webhook.url, timeout=0.2).send(notification)
    refused_url = f"http://127.0.0.1:{free_port()}/hooks/T0K3N-in-path"
    with pytest.raises(NotificationError, match="cannot connect") as refused:
        WebhookNotifier(refused_url, timeout=2).send(notification)
    assert "T0K3N" not in str(timed_out.value) + str(refused.value)
    assert WebhookNotifier(refused_url).name == f"webhook {refused_url.split('/hooks')[0]}/…"


def test_webhook_dripping_its_headers_is_cut_at_the_notify_timeout(raw_server):
    # Given a webhook that sends its status line and headers one byte every 20 ms, for ever
    def handler(conn, server):
        read_request(conn)
        drip(server, conn, b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 100_000, 0.02)

    server = raw_server(handler)
    notifier = WebhookNotifier(f"http://127.0.0.1:{server.port}/hook/T0K3N", timeout=0.5)
    # When it is notified: each byte comes well within the read timeout, yet it ends in time
    started = time.monotonic()
    with pytest.raises(NotificationError, match=r"no answer within 0.5 s"):
        notifier.send(a_notification())
    assert time.monotonic() - started < 2.0


def test_webhook_through_a_proxy_dripping_its_headers_is_cut_too(raw_server, monkeypatch):
    # Given an HTTP proxy (from the environment) that drips the answer's headers
    def handler(conn, server):
        read_request(conn)
        drip(server, conn, b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 100_000, 0.02)

    server = raw_server(handler)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    notifier = WebhookNotifier("http://hooks.example.invalid/hook", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(NotificationError, match=r"no answer within 0.5 s"):
        notifier.send(a_notification())
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("status", [200, 500])
def test_webhook_endless_body_is_neither_waited_for_nor_kept(raw_server, status):
    # Given a webhook whose answer never ends: dripping, or as fast as it can
    def handler(conn, server):
        read_request(conn)
        server.send(conn, f"HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\n\r\n".encode())
        server.send(conn, b"refused: T0K3N is no good\n")
        endless(server, conn, b"y" * 65536)

    server = raw_server(handler)
    notifier = WebhookNotifier(f"http://127.0.0.1:{server.port}/hook/T0K3N", timeout=1)
    started = time.monotonic()
    if status == 200:
        notifier.send(a_notification())  # delivered: a 2xx body is not read at all
    else:
        with pytest.raises(NotificationError) as failed:
            notifier.send(a_notification())
        # the start of the answer, on one short line, without the URL's token
        message = str(failed.value)
        assert message.startswith("the webhook answered HTTP 500: refused: [REDACTED] is no good")
        assert len(message) <= 250 and "T0K3N" not in message
    assert time.monotonic() - started < 3.0


def test_webhook_error_body_dripping_is_cut_at_the_deadline(raw_server):
    def handler(conn, server):
        read_request(conn)
        server.send(conn, b"HTTP/1.1 503 X\r\nContent-Length: 100000\r\n\r\nbusy")
        drip(server, conn, b"." * 100_000, 0.02)

    server = raw_server(handler)
    started = time.monotonic()
    with pytest.raises(NotificationError, match=r"HTTP 503: busy\.*"):
        WebhookNotifier(f"http://127.0.0.1:{server.port}/", timeout=0.5).send(a_notification())
    assert time.monotonic() - started < 2.0
