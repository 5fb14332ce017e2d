"""One redactor on every way out of the health check: result lines, each notifier's message,
webhook bodies, command stdin and the child's environment, under any spelling of the key's
setting.
"""

from __future__ import annotations

import io
import json
import logging

import pytest

from opsgenie_integration.healthcheck import (
    HealthCheck,
    NotificationError,
)
from opsgenie_integration.redact import Redactor

from .helpers import (
    KEY,
    Recorder,
    connection_file,
    envelope_for,
    run_cli,
)


def test_lines_and_notifications_hide_the_redactors_secrets():
    # Given an (unusually) unscrubbed envelope that holds the key
    leaky = envelope_for(False)
    leaky["error"]["text"] += f" key={KEY}"
    recorder, log = Recorder(), io.StringIO()
    HealthCheck(
        lambda: leaky, interval=1, count=1, notifiers=[recorder], redactor=Redactor([KEY]), log=log
    ).run()
    assert KEY not in log.getvalue() and "[REDACTED]" in log.getvalue()
    assert KEY not in json.dumps(recorder.got[0].payload()) and KEY not in recorder.got[0].text()


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
        lambda: leaky,
        interval=1,
        count=1,
        notifiers=[Loud(), recorder],
        redactor=Redactor([KEY]),
        log=log,
    ).run()
    sent = recorder.got[0]
    shown = log.getvalue() + json.dumps(sent.payload()) + sent.text() + sent.subject()
    for piece in (KEY[:20], KEY[:8], KEY[-8:]):
        assert piece not in shown, piece
    assert "apiKey=[REDACTED]..." in shown


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
