"""The health check end to end: the sandbox switches the key's rights between checks; real SMTP,
webhook and command notifiers.
"""

from __future__ import annotations

import io
import json

from opsgenie_integration.healthcheck import (
    CommandNotifier,
    EmailNotifier,
    HealthCheck,
    TestConnectionCheck,
    WebhookNotifier,
)
from opsgenie_integration.redact import Redactor

from .helpers import (
    ALL_RIGHTS,
    KEY,
)


def test_rights_switched_in_the_sandbox_notify_by_email_webhook_and_command(
    sandbox, key_rights, smtp, webhook, recorder_command, integration
):
    # Given a key whose Configuration access is removed before check 2 and given back before check 4
    command, command_runs = recorder_command
    redactor = Redactor()
    check = TestConnectionCheck(integration, {"server_url": sandbox.url, "api_key": KEY}, redactor)
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
        CommandNotifier(command, timeout=20, redactor=redactor),
    ]
    health = HealthCheck(
        check,
        interval=1,
        count=4,
        notifiers=notifiers,
        server_url=sandbox.url,
        redactor=redactor,
        log=log,
        sleep=sleep,
    )
    # When
    summary = health.run()
    # Then pass, fail, fail, pass: two changes of state, notified by all three notifiers
    assert [r.state for r in summary.results] == ["passed", "failed", "failed", "passed"]
    assert summary.notifications_sent == 6 and summary.notifications_failed == 0, log.getvalue()
    assert KEY in redactor.secrets  # the check taught the one redactor the key

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
    assert "Create Alert: not checked: only a write would show" in body
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
