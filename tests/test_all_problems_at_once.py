"""Every bad input and every bad connection setting is named in one Failed envelope (issue:
README's "Invalid input names every bad parameter at once"); nothing is sent."""

from __future__ import annotations

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE

from opsgenie_integration.date_formats import check_date_format, check_time_zone
from opsgenie_integration.times import parse_user_time
from opsgenie_integration.validation import DEFAULT_END_LAG_S


def ambiguous(text: str) -> str:
    """What reading ``text`` without a Date Format says (the date_formats module's own words)."""
    with pytest.raises(ValueError) as caught:
        parse_user_time(text)
    return str(caught.value)


@pytest.fixture
def settings():
    return {"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0}


def own_text(check, value) -> str:
    """The text the setting's own check (date_formats) gives, without the setting's id."""
    with pytest.raises(ValueError) as caught:
        check(value)
    return str(caught.value).split(": ", 1)[1]


def failed(integration, command, inputs, settings):
    with rm.Mocker() as mock:  # no route: any request would fail the test
        envelope = integration.run(command, inputs, settings)
        assert mock.call_count == 0
    assert envelope["return_data"] == "Failed"
    return envelope["error"]


def test_both_ambiguous_times_are_named(integration, settings):
    error = failed(
        integration,
        "Fetch Event",
        {"Start Time": "03/04/2026 10:00", "End Time": "05/04/2026 10:00"},
        settings,
    )
    assert error["type"] == "validation"
    assert error["message"] == (
        f"Start Time (start_time): {ambiguous('03/04/2026 10:00')}; "
        f"End Time (end_time): {ambiguous('05/04/2026 10:00')}"
    )


def test_ambiguous_start_with_bad_limit_and_enrich(integration, settings):
    error = failed(
        integration,
        "Fetch Event",
        {"Start Time": "03/04/2026 10:00", "limit": 500, "Enrich": "maybe"},
        settings,
    )
    assert error["message"] == (
        f"Start Time (start_time): {ambiguous('03/04/2026 10:00')}; "
        "Number of Event(s) Fetched (limit): expected a number at least 1 and at most 100, got 500; "
        "Enrich (enrich): expected true or false, got 'maybe'"
    )


def test_date_format_setting_reads_the_times_before_the_call(integration, settings):
    error = failed(
        integration,
        "Fetch Event",
        {"Start Time": "05/04/2026 10:00", "End Time": "03/04/2026 10:00"},
        {**settings, "date_format": "DD/MM/YYYY HH:mm"},
    )
    assert error["message"] == "Start Time (start_time): must be before End Time (end_time)"


def test_bad_field_mapping_file_named_with_the_limit(integration, settings, tmp_path):
    missing = tmp_path / "nope.yaml"
    error = failed(
        integration, "Fetch Event", {"limit": 500, "Field Mapping File": str(missing)}, settings
    )
    assert error["message"] == (
        "Number of Event(s) Fetched (limit): expected a number at least 1 and at most 100, got 500; "
        f"Field Mapping File {str(missing)!r}: does not exist"
    )


def test_field_mapping_needing_enrich_named_with_the_limit(integration, settings, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "main_event_json_path: $.data\nfields:\n  - {field_name: Details, source_field: .details}\n"
    )
    error = failed(
        integration, "Fetch Event", {"limit": 0, "Field Mapping File": str(path)}, settings
    )
    assert error["message"] == (
        "Number of Event(s) Fetched (limit): expected a number at least 1 and at most 100, got 0; "
        "Field Mapping File (field_mapping): maps 'Details' (details): the alert list "
        "(GET /v2/alerts) never carries details, so every event would have null there. Turn "
        "Enrich on (one GET /v2/alerts/{id} per event, counted against the rate limit), or map a "
        "field the list carries"
    )


def test_start_now_without_end_is_refused(integration, settings):
    error = failed(integration, "Fetch Event", {"Start Time": "now"}, settings)
    assert error["message"] == (
        "Start Time (start_time): must be before the default End Time (end_time): the time of "
        f"the call minus {DEFAULT_END_LAG_S} s (alerts still being indexed are left to the next "
        "call); give an earlier Start Time"
    )


def test_default_end_lag_is_fetch_events_settle_time():
    from opsgenie_integration.commands.fetch_window import SETTLE_MS

    assert DEFAULT_END_LAG_S * 1000 == SETTLE_MS


def test_every_bad_setting_at_once(integration, settings, tmp_path, monkeypatch):
    monkeypatch.delenv("OPSGENIE_TEST_NOT_SET", raising=False)
    bad = {
        "server_url": "ftp://x",
        "api_key": "env:OPSGENIE_TEST_NOT_SET",
        "timeout": 0,
        "proxy": "socks5://proxy.example:1080",
        "ca_bundle": str(tmp_path / "none.pem"),
        "verify_tls": "maybe",
        "date_format": "YYYY",
        "time_zone": "Mars/Base",
    }
    error = failed(integration, "Get Schedules", {}, bad)
    assert error["type"] == "configuration"
    assert error["message"] == (
        "Server URL (server_url): expected https://api.opsgenie.com (US) or "
        "https://api.eu.opsgenie.com (EU); http only for loopback hosts; no path, query or "
        "credentials, got 'ftp://x'; "
        "API Key (api_key): the environment variable 'OPSGENIE_TEST_NOT_SET' named by "
        "'env:OPSGENIE_TEST_NOT_SET' is not set or empty; "
        "Timeout (timeout): expected a number above 0 and at most 600, got 0; "
        "Proxy (proxy): the scheme must be http or https (got socks5); SOCKS proxies are not "
        "supported; "
        f"CA Bundle (ca_bundle): {str(tmp_path / 'none.pem')!r} does not exist; "
        "Verify TLS (verify_tls): expected true or false, got 'maybe'; "
        f"Date Format (date_format): {own_text(check_date_format, 'YYYY')}; "
        f"Time Zone (time_zone): {own_text(check_time_zone, 'Mars/Base')}"
    )
    assert error["hint"] == "Check the secret reference 'env:OPSGENIE_TEST_NOT_SET'."


def test_connect_names_every_bad_setting(integration, settings):
    from opsgenie_integration.errors import ConnectionSettingsError

    with pytest.raises(ConnectionSettingsError) as caught:
        integration.connect({**settings, "timeout": 0, "verify_tls": "maybe", "proxy": "ftp://p"})
    assert [p["id"] for p in caught.value.problems] == ["timeout", "proxy", "verify_tls"]


def test_bad_inputs_and_bad_settings_in_one_error(integration, settings):
    error = failed(integration, "Fetch Event", {"limit": 500}, {**settings, "timeout": 0})
    assert error["message"] == (
        "Number of Event(s) Fetched (limit): expected a number at least 1 and at most 100, got 500; "
        "Timeout (timeout): expected a number above 0 and at most 600, got 0"
    )


def test_connection_that_is_not_a_mapping_is_named_connection(integration):
    error = failed(integration, "Get Schedules", {}, "notadict")
    assert error["type"] == "configuration"
    assert error["message"] == "connection must be an object of setting: value, got str"


def test_inputs_that_are_not_a_mapping_are_named_inputs(integration, settings):
    error = failed(integration, "Get Schedules", ["x"], settings)
    assert error["message"] == "inputs must be an object of input: value, got list"


def test_setting_given_under_two_spellings(integration, settings):
    error = failed(integration, "Get Schedules", {}, {**settings, "apikey": "x"})
    assert error["message"] == "API Key (api_key): given twice, as 'api_key' and 'apikey'"
    assert API_KEY not in str(error)
