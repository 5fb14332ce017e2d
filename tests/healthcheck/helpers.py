"""Shared set-up of the health-check tests: constants, envelopes, and the test doubles.

- ``FakeTime``: a monotonic clock only ``sleep`` moves; ``Scripted``: a check answering
  passed/failed from a script; ``Recorder``: a notifier keeping what it is given;
  ``run_scripted``: a ``HealthCheck`` over those three.
- ``Inbox`` / ``SmtpServer`` / ``start_smtp``: a real local SMTP server (aiosmtpd).
- ``Webhook``: a local webhook receiver (http.server in a thread).
- ``RawServer`` with ``read_request``, ``drip``, ``endless``: a hostile TCP server.
- ``run_cli``: the CLI in-process; ``connection_file``: settings for the sandbox.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from opsgenie_integration import envelope as env
from opsgenie_integration.cli import main
from opsgenie_integration.errors import ForbiddenError
from opsgenie_integration.healthcheck import (
    HealthCheck,
    Notification,
    NotificationError,
)

KEY = "6b1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"  # the sandbox key whose rights the tests switch
SMTP_PASSWORD = "s3cret-smtp-passw0rd"
ALL_RIGHTS = ("read", "configuration")
T0 = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.timezone.utc)


def envelope_for(passed: bool) -> dict[str, Any]:
    if passed:
        return env.success(
            "Test Connection",
            [{}],
            {"commands": {"Fetch Event": {"right": "Read", "can_run": True}}},
        )
    error = ForbiddenError(
        "This API key cannot run: Get Schedules (missing right: Configuration access).",
        status_code=403,
    )
    return env.failure(
        "Test Connection",
        error,
        [{}],
        {
            "commands": {
                "Fetch Event": {"right": "Read", "can_run": True},
                "Get Schedules": {
                    "right": "Configuration access",
                    "can_run": False,
                    "reason": "the key lacks Configuration access",
                },
            }
        },
    )


class FakeTime:
    """A monotonic clock that only ``sleep`` (and checks that take time) move."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> dt.datetime:
        return T0 + dt.timedelta(seconds=self.now - 1000.0)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class Scripted:
    """A check answering passed/failed from a script (one bool per check), taking ``seconds``."""

    def __init__(self, script, fake: FakeTime, seconds: float = 0.0) -> None:
        self.script = list(script)
        self.fake = fake
        self.seconds = seconds
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        passed = self.script[self.calls]
        self.calls += 1
        self.fake.now += self.seconds
        return envelope_for(passed)


class Recorder:
    """A notifier that records what it is given (optionally failing)."""

    def __init__(self, name: str = "recorder", fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.got: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.got.append(notification)
        if self.fail:
            raise NotificationError("the line is down")


def run_scripted(script, *, notify_each_failure=False, notifiers=None, seconds=0.0, interval=1.0):
    fake = FakeTime()
    recorder = Recorder()
    log = io.StringIO()
    health = HealthCheck(
        Scripted(script, fake, seconds),
        interval=interval,
        count=len(script),
        notifiers=notifiers if notifiers is not None else [recorder],
        notify_each_failure=notify_each_failure,
        server_url="https://api.eu.opsgenie.com",
        log=log,
        clock=fake.clock,
        now=fake.wall,
        sleep=fake.sleep,
    )
    summary = health.run()
    return summary, recorder, log.getvalue(), fake


def a_notification() -> Notification:
    return run_scripted([False])[1].got[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message delivered (mail from, recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple] = []
        self.raw: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


class SmtpServer:
    def __init__(self, controller, inbox: Inbox, logins: list) -> None:
        self.controller, self.inbox, self.logins = controller, inbox, logins
        self.host, self.port = "127.0.0.1", controller.port


def start_smtp(**kwargs) -> SmtpServer:
    inbox, logins = Inbox(), []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password.decode() == SMTP_PASSWORD, handled=False)

    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, **kwargs
    )
    controller.start()
    return SmtpServer(controller, inbox, logins)


class Webhook:
    """A local webhook receiver: records each POST; answers ``status`` after ``delay`` s."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 204
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "raw": body,
                        "json": json.loads(body),
                    }
                )
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = (
            f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0K3N-in-path?sig=abc123"
        )
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RawServer:
    """A TCP server on loopback whose every connection is handed to ``handler(conn, stop)`` in a
    thread of its own (``stop``: an Event set by ``close``)."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.sent = 0  # bytes the handlers report having sent
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        with conn:
            try:
                self.handler(conn, self)
            except OSError:
                pass  # the client hung up: what the bounds are for

    def send(self, conn, data: bytes) -> None:
        conn.sendall(data)
        self.sent += len(data)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


def read_request(conn) -> None:
    """Read an HTTP request's head and its Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        body += conn.recv(65536)


def drip(server, conn, data: bytes, every: float) -> None:
    for index in range(len(data)):
        if server.stop.is_set():
            return
        server.send(conn, data[index : index + 1])
        time.sleep(every)


def endless(server, conn, piece: bytes, every: float = 0.0) -> None:
    while not server.stop.is_set():
        server.send(conn, piece)
        if every:
            time.sleep(every)


def connection_file(tmp_path, sandbox, api_key: str = KEY):
    path = tmp_path / "conn.json"
    path.write_text(json.dumps({"server_url": sandbox.url, "api_key": api_key}))
    return str(path)


def run_cli(*argv: str):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()
