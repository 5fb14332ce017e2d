"""What every notifier is given: the payload, the safe webhook name, the notify timeout bounds."""

from __future__ import annotations

import pytest

from opsgenie_integration.healthcheck import (
    CommandNotifier,
    EmailNotifier,
    WebhookNotifier,
    safe_url,
)

from .helpers import (
    envelope_for,
    run_scripted,
)


def test_notification_payload_is_the_envelope_with_a_health_check_key():
    _summary, recorder, _, _ = run_scripted([False])
    payload = recorder.got[0].payload()
    assert {
        k: payload[k]
        for k in ("command", "return_data", "raw_data", "error", "readable", "commands")
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


@pytest.mark.parametrize("timeout", [float("inf"), 1e300, float("nan"), 0, -1, 3601])
def test_notifiers_refuse_an_unusable_timeout(timeout):
    for make in (
        lambda: EmailNotifier("localhost", 25, "a@example.com", ["b@example.com"], timeout=timeout),
        lambda: WebhookNotifier("https://hooks.example.com/x", timeout=timeout),
        lambda: CommandNotifier("true", timeout=timeout),
    ):
        with pytest.raises(ValueError, match="notify timeout"):
            make()
