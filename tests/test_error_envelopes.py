"""Every failure reaches the envelope the same way, whichever command met it: OpsGenie's error
statuses (the error tab), bodies that are not OpsGenie's, no answer at all, bad Server URLs, bad
inputs and unknown commands. Nothing is sent for what is refused before the call."""

from __future__ import annotations

import json

import pytest
import requests
import requests_mock as rm
from conftest import API_KEY, REPO, load_fixture
from jsonschema import Draft202012Validator

from opsgenie_integration import errors

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))


def check_envelope(envelope):
    ENVELOPE.validate(envelope)
    assert API_KEY not in json.dumps(envelope)
    return envelope


# -- the error tab ----------------------------------------------------------------------------

ERROR_CASES = [
    # status, body kwargs, type, message, retryable
    (401, {"json": load_fixture("error_401.json")}, "auth", "Could not authenticate", False),
    (
        403,
        {"json": load_fixture("error_403_40301.json")},
        "forbidden",
        "To perform this action, use an API key from an API integration.",
        False,
    ),
    (
        404,
        {"json": load_fixture("error_404.json")},
        "not_found",
        "No schedule exists with name [Nope]",
        False,
    ),
    (
        422,
        {"json": load_fixture("error_422_key.json")},
        "unprocessable",
        "Key format is not valid!",
        False,
    ),
    (
        429,
        {"json": load_fixture("error_429.json")},
        "rate_limited",
        "You are making too many requests! To avoid errors, we recommend you limit requests.",
        True,
    ),
    (
        502,
        {
            "text": "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "headers": {"Content-Type": "text/html"},
        },
        "server",
        None,
        True,
    ),
    (
        503,
        {
            "text": "<!DOCTYPE html><html><body>Service Unavailable</body></html>",
            "headers": {"Content-Type": "text/html"},
        },
        "server",
        None,
        True,
    ),
    (
        504,
        {
            "text": "<html>Gateway Timeout</html>",
            "headers": {"Content-Type": "text/html; charset=utf-8"},
        },
        "server",
        None,
        True,
    ),
    (
        404,
        {"text": "404 page not found", "headers": {"Content-Type": "text/plain"}},
        "not_found",
        None,
        False,
    ),
    (
        402,
        {"json": {"message": "Your plan does not allow this", "took": 0, "requestId": "x"}},
        "plan",
        "Your plan does not allow this",
        False,
    ),
]


@pytest.mark.parametrize("status, body, kind, message, retryable", ERROR_CASES)
def test_error_status_maps_to_type_message_and_retryability(
    integration, conn, status, body, kind, message, retryable
):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=status, reason="Reason", **body)
        envelope = check_envelope(integration.run("Get Schedules", {}, conn))
    error = envelope["error"]
    assert envelope["return_data"] == "Failed"
    assert error["failure_indicator"] == "Get Schedules failed."
    assert (
        error["status_code"] == status and error["type"] == kind and error["retryable"] is retryable
    )
    if message:
        assert error["message"] == message
        assert error["text"].startswith(
            f"Get Schedules failed. Status Code: {status}. Message: {message.rstrip('.!')}"
        )
        assert error["request_id"] == body["json"]["requestId"]
        assert envelope["raw_data"] == body["json"]
    else:
        assert error["message"].startswith(f"HTTP {status} Reason")
        assert ("HTML" in error["message"]) == ("html" in body["headers"]["Content-Type"])
    if status == 403:
        assert error["code"] == 40301
    hint = errors.STATUS_TABLE[status][1] if status in errors.STATUS_TABLE else None
    if status >= 500:
        hint = errors.error_class_for_status(status)[1]
    if status == 429 or status >= 500:  # what the retries did, truthfully (none: max_retry_time 0)
        assert "retries ran out" not in error["hint"] and error["hint"] in error["text"]
        assert "o retry was made (Max Retry Time is 0: retries are off)" in error["hint"]
        return
    assert error["hint"] == hint and hint in error["text"]


def test_401_text_names_both_regions(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=401, json=load_fixture("error_401.json"))
        envelope = integration.run("Get Schedules", {}, conn)
    assert envelope["error"]["text"].startswith(
        "Get Schedules failed. Status Code: 401. Message: Could not authenticate."
    )
    assert "US" in envelope["error"]["text"] and "EU" in envelope["error"]["text"]
    assert envelope["error"]["hint"] == errors.REGION_HINT


def test_422_keeps_opsgenie_errors_map_and_names_the_refused_field(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=422, json=load_fixture("error_422_fields.json"))
        envelope = integration.run("Get Schedules", {}, conn)
    assert envelope["error"]["errors"] == {"limit": "must be less than or equal to 100"}
    assert envelope["error"]["hint"] == "OpsGenie refused the value of: limit."


@pytest.mark.parametrize(
    "refused, hint",
    [
        ({"query": "bad"}, "OpsGenie refused the value of: query."),
        ({"query": "bad", "limit": "too big"}, "OpsGenie refused the value of: query, limit."),
        ({}, errors.STATUS_TABLE[422][1]),
        (["query"], errors.STATUS_TABLE[422][1]),
    ],
)
def test_422_hint_names_every_refused_field_and_only_those(integration, conn, refused, hint):
    body = {"message": "Request body is not processable.", "errors": refused, "requestId": "r"}
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=422, json=body)
        envelope = check_envelope(integration.run("Get Schedules", {}, conn))
    assert envelope["error"]["hint"] == hint and envelope["error"]["type"] == "unprocessable"


@pytest.mark.parametrize(
    "body, what",
    [
        ("", "an empty body"),
        ("<html><body>Login</body></html>", "not JSON"),
        ("[1, 2]", "JSON that is not an object"),
        ('{"data": [', "not JSON"),
    ],
)
def test_200_without_a_json_object_is_a_bad_response(integration, conn, body, what):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=200, text=body)
        envelope = check_envelope(integration.run("Get Schedules", {}, conn))
    assert envelope["error"]["type"] == "bad_response" and envelope["error"]["status_code"] == 200
    assert what in envelope["error"]["message"]


@pytest.mark.parametrize(
    "exc, kind, words",
    [
        (requests.exceptions.ConnectTimeout, "timeout", "did not answer"),
        (requests.exceptions.ReadTimeout, "timeout", "did not answer"),
        (
            requests.exceptions.ConnectionError("Connection refused"),
            "transport",
            "Could not connect",
        ),
        (requests.exceptions.ChunkedEncodingError, "transport", "closed before the whole answer"),
        (requests.exceptions.SSLError, "transport", "TLS"),
    ],
)
def test_no_answer_is_a_retryable_transport_error(integration, conn, exc, kind, words):
    with rm.Mocker() as m:
        m.get(rm.ANY, exc=exc)
        envelope = check_envelope(
            integration.run("Get Single User", {"user": "x@example.com"}, conn)
        )
    error = envelope["error"]
    assert error["type"] == kind and error["status_code"] is None and error["retryable"] is True
    assert words in error["message"]
    assert error["text"].startswith("Get Single User failed. Message: ")


def test_server_url_trailing_slashes_and_version_are_normalised(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("schedules.json"))
        integration.run(
            "Get Schedules", {}, {**conn, "server_url": "https://api.eu.opsgenie.com//"}
        )
        integration.run(
            "Get Schedules", {}, {**conn, "server_url": "https://api.eu.opsgenie.com/v2/"}
        )
    assert [r.url for r in m.request_history] == ["https://api.eu.opsgenie.com/v2/schedules"] * 2


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://api.opsgenie.com", "https"),
        ("ftp://api.opsgenie.com", "expected"),
        ("https://user:pw@api.opsgenie.com", "credentials"),
        ("https://api.opsgenie.com/some/path", "path"),
        ("not a url", "expected"),
    ],
)
def test_bad_server_url_is_a_clear_error(integration, conn, url, words):
    with rm.Mocker() as m:
        envelope = check_envelope(integration.run("Get Schedules", {}, {**conn, "server_url": url}))
        assert m.request_history == []
    assert envelope["error"]["type"] == "configuration"
    assert (
        "Server URL (server_url)" in envelope["error"]["message"]
        and words in envelope["error"]["message"]
    )


def test_http_allowed_for_loopback(integration, conn):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("schedules.json"))
        envelope = integration.run(
            "Get Schedules", {}, {**conn, "server_url": "http://127.0.0.1:8080"}
        )
    assert (
        envelope["return_data"] == "Successful"
        and m.request_history[0].url == "http://127.0.0.1:8080/v2/schedules"
    )


def test_invalid_input_sends_nothing(integration, conn):
    with rm.Mocker() as m:
        envelope = check_envelope(
            integration.run(
                "Get Schedule Timeline",
                {
                    "Schedule Name": "   ",
                    "Interval": "two",
                    "Interval Unit": "hours",
                    "Date": "31/02/2024",
                    "Expand": "all",
                    "Colour": "red",
                },
                conn,
            )
        )
        assert m.request_history == []
    error = envelope["error"]
    assert error["type"] == "validation" and error["status_code"] is None
    for words in (
        "Unknown input 'Colour'",
        "Schedule Name (schedule_name): must not be empty",
        "Interval (interval): expected an integer, got 'two'",
        "Interval Unit (interval_unit): expected one of days, weeks, months, got 'hours'",
        "Date (date): expected a time",
        "Expand (expand): expected a comma-separated list",
    ):
        assert words in error["message"]
    assert set(error["errors"]) == {
        "Colour",
        "Schedule Name",
        "Interval",
        "Interval Unit",
        "Date",
        "Expand",
    }


def test_unknown_command_is_a_failed_envelope_naming_it(integration, conn):
    envelope = check_envelope(integration.run("Delete Everything", {}, conn))
    assert (
        envelope["command"] == "Delete Everything"
        and "Unknown command" in envelope["error"]["message"]
    )
    assert envelope["return_data"] == "Failed" and envelope["error"]["status_code"] is None
