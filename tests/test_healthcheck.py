"""The connection health check: scheduling, changes of state, notifiers, the CLI.

Notifiers are exercised against a real local SMTP server (aiosmtpd, with and without STARTTLS),
a local webhook receiver (http.server in a thread) and a real child process; the checks run
against the embedded sandbox, whose key rights are switched on and off between checks. No test
sleeps for real except the signal tests, which run the CLI in a child process.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import ipaddress
import json
import logging
import os
import selectors
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from opsgenie_integration import envelope as env
from opsgenie_integration.cli import main
from opsgenie_integration.healthcheck import (
    CommandNotifier,
    EmailNotifier,
    HealthCheck,
    Notification,
    NotificationError,
    TestConnectionCheck,
    WebhookNotifier,
    safe_url,
)
from opsgenie_integration.sandbox import Sandbox

KEY = "6b1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"  # the sandbox key whose rights the tests switch
SMTP_PASSWORD = "s3cret-smtp-passw0rd"
ALL_RIGHTS = ("read", "configuration")
T0 = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.timezone.utc)


# -- helpers and fixtures --------------------------------------------------------------------


def envelope_for(passed: bool) -> dict[str, Any]:
    if passed:
        return env.success(
            "Test Connection",
            [{}],
            {"commands": {"Fetch Event": {"right": "Read", "can_run": True}}},
        )
    from opsgenie_integration.errors import ForbiddenError

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
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    inbox, logins = Inbox(), []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password.decode() == SMTP_PASSWORD, handled=False)

    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, **kwargs
    )
    controller.start()
    return SmtpServer(controller, inbox, logins)


@pytest.fixture
def smtp():
    """A real SMTP server on loopback, plain text, AUTH allowed without TLS (tests only)."""
    server = start_smtp(auth_require_tls=False)
    yield server
    server.controller.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (cert file, key file)."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@pytest.fixture
def smtp_starttls(tls_files):
    """A real SMTP server that requires STARTTLS before AUTH or MAIL."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    server = start_smtp(tls_context=context, require_starttls=True, auth_require_tls=True)
    yield server
    server.controller.stop()


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


@pytest.fixture
def webhook():
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(alerts=50, seed=1) as sb:
        sb.add_key(KEY, rights=ALL_RIGHTS)
        yield sb


@pytest.fixture
def key_rights(sandbox):
    """Switch KEY's rights; restored to all rights after the test."""
    yield lambda *rights: sandbox.set_rights(KEY, rights)
    sandbox.set_rights(KEY, ALL_RIGHTS)


@pytest.fixture
def recorder_command(tmp_path):
    """A command line that appends its stdin and environment, as one JSON line, to a file."""
    script = tmp_path / "record.py"
    script.write_text(
        "import json, os, sys\n"
        "data = sys.stdin.read()\n"
        "with open(sys.argv[1], 'a', encoding='utf-8') as out:\n"
        "    out.write(json.dumps({'stdin': data, 'env': dict(os.environ), 'argv': sys.argv[1:]}) + '\\n')\n"
    )
    record = tmp_path / "record.jsonl"
    command = " ".join(
        shlex.quote(p) for p in (sys.executable, str(script), str(record), "two words")
    )

    def runs() -> list[dict[str, Any]]:
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]

    return command, runs


def connection_file(tmp_path, sandbox, api_key: str = KEY):
    path = tmp_path / "conn.json"
    path.write_text(json.dumps({"server_url": sandbox.url, "api_key": api_key}))
    return str(path)


def run_cli(*argv: str):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


# -- changes of state and scheduling (scripted checks, fake clock) -------------------------------


def test_notifies_on_every_change_of_state_only():
    # Given checks that pass, pass, fail, fail, pass, fail
    summary, recorder, log, _ = run_scripted([True, True, False, False, True, False])
    # Then one notification per change of state, none for a repeated state
    assert [(n.check, n.event, n.previous_state, n.state) for n in recorder.got] == [
        (3, "failed", "passed", "failed"),
        (5, "recovered", "failed", "passed"),
        (6, "failed", "passed", "failed"),
    ]
    assert summary.as_dict() == {
        "checks": 6,
        "passed": 3,
        "failed": 3,
        "state_changes": 3,
        "notifications_sent": 3,
        "notifications_failed": 0,
        "last_result": "failed",
        "stopped_by": "count",
    }
    # and one line per result on the log
    lines = [line for line in log.splitlines() if " check " in line]
    assert len(lines) == 6
    assert lines[0] == "health-check: 2024-03-01T08:00:00Z check 1: passed (0.00 s)"
    assert lines[2].startswith(
        "health-check: 2024-03-01T08:02:00Z check 3: FAILED (0.00 s): Test Connection failed. "
        "Failed to check the connector. Status Code: 403. Message: This API key cannot run"
    )


@pytest.mark.parametrize("first, expected", [(True, []), (False, [("failed", None)])])
def test_the_first_result_is_a_change_only_when_it_fails(first, expected):
    summary, recorder, _, _ = run_scripted([first])
    assert [(n.event, n.previous_state) for n in recorder.got] == expected
    assert summary.state_changes == len(expected)


def test_notify_each_failure():
    # Given --notify-each-failure and checks that fail, fail, fail, pass, pass
    summary, recorder, _, _ = run_scripted(
        [False, False, False, True, True], notify_each_failure=True
    )
    # Then every failure is notified (still_failing counts the run), then the recovery once
    assert [(n.event, n.consecutive_failures) for n in recorder.got] == [
        ("failed", 1),
        ("still_failing", 2),
        ("still_failing", 3),
        ("recovered", 0),
    ]
    assert summary.state_changes == 2 and summary.notifications_sent == 4
    assert (
        recorder.got[1].subject()
        == "OpsGenie connection still failing (api.eu.opsgenie.com): 2 failed checks in a row"
    )


def test_interval_is_in_minutes_between_starts():
    # Given a 0.5-minute interval and checks that take 10 s
    summary, _, _, fake = run_scripted([True] * 3, interval=0.5, seconds=10.0)
    # Then it sleeps the rest of each 30 s, and not after the last check
    assert fake.sleeps == [20.0, 20.0]
    assert [r.checked_at for r in summary.results] == [
        T0,
        T0 + dt.timedelta(seconds=30),
        T0 + dt.timedelta(seconds=60),
    ]


def test_a_check_longer_than_the_interval_is_followed_at_once():
    summary, _, _, fake = run_scripted([True] * 3, interval=0.1, seconds=9.0)  # 6 s interval
    assert fake.sleeps == [] and summary.checks == 3


@pytest.mark.parametrize("interval, count", [(0, None), (-1, None), (1, 0)])
def test_bad_interval_or_count(interval, count):
    with pytest.raises(ValueError):
        HealthCheck(lambda: envelope_for(True), interval=interval, count=count)


def test_stop_ends_the_loop_after_the_current_check():
    # Given an endless health check (no count) that is asked to stop while it waits
    fake = FakeTime()
    health: HealthCheck

    def sleep(seconds):
        fake.sleep(seconds)
        if len(fake.sleeps) == 2:
            health.stop()  # what the SIGINT/SIGTERM handler calls

    health = HealthCheck(
        Scripted([True, False, True], fake),
        interval=1,
        clock=fake.clock,
        now=fake.wall,
        sleep=sleep,
    )
    summary = health.run()
    assert (
        summary.checks == 2 and summary.stopped_by == "signal" and summary.last_result == "failed"
    )


def test_the_default_sleep_wakes_up_on_stop():
    # Given the real wait between checks (an event) and a stop from another thread
    health = HealthCheck(lambda: envelope_for(True), interval=10)  # 600 s between checks
    threading.Timer(0.1, health.stop).start()
    started = time.monotonic()
    summary = health.run()
    assert time.monotonic() - started < 5 and summary.checks == 1


def test_a_failing_notifier_does_not_stop_the_others_nor_the_loop():
    # Given a broken notifier before a working one
    broken, working = Recorder("broken thing", fail=True), Recorder("working thing")
    summary, _, log, _ = run_scripted([False, True], notifiers=[broken, working])
    # Then the working one got both notifications, and each failure is one line naming the notifier
    assert [n.event for n in working.got] == ["failed", "recovered"]
    assert (
        summary.notifications_sent == 2
        and summary.notifications_failed == 2
        and summary.checks == 2
    )
    assert "notifying failed by broken thing failed: NotificationError: the line is down" in log
    assert "notified recovered by working thing" in log


def test_a_check_that_raises_is_a_failed_check():
    def check():
        raise RuntimeError(f"boom {KEY}")

    recorder = Recorder()
    summary = HealthCheck(
        check, interval=1, count=1, notifiers=[recorder], sleep=lambda s: None
    ).run()
    assert summary.failed == 1 and recorder.got[0].envelope["error"]["type"] == "internal"
    assert KEY not in json.dumps(recorder.got[0].payload())


def test_lines_and_notifications_are_scrubbed_of_known_secrets():
    # Given an (unusually) unscrubbed envelope that holds the key
    leaky = envelope_for(False)
    leaky["error"]["text"] += f" key={KEY}"
    recorder, log = Recorder(), io.StringIO()
    HealthCheck(
        lambda: leaky, interval=1, count=1, notifiers=[recorder], secrets={KEY}, log=log
    ).run()
    assert KEY not in log.getvalue() and "[REDACTED]" in log.getvalue()
    assert KEY not in json.dumps(recorder.got[0].payload()) and KEY not in recorder.got[0].text()


def test_notification_payload_is_the_envelope_with_a_health_check_key():
    _summary, recorder, _, _ = run_scripted([False])
    payload = recorder.got[0].payload()
    assert {
        k: payload[k] for k in ("command", "return_data", "raw_data", "error", "commands")
    } == envelope_for(False)
    assert payload["health_check"] == {
        "event": "failed",
        "state": "failed",
        "previous_state": None,
        "check": 1,
        "checked_at": "2024-03-01T08:00:00Z",
        "consecutive_failures": 1,
        "server_url": "https://api.eu.opsgenie.com",
    }


def test_safe_url_hides_the_token_in_a_webhook_url():
    assert (
        safe_url("https://user:pw@hooks.example.com:8443/services/T0/B0/XyZ?x=1")
        == "https://hooks.example.com:8443/…"
    )
    assert safe_url("http://127.0.0.1") == "http://127.0.0.1"


# -- end to end: the sandbox switches the key's rights; real SMTP, webhook and command ----------


def test_rights_switched_in_the_sandbox_notify_by_email_webhook_and_command(
    sandbox, key_rights, smtp, webhook, recorder_command, integration
):
    # Given a key whose Configuration access is removed before check 2 and given back before check 4
    command, command_runs = recorder_command
    secrets: set = set()
    check = TestConnectionCheck(integration, {"server_url": sandbox.url, "api_key": KEY}, secrets)
    rights_before_check = {2: ("read",), 3: ("read",), 4: ALL_RIGHTS}
    checks_done = []

    def sleep(seconds):
        checks_done.append(seconds)
        key_rights(*rights_before_check[len(checks_done) + 1])

    log = io.StringIO()
    notifiers = [
        EmailNotifier(
            smtp.host,
            smtp.port,
            "health@example.com",
            ["ops@example.com", "oncall@example.com"],
            timeout=5,
        ),
        WebhookNotifier(webhook.url, timeout=5),
        CommandNotifier(command, timeout=20, secrets=secrets),
    ]
    health = HealthCheck(
        check,
        interval=1,
        count=4,
        notifiers=notifiers,
        server_url=sandbox.url,
        secrets=secrets,
        log=log,
        sleep=sleep,
    )
    # When
    summary = health.run()
    # Then pass, fail, fail, pass: two changes of state, notified by all three notifiers
    assert [r.state for r in summary.results] == ["passed", "failed", "failed", "passed"]
    assert summary.notifications_sent == 6 and summary.notifications_failed == 0, log.getvalue()
    assert KEY in secrets  # the check taught the health check what to scrub

    # the e-mails, through a real SMTP session
    assert len(smtp.inbox.messages) == 2
    (sender, recipients, failed_mail), (_, _, recovered_mail) = smtp.inbox.messages
    assert sender == "health@example.com" and recipients == [
        "ops@example.com",
        "oncall@example.com",
    ]
    assert (
        failed_mail["Subject"] == "OpsGenie connection FAILED (127.0.0.1): Test Connection failed"
    )
    assert failed_mail["X-OpsGenie-Health-Event"] == "failed"
    body = failed_mail.get_content()
    assert "Get Schedules: CANNOT run - the key lacks Configuration access" in body
    assert "Fetch Event: can run (Read)" in body
    assert "Status Code: 403" in body
    assert (
        recovered_mail["Subject"]
        == "OpsGenie connection recovered (127.0.0.1): Test Connection passed"
    )

    # the webhook: one POST per notification, the envelope as JSON
    assert [p["json"]["health_check"]["event"] for p in webhook.posts] == ["failed", "recovered"]
    first = webhook.posts[0]
    assert first["path"] == "/hooks/T0K3N-in-path?sig=abc123"
    assert first["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert first["headers"]["User-Agent"].startswith("opsgenie-integration-health-check/")
    assert first["json"]["return_data"] == "Failed" and first["json"]["error"]["status_code"] == 403
    assert first["json"]["commands"]["Get Schedules"]["can_run"] is False
    assert first["json"]["commands"]["Fetch Event"]["can_run"] is True
    assert webhook.posts[1]["json"]["return_data"] == "Successful"

    # the command: run without a shell (an argument with a space arrives whole), envelope on stdin
    runs = command_runs()
    assert [json.loads(r["stdin"])["health_check"]["event"] for r in runs] == [
        "failed",
        "recovered",
    ]
    assert runs[0]["argv"][1] == "two words"
    assert (
        runs[0]["env"]["OPSGENIE_HEALTH_EVENT"] == "failed"
        and runs[0]["env"]["OPSGENIE_HEALTH_CHECK"] == "2"
    )

    # and the key is nowhere
    everywhere = (
        log.getvalue()
        + "".join(m.decode() for m in smtp.inbox.raw)
        + "".join(p["raw"].decode() for p in webhook.posts)
        + json.dumps(runs)
    )
    assert KEY not in everywhere


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


def test_command_environment_drops_the_key(recorder_command, monkeypatch):
    # Given the key in the environment, under the usual name and under the name a reference uses
    command, runs = recorder_command
    monkeypatch.setenv("OPSGENIE_API_KEY", KEY)
    monkeypatch.setenv("MY_KEY_REF", KEY)
    monkeypatch.setenv("UNRELATED", "kept")
    CommandNotifier(command, secrets={KEY}).send(run_scripted([False])[1].got[0])
    child_env = runs()[0]["env"]
    assert "OPSGENIE_API_KEY" not in child_env and "MY_KEY_REF" not in child_env
    assert child_env["UNRELATED"] == "kept" and KEY not in json.dumps(runs())


@pytest.mark.parametrize(
    "script, words",
    [
        (
            "import sys; sys.stderr.write('first\\nlast words\\n'); sys.exit(3)",
            "exit status 3: last words",
        ),
        ("import time; time.sleep(5)", "killed after 0.5 s"),
    ],
)
def test_command_failures(script, words):
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)} secret-arg"
    with pytest.raises(NotificationError) as failed:
        CommandNotifier(command, timeout=0.5).send(run_scripted([False])[1].got[0])
    assert words in str(failed.value) and "secret-arg" not in str(failed.value)


def test_command_not_found():
    with pytest.raises(NotificationError, match="cannot run '/nonexistent/notify'"):
        CommandNotifier("/nonexistent/notify --token x").send(run_scripted([False])[1].got[0])


@pytest.mark.parametrize("command", ["", "   ", "notify 'unbalanced"])
def test_command_line_must_split(command):
    with pytest.raises(ValueError):
        CommandNotifier(command)


# -- the command line --------------------------------------------------------------------------


def test_cli_against_the_embedded_sandbox():
    status, out, err = run_cli(
        "health-check", "--interval", "0.001", "--count", "2", "--sandbox", "--sandbox-alerts", "20"
    )
    assert status == 0
    assert out.count("\n") == 1
    assert json.loads(out) == {
        "checks": 2,
        "passed": 2,
        "failed": 0,
        "state_changes": 0,
        "notifications_sent": 0,
        "notifications_failed": 0,
        "last_result": "passed",
        "stopped_by": "count",
    }
    assert err.count(": passed (") == 2


def test_cli_failing_key_notifies_and_exits_1(sandbox, key_rights, smtp, webhook, tmp_path):
    # Given a key without Configuration access, and e-mail and webhook notifications
    key_rights("read")
    status, out, err = run_cli(
        "health-check",
        "--interval",
        "0.001",
        "--count",
        "3",
        "--connection",
        connection_file(tmp_path, sandbox),
        "--smtp-host",
        smtp.host,
        "--smtp-port",
        str(smtp.port),
        "--mail-from",
        "hc@example.com",
        "--mail-to",
        "ops@example.com",
        "--webhook",
        webhook.url,
    )
    # Then only the first failure (a change of state) is notified, and the exit status is 1
    assert status == 1
    summary = json.loads(out)
    assert summary["checks"] == 3 and summary["failed"] == 3 and summary["notifications_sent"] == 2
    assert len(smtp.inbox.messages) == 1 and len(webhook.posts) == 1
    assert err.count("FAILED") == 3 and "missing right: Configuration access" in err
    assert "T0K3N" not in err  # the webhook's token is not logged


def test_cli_notify_each_failure_with_smtp_login(
    sandbox, key_rights, smtp, webhook, tmp_path, monkeypatch
):
    key_rights("configuration")
    monkeypatch.setenv("HC_SMTP_PASSWORD", SMTP_PASSWORD)
    status, out, err = run_cli(
        "health-check",
        "--interval",
        "0.001",
        "--count",
        "2",
        "--connection",
        connection_file(tmp_path, sandbox),
        "--notify-each-failure",
        "--smtp-host",
        smtp.host,
        "--smtp-port",
        str(smtp.port),
        "--smtp-user",
        "health-bot",
        "--smtp-password-ref",
        "env:HC_SMTP_PASSWORD",
        "--mail-from",
        "hc@example.com",
        "--mail-to",
        "a@example.com",
        "--mail-to",
        "b@example.com",
        "--webhook",
        webhook.url,
    )
    assert status == 1
    assert json.loads(out)["notifications_sent"] == 4
    assert smtp.logins == [("health-bot", SMTP_PASSWORD)] * 2
    assert [m[1] for m in smtp.inbox.messages] == [["a@example.com", "b@example.com"]] * 2
    assert [p["json"]["health_check"]["event"] for p in webhook.posts] == [
        "failed",
        "still_failing",
    ]
    assert SMTP_PASSWORD not in err + out


def test_cli_recovers_exits_0(sandbox, tmp_path, webhook):
    # Given a connection that works: the last check passed -> 0, and nothing to notify
    status, out, _ = run_cli(
        "health-check",
        "--interval",
        "0.001",
        "--count",
        "1",
        "--connection",
        connection_file(tmp_path, sandbox),
        "--webhook",
        webhook.url,
    )
    assert status == 0 and json.loads(out)["last_result"] == "passed" and webhook.posts == []


def test_cli_unreadable_connection_file(tmp_path):
    status, out, err = run_cli(
        "health-check", "--interval", "1", "--connection", str(tmp_path / "none.yaml")
    )
    assert status == 1 and json.loads(out)["checks"] == 0
    assert "none.yaml" in err and ("cannot be read" in err or "does not exist" in err)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--interval", "0"], "--interval must be above 0"),
        (["--interval", "x"], "invalid float value"),
        ([], "the following arguments are required: --interval"),
        (["--interval", "1", "--count", "0"], "--count must be at least 1"),
        (["--interval", "1", "--mail-to", "a@example.com"], "--mail-to needs --smtp-host"),
        (
            ["--interval", "1", "--smtp-host", "localhost", "--mail-to", "a@example.com"],
            "needs --mail-from",
        ),
        (
            [
                "--interval",
                "1",
                "--smtp-host",
                "localhost",
                "--mail-from",
                "a@example.com",
                "--mail-to",
                "b@example.com",
                "--smtp-user",
                "u",
            ],
            "--smtp-user and --smtp-password-ref go together",
        ),
        (
            [
                "--interval",
                "1",
                "--smtp-host",
                "localhost",
                "--mail-from",
                "a@example.com",
                "--mail-to",
                "b@example.com",
                "--smtp-user",
                "u",
                "--smtp-password-ref",
                SMTP_PASSWORD,
            ],
            "must be a reference such as env:",
        ),
        (
            [
                "--interval",
                "1",
                "--smtp-host",
                "localhost",
                "--mail-from",
                "a@example.com",
                "--mail-to",
                "b@example.com",
                "--smtp-user",
                "u",
                "--smtp-password-ref",
                "env:HC_UNSET_PASSWORD",
            ],
            "--smtp-password-ref 'env:HC_UNSET_PASSWORD' cannot be resolved: the environment variable",
        ),
        (["--interval", "1", "--webhook", "ftp://example.com/x"], "--webhook: not an http(s) URL"),
        (
            ["--interval", "1", "--exec", "notify 'unbalanced"],
            "--exec: cannot split the command line",
        ),
        (["--interval", "1", "--notify-timeout", "0"], "--notify-timeout must be above 0"),
        (["--interval", "1", "--sandbox", "--connection", "c.yaml"], "not allowed with argument"),
    ],
)
def test_cli_usage_errors(argv, words, monkeypatch):
    monkeypatch.delenv("HC_UNSET_PASSWORD", raising=False)
    status, out, err = run_cli("health-check", *argv)
    assert status == 2 and out == ""
    assert words in err
    assert SMTP_PASSWORD not in err


@pytest.mark.parametrize("reference", [False, True], ids=["literal key", "env: reference"])
def test_the_api_key_is_never_in_any_output(
    sandbox, key_rights, smtp, webhook, recorder_command, tmp_path, monkeypatch, caplog, reference
):
    # Given a failing key (no Configuration access), given literally or by reference, and every
    # notifier, at DEBUG
    key_rights("read")
    command, command_runs = recorder_command
    monkeypatch.setenv("HC_API_KEY", KEY)
    monkeypatch.setenv("OPSGENIE_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    api_key = "env:HC_API_KEY" if reference else KEY
    status, out, err = run_cli(
        "health-check",
        "-vv",
        "--interval",
        "0.001",
        "--count",
        "2",
        "--notify-each-failure",
        "--connection",
        connection_file(tmp_path, sandbox, api_key),
        "--smtp-host",
        smtp.host,
        "--smtp-port",
        str(smtp.port),
        "--mail-from",
        "hc@example.com",
        "--mail-to",
        "ops@example.com",
        "--webhook",
        webhook.url,
        "--exec",
        command,
    )
    # Then every notification went out...
    assert status == 1 and json.loads(out)["notifications_sent"] == 6, err
    assert "DEBUG urllib3" in err  # the debug log really was on
    # ...and the key is in none of stdout, stderr, the log records, e-mails, webhook bodies, or
    # the command's stdin and environment
    captured = {
        "stdout": out,
        "stderr": err,
        "logs": caplog.text,
        "e-mails": b"".join(smtp.inbox.raw).decode(),
        "webhook": "".join(p["raw"].decode() + json.dumps(p["headers"]) for p in webhook.posts),
        "command": json.dumps(command_runs()),
    }
    assert {name: KEY in text for name, text in captured.items()} == dict.fromkeys(captured, False)
    assert "HC_API_KEY" not in captured["command"]  # a variable holding the key is not passed on


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_stop_cleanly(sandbox, tmp_path, signum):
    # Given the CLI running without --count in a child process
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opsgenie_integration",
            "health-check",
            "--interval",
            "0.002",
            "--connection",
            connection_file(tmp_path, sandbox),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPSGENIE_")},
    )
    try:
        # When it has logged its first result, the signal arrives
        selector = selectors.DefaultSelector()
        selector.register(child.stderr, selectors.EVENT_READ)
        seen, deadline = "", time.monotonic() + 30
        while "check 1:" not in seen and time.monotonic() < deadline:
            if selector.select(timeout=1):
                line = child.stderr.readline()
                if not line:
                    break
                seen += line
        assert "check 1: passed" in seen, seen
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    # Then it finishes with the summary and the status of the last check, no traceback
    assert child.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert (
        summary["stopped_by"] == "signal"
        and summary["checks"] >= 1
        and summary["last_result"] == "passed"
    )
    assert "Traceback" not in err


# -- bounds: hostile webhooks, SMTP servers and commands; leaks through other settings -----------


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


@pytest.fixture
def raw_server():
    servers = []

    def start(handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


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


def a_notification() -> Notification:
    return run_scripted([False])[1].got[0]


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


def test_command_printing_without_end_is_killed_and_costs_no_memory():
    import tracemalloc

    # Given a command that prints as fast as it can on stdout and stderr (like `yes`)
    script = (
        "import sys, threading\n"
        "def spam(stream):\n"
        "    while True: stream.write('y' * 65536 + '\\n')\n"
        "threading.Thread(target=spam, args=(sys.stdout,), daemon=True).start()\n"
        "spam(sys.stderr)\n"
    )
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(NotificationError, match="killed after 0.5 s"):
            CommandNotifier(command, timeout=0.5).send(a_notification())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 3.0
    assert peak < 2_000_000  # the old capture kept hundreds of MB


def test_command_failure_shows_the_last_line_of_a_long_stderr():
    script = (
        "import sys\n"
        "sys.stderr.write(('noise ' * 100 + '\\n') * 5000)\n"
        "sys.stderr.write('the real reason\\n')\n"
        "sys.exit(4)\n"
    )
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"
    with pytest.raises(NotificationError) as failed:
        CommandNotifier(command, timeout=10).send(a_notification())
    assert str(failed.value) == "exit status 4: the real reason"


def test_command_leaving_a_background_child_returns_and_timeout_kills_the_group(tmp_path):
    # A command that exits at once but leaves a child holding its stderr: no wait for the child
    spawn = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3)'])"
    lingering = f"{shlex.quote(sys.executable)} -c {shlex.quote(spawn)}"
    started = time.monotonic()
    CommandNotifier(lingering, timeout=5).send(a_notification())
    assert time.monotonic() - started < 2.0
    # A command whose child outlives the timeout: the whole process group is killed
    pid_file = tmp_path / "pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(30)\n"
    )
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"
    with pytest.raises(NotificationError, match="killed after 1 s"):
        CommandNotifier(command, timeout=1).send(a_notification())
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{grandchild}/stat").read_text()
            state = stat.rsplit(")", 1)[1].split()[0]
        except OSError:
            break  # gone
        if state == "Z":
            break  # killed, not yet reaped by init
        time.sleep(0.05)
    else:
        pytest.fail("the command's child survived the timeout")


@pytest.mark.parametrize("value", ["inf", "1e300", "nan", "-1", "3601"])
def test_cli_notify_timeout_must_be_finite_and_reasonable(value):
    status, out, err = run_cli("health-check", "--interval", "1", "--notify-timeout", value)
    assert status == 2 and out == ""
    assert "--notify-timeout must be above 0 and at most 3600 seconds" in err


@pytest.mark.parametrize("value", ["inf", "nan", "1e308", "-0.5", "20000"])
def test_cli_interval_must_be_finite_and_reasonable(value):
    status, _, err = run_cli("health-check", "--interval", value)
    assert status == 2 and "--interval must be above 0 and at most 10080 minutes" in err


@pytest.mark.parametrize("value", ["-1", "0"])
def test_cli_count_must_be_at_least_1(value):
    status, _, err = run_cli("health-check", "--interval", "1", "--count", value)
    assert status == 2 and "--count must be at least 1" in err


@pytest.mark.parametrize("timeout", [float("inf"), 1e300, float("nan"), 0, -1, 3601])
def test_notifiers_refuse_an_unusable_timeout(timeout):
    for make in (
        lambda: EmailNotifier("localhost", 25, "a@example.com", ["b@example.com"], timeout=timeout),
        lambda: WebhookNotifier("https://hooks.example.com/x", timeout=timeout),
        lambda: CommandNotifier("true", timeout=timeout),
    ):
        with pytest.raises(ValueError, match="notify timeout"):
            make()


@pytest.mark.parametrize(
    "interval, count", [(float("inf"), None), (1e308, None), (1, float("inf")), (1, 1.5), (1, True)]
)
def test_health_check_refuses_unusable_interval_or_count(interval, count):
    with pytest.raises(ValueError):
        HealthCheck(lambda: envelope_for(True), interval=interval, count=count)


@pytest.mark.parametrize("reference", [False, True], ids=["literal key", "env: reference"])
def test_a_server_url_holding_the_key_leaks_it_nowhere(
    webhook, recorder_command, tmp_path, monkeypatch, reference
):
    # Given a Server URL that carries the key in its query (refused by validation, but shown)
    command, command_runs = recorder_command
    monkeypatch.setenv("HC_API_KEY", KEY)
    path = tmp_path / "conn.json"
    path.write_text(
        json.dumps(
            {
                "server_url": f"https://api.opsgenie.com/?apiKey={KEY}",
                "api_key": "env:HC_API_KEY" if reference else KEY,
            }
        )
    )
    status, out, err = run_cli(
        "health-check",
        "--interval",
        "0.001",
        "--count",
        "1",
        "--connection",
        str(path),
        "--webhook",
        webhook.url,
        "--exec",
        command,
    )
    assert status == 1 and json.loads(out)["notifications_sent"] == 2, err
    posted = webhook.posts[0]["json"]
    assert posted["health_check"]["server_url"] == "https://api.opsgenie.com/?apiKey=[REDACTED]"
    # Then neither the key nor its first (or last) characters are anywhere
    everything = out + err + webhook.posts[0]["raw"].decode() + json.dumps(command_runs())
    for piece in (KEY, KEY[:20], KEY[:8], KEY[-8:]):
        assert piece not in everything, piece
    assert "Server URL (server_url)" in err  # the failure itself is still explained


def test_exec_never_gets_the_variable_an_env_reference_names(
    recorder_command, tmp_path, monkeypatch
):
    # Given invalid settings (http for a host that is not loopback) and a key by env: reference
    command, command_runs = recorder_command
    monkeypatch.setenv("MY_OG_KEY", KEY)
    monkeypatch.setenv("ANOTHER_COPY", KEY)
    monkeypatch.setenv("UNRELATED", "kept")
    path = tmp_path / "conn.json"
    path.write_text(json.dumps({"server_url": "http://example.com", "api_key": "env:MY_OG_KEY"}))
    status, out, err = run_cli(
        "health-check",
        "--interval",
        "0.001",
        "--count",
        "1",
        "--connection",
        str(path),
        "--exec",
        command,
    )
    # Then validation failed before the reference was resolved, yet the child gets neither
    # the variable it names nor another holding the key
    assert status == 1 and json.loads(out)["notifications_sent"] == 1, err
    child_env = command_runs()[0]["env"]
    assert "MY_OG_KEY" not in child_env and "ANOTHER_COPY" not in child_env
    assert child_env["UNRELATED"] == "kept" and KEY not in json.dumps(command_runs())


def test_exec_never_gets_the_named_variable_even_when_it_cannot_be_resolved(
    recorder_command, tmp_path, monkeypatch
):
    command, command_runs = recorder_command
    monkeypatch.setenv("MY_OG_KEY", "  ")  # blank: the reference cannot be resolved
    path = tmp_path / "conn.json"
    path.write_text(
        json.dumps({"server_url": "https://api.opsgenie.com", "api_key": "env:MY_OG_KEY"})
    )
    status, _, err = run_cli(
        "health-check",
        "--interval",
        "0.001",
        "--count",
        "1",
        "--connection",
        str(path),
        "--exec",
        command,
    )
    assert status == 1 and "MY_OG_KEY" not in command_runs()[0]["env"], err


def test_a_key_cut_short_in_a_message_is_redacted_too():
    # Given messages that show the key cut short (the first 29 or last 12 characters)
    leaky = envelope_for(False)
    leaky["error"]["text"] += f" got 'https://x/?apiKey={KEY[:29]}...' and '...{KEY[-12:]}'"

    class Loud:
        name = "loud"

        def send(self, notification):
            raise NotificationError("x" * 280 + KEY)  # cut at 300 characters: a prefix remains

    recorder, log = Recorder(), io.StringIO()
    HealthCheck(
        lambda: leaky, interval=1, count=1, notifiers=[Loud(), recorder], secrets={KEY}, log=log
    ).run()
    sent = recorder.got[0]
    shown = log.getvalue() + json.dumps(sent.payload()) + sent.text() + sent.subject()
    for piece in (KEY[:20], KEY[:8], KEY[-8:]):
        assert piece not in shown, piece
    assert "apiKey=[REDACTED]..." in shown


def test_sigterm_during_a_hanging_notification_stops_within_the_notify_timeout(
    raw_server, tmp_path
):
    # Given the CLI notifying a webhook that drips its headers, with --notify-timeout 1
    server = raw_server(
        lambda conn, srv: (
            read_request(conn),
            drip(srv, conn, b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 100_000, 0.05),
        )
    )
    path = tmp_path / "conn.json"
    path.write_text(json.dumps({"server_url": "http://example.com", "api_key": KEY}))
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opsgenie_integration",
            "health-check",
            "--interval",
            "0.002",
            "--connection",
            str(path),
            "--notify-timeout",
            "1",
            "--webhook",
            f"http://127.0.0.1:{server.port}/hook",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPSGENIE_")},
    )
    try:
        selector = selectors.DefaultSelector()
        selector.register(child.stderr, selectors.EVENT_READ)
        seen, deadline = "", time.monotonic() + 30
        while "check 1:" not in seen and time.monotonic() < deadline:
            if selector.select(timeout=1):
                line = child.stderr.readline()
                if not line:
                    break
                seen += line
        assert "check 1: FAILED" in seen, seen
        # When SIGTERM arrives while the webhook holds the notification open
        child.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        out, err = child.communicate(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    # Then it stops once that notification timed out, with its summary
    assert took < 3.0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["stopped_by"] == "signal" and summary["notifications_failed"] == 1, err
    assert "no answer within 1 s" in err and "Traceback" not in err
