"""One redactor on every way out of the health check: result lines, each notifier's message,
webhook bodies, command stdin and the child's environment, under any spelling of the key's
setting.
"""

from __future__ import annotations

import io
import json
import logging
import shlex
import sys

import pytest

from opsgenie_integration.cli import health_check as health_check_cli
from opsgenie_integration.healthcheck import (
    CommandNotifier,
    EmailNotifier,
    HealthCheck,
    NotificationError,
    WebhookNotifier,
)
from opsgenie_integration.redact import Redactor

from .helpers import (
    KEY,
    SMTP_PASSWORD,
    Recorder,
    connection_file,
    envelope_for,
    run_cli,
)

#: Every spelling of the API Key setting that the connection settings accept.
KEY_SPELLINGS = ("api_key", "API Key", "api-key", "Api_Key", "API-KEY")


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


@pytest.mark.parametrize("spelling", KEY_SPELLINGS)
def test_exec_never_gets_the_variable_an_env_reference_names(
    recorder_command, tmp_path, monkeypatch, spelling
):
    # Given invalid settings (http for a host that is not loopback) and a key by env: reference
    command, command_runs = recorder_command
    monkeypatch.setenv("MY_OG_KEY", KEY)
    monkeypatch.setenv("ANOTHER_COPY", KEY)
    monkeypatch.setenv("UNRELATED", "kept")
    path = tmp_path / "conn.json"
    path.write_text(json.dumps({"server_url": "http://example.com", spelling: "env:MY_OG_KEY"}))
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


@pytest.mark.parametrize("spelling", KEY_SPELLINGS)
def test_exec_never_gets_the_named_variable_even_when_it_cannot_be_resolved(
    recorder_command, tmp_path, monkeypatch, spelling
):
    command, command_runs = recorder_command
    monkeypatch.setenv("MY_OG_KEY", "  ")  # blank: the reference cannot be resolved
    path = tmp_path / "conn.json"
    path.write_text(
        json.dumps({"server_url": "https://api.opsgenie.com", spelling: "env:MY_OG_KEY"})
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


@pytest.mark.parametrize("reference", [False, True], ids=["literal key", "env: reference"])
@pytest.mark.parametrize("spelling", KEY_SPELLINGS)
def test_command_notifier_gets_no_secret_under_any_spelling_of_the_key_setting(
    sandbox, key_rights, recorder_command, tmp_path, monkeypatch, spelling, reference
):
    # Given valid settings naming the key under this spelling, literally or by env: reference,
    # a key that fails Test Connection (no Configuration access), and copies of the key in the
    # environment under the referenced name, the usual name and an unrelated name
    key_rights("read")
    command, command_runs = recorder_command
    monkeypatch.setenv("MY_OG_KEY", KEY)
    monkeypatch.setenv("OPSGENIE_API_KEY", KEY)
    monkeypatch.setenv("ANOTHER_COPY", f"prefix-{KEY}")
    monkeypatch.setenv("UNRELATED", "kept")
    path = tmp_path / "conn.json"
    value = "env:MY_OG_KEY" if reference else KEY
    path.write_text(json.dumps({"server_url": sandbox.url, spelling: value}))
    # When the health check notifies the failure by a command
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
    # Then the key was used (OpsGenie refused a right, not the settings)...
    assert status == 1 and json.loads(out)["notifications_sent"] == 1, err
    (run,) = command_runs()
    payload = json.loads(run["stdin"])
    assert payload["error"]["status_code"] == 403, payload
    # ...and the child got neither the key nor any piece of it, in its environment or stdin
    child_env = run["env"]
    assert {"MY_OG_KEY", "OPSGENIE_API_KEY", "ANOTHER_COPY"}.isdisjoint(child_env)
    assert child_env["UNRELATED"] == "kept"
    assert child_env["OPSGENIE_HEALTH_EVENT"] == "failed"
    shown = json.dumps(command_runs()) + out + err
    for piece in (KEY, KEY[:8], KEY[-8:]):
        assert piece not in shown, piece


LATE = "late-secret-4f1d9c2b7a60e8d3"  # known to the redactor only once the loop is built


def test_every_output_path_uses_the_one_redactor(smtp, webhook, recorder_command, monkeypatch):
    # Given one redactor shared by the loop and every notifier, which learns a secret only after
    # they were all built, and a check whose envelope (unusually) shows that secret
    command, command_runs = recorder_command
    monkeypatch.setenv("HOLDS_THE_SECRET", LATE)
    monkeypatch.setenv("UNRELATED", "kept")
    failing = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
        f"import sys; sys.stderr.write('oops {LATE}\\n'); sys.exit(4)"
    )
    redactor = Redactor()
    recorder = Recorder()
    notifiers = [
        EmailNotifier(smtp.host, smtp.port, "hc@example.com", ["ops@example.com"], timeout=5),
        WebhookNotifier(webhook.url, timeout=5, redactor=redactor),
        CommandNotifier(command, timeout=20, redactor=redactor),
        CommandNotifier(failing, timeout=20, redactor=redactor),
        recorder,
    ]
    leaky = envelope_for(False)
    leaky["error"]["text"] += f" (token {LATE})"
    log = io.StringIO()
    health = HealthCheck(
        lambda: leaky,
        interval=1,
        count=1,
        notifiers=notifiers,
        server_url=f"https://api.opsgenie.com/?apiKey={LATE}",
        redactor=redactor,
        log=log,
        sleep=lambda s: None,
    )
    redactor.add([LATE])
    # When it checks once and notifies
    summary = health.run()
    # Then every notifier was called, and the one failing says why without the secret
    assert summary.notifications_sent == 4 and summary.notifications_failed == 1
    assert "exit status 4: oops [REDACTED]" in log.getvalue()
    # ...every notification carries that one redactor (the e-mail's subject and text use it)...
    assert recorder.got[0].redactor is redactor
    # ...and the secret is on no way out: lines, e-mail, webhook body, command stdin, child env
    (run,) = command_runs()
    outputs = {
        "lines": log.getvalue(),
        "e-mail": b"".join(smtp.inbox.raw).decode(),
        "webhook": "".join(p["raw"].decode() for p in webhook.posts),
        "command stdin": run["stdin"],
        "child environment": json.dumps(run["env"]),
        "payload": json.dumps(recorder.got[0].payload()) + recorder.got[0].text(),
    }
    assert {name: LATE in text for name, text in outputs.items()} == dict.fromkeys(outputs, False)
    assert all(
        "[REDACTED]" in text for name, text in outputs.items() if name != "child environment"
    )
    assert "HOLDS_THE_SECRET" not in run["env"] and run["env"]["UNRELATED"] == "kept"


def test_the_cli_hands_one_redactor_to_logging_the_check_the_loop_and_every_notifier(
    sandbox, smtp, webhook, recorder_command, tmp_path, monkeypatch
):
    # Given spies on the health-check CLI's logging set-up and loop
    command, _ = recorder_command
    seen: dict[str, object] = {}
    configure = health_check_cli.configure_cli_logging

    def spy_logging(stream, verbosity, redactor):
        seen["logging"] = redactor
        return configure(stream, verbosity, redactor)

    class SpyHealthCheck(HealthCheck):
        def __init__(self, check, **kwargs):
            super().__init__(check, **kwargs)
            seen["health"] = self

    monkeypatch.setattr(health_check_cli, "configure_cli_logging", spy_logging)
    monkeypatch.setattr(health_check_cli, "HealthCheck", SpyHealthCheck)
    monkeypatch.setenv("HC_SMTP_PASSWORD", SMTP_PASSWORD)
    # When the CLI runs with every kind of notifier
    status, out, err = run_cli(
        "health-check",
        "--interval",
        "0.001",
        "--count",
        "1",
        "--connection",
        connection_file(tmp_path, sandbox),
        "--smtp-host",
        smtp.host,
        "--smtp-port",
        str(smtp.port),
        "--smtp-user",
        "hc",
        "--smtp-password-ref",
        "env:HC_SMTP_PASSWORD",
        "--mail-from",
        "hc@example.com",
        "--mail-to",
        "ops@example.com",
        "--webhook",
        webhook.url,
        "--exec",
        command,
    )
    assert status == 0, err
    # Then the log filter, the check, the loop and every notifier share one redactor, which
    # knows the API key and the SMTP password
    health = seen["health"]
    redactor = health.redactor
    assert seen["logging"] is redactor
    assert health.check.redactor is redactor
    kinds = [type(n) for n in health.notifiers]
    assert kinds == [EmailNotifier, WebhookNotifier, CommandNotifier]
    assert all(n.redactor is redactor for n in health.notifiers[1:])
    assert {KEY, SMTP_PASSWORD} <= redactor.secrets
