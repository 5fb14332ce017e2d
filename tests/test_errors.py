"""The exception tree: which class each HTTP status gives, its hint, and what each error carries."""

from __future__ import annotations

import pytest

from opsgenie_integration import errors


@pytest.mark.parametrize(
    "status, cls",
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (402, errors.PaymentRequiredError),
        (403, errors.ForbiddenError),
        (404, errors.NotFoundError),
        (422, errors.UnprocessableError),
        (429, errors.RateLimitedError),
        (405, errors.UnexpectedStatusError),
        (499, errors.UnexpectedStatusError),
        (500, errors.ServerError),
        (503, errors.ServerError),
        (599, errors.ServerError),
        (600, errors.UnexpectedStatusError),
        (418, errors.UnexpectedStatusError),
    ],
)
def test_each_status_gives_its_class(status, cls):
    assert errors.error_class_for_status(status)[0] is cls


def test_status_hints_are_the_table_s_and_none_for_unlisted_statuses():
    assert errors.error_class_for_status(401)[1] == errors.REGION_HINT
    assert errors.error_class_for_status(500)[1] == (
        "OpsGenie or a proxy in front of it failed; the retries ran out. Try again later."
    )
    assert errors.error_class_for_status(418)[1] is None
    for status, (cls, hint) in errors.STATUS_TABLE.items():
        assert errors.error_class_for_status(status) == (cls, hint)
        assert hint, status


@pytest.mark.parametrize(
    "cls, kind, retryable",
    [
        (errors.BadRequestError, "bad_request", False),
        (errors.AuthenticationError, "auth", False),
        (errors.PaymentRequiredError, "plan", False),
        (errors.ForbiddenError, "forbidden", False),
        (errors.NotFoundError, "not_found", False),
        (errors.UnprocessableError, "unprocessable", False),
        (errors.UnexpectedStatusError, "unexpected_status", False),
        (errors.BadResponseError, "bad_response", False),
        (errors.RateLimitedError, "rate_limited", True),
        (errors.ServerError, "server", True),
    ],
)
def test_retriability_is_the_class(cls, kind, retryable):
    exc = cls(
        "m", status_code=500, code=1, errors={"f": "x"}, request_id="r", body={}, path="/v2/x"
    )
    assert (exc.error_type, exc.retryable) == (kind, retryable)
    assert isinstance(exc, errors.RetriableAPIError if retryable else errors.FatalAPIError)
    assert (exc.status_code, exc.code, exc.errors, exc.request_id, exc.body, exc.path) == (
        500,
        1,
        {"f": "x"},
        "r",
        {},
        "/v2/x",
    )
    assert exc.method == "GET" and exc.message == "m" and str(exc) == "m" and exc.hint is None


def test_transport_errors_are_retryable_without_a_status():
    for exc in (errors.TransportError("t"), errors.RequestTimeoutError("t")):
        assert exc.retryable is True and exc.status_code is None
    assert errors.RequestTimeoutError("t").error_type == "timeout"
    assert errors.TransportError("t").error_type == "transport"


def test_rate_limited_keeps_the_wait_asked_for():
    assert errors.RateLimitedError("m", status_code=429, retry_after=7.5).retry_after == 7.5
    assert errors.RateLimitedError("m", status_code=429).retry_after is None


def test_input_error_reports_every_problem_by_parameter():
    exc = errors.InputError(
        [
            {"parameter": "Start Time", "id": "start_time", "message": "Start Time: bad."},
            {"parameter": "Limit", "id": "limit", "message": "Limit: too big"},
        ]
    )
    assert exc.message == "Start Time: bad; Limit: too big"
    assert exc.errors == {"Start Time": "Start Time: bad.", "Limit": "Limit: too big"}
    assert (exc.error_type, exc.retryable, exc.status_code) == ("validation", False, None)
    assert errors.InputError([]).message == "Invalid input"
    assert errors.ConnectionSettingsError([]).error_type == "configuration"


def test_a_one_off_error_type_is_given_to_the_constructor():
    assert errors.OpsGenieIntegrationError("x", error_type="internal").error_type == "internal"
    assert errors.OpsGenieIntegrationError("x").error_type == "error"
    assert errors.OpsGenieIntegrationError.error_type == "error"  # the class is not changed
