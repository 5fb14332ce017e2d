"""``opsgenie-integration health-check``: usage errors, exit statuses, signals."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time

import pytest

from .helpers import (
    KEY,
    SMTP_PASSWORD,
    connection_file,
    drip,
    read_request,
    run_cli,
)


def test_cli_against_the_embedded_sandbox_passes_and_prints_one_summary_line():
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


def test_cli_unreadable_connection_file_fails_naming_it(tmp_path):
    status, out, err = run_cli(
        "health-check", "--interval", "1", "--connection", str(tmp_path / "none.yaml")
    )
    missing = str(tmp_path / "none.yaml")
    assert status == 1 and json.loads(out) == {
        "checks": 0,
        "passed": 0,
        "failed": 0,
        "state_changes": 0,
        "notifications_sent": 0,
        "notifications_failed": 0,
        "last_result": None,
        "stopped_by": "error",
    }
    assert err == (
        "health-check: Test Connection failed. Failed to check the connector. "
        f"Message: --connection {missing!r}: does not exist.\n"
    )


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
def test_cli_usage_errors_exit_2_naming_the_option(argv, words, monkeypatch):
    monkeypatch.delenv("HC_UNSET_PASSWORD", raising=False)
    status, out, err = run_cli("health-check", *argv)
    assert status == 2 and out == ""
    assert words in err
    assert SMTP_PASSWORD not in err


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
