"""The exception tree of the integration.

Every failure a command can meet is one of these; ``Integration.run`` turns them into the error
tab of the result envelope. Retriability is the class, not a flag::

    OpsGenieIntegrationError
    ├── InputError                  bad command input (validation)         no HTTP status
    │   └── ConnectionSettingsError bad connection settings or secret      no HTTP status
    ├── APIError                    OpsGenie answered with an error
    │   ├── FatalAPIError
    │   │   ├── BadRequestError         400
    │   │   ├── AuthenticationError     401  key unknown, or wrong region
    │   │   ├── PaymentRequiredError    402  the plan forbids the call
    │   │   ├── ForbiddenError          403  key lacks a right (code 40301)
    │   │   ├── NotFoundError           404
    │   │   ├── UnprocessableError      422  malformed key, bad parameter or query
    │   │   ├── UnexpectedStatusError   any other status
    │   │   ├── BadResponseError        2xx whose body is empty or not JSON
    │   │   └── RequestFailedError      a write OpsGenie processed and reports failed
    │   └── RetriableAPIError
    │       ├── RateLimitedError        429
    │       └── ServerError             5xx
    ├── OutcomeUnknownError         a write that may have been applied: 5xx or no answer
    └── TransportError              no answer: refused, timed out, reset (retriable)
        ├── RequestTimeoutError
        ├── ProxyError                  the proxy cannot be reached (retriable)
        │   └── ProxyAuthenticationError  the proxy refused: 407 or its policy (not retriable)
        └── TlsVerificationError        the certificate is not trusted (not retriable)

The client raises them (``error_class_for_status`` picks the class from ``STATUS_TABLE``; a 422
whose ``errors`` name fields gets a hint naming them); nothing here knows about the envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class OpsGenieIntegrationError(Exception):
    """Root of every error the integration reports.

    Attributes:
        message: a sentence a person can act on (OpsGenie's own message where it sent one).
        status_code: HTTP status, or ``None`` when no answer came back.
        error_type: short machine name used in the envelope (``auth``, ``rate_limited``...).
        retryable: whether trying the same call again later may succeed.
        hint: what to check, or ``None``.
    """

    error_type = "error"
    retryable = False

    def __init__(
        self, message: str, *, hint: str | None = None, error_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if error_type is not None:  # a one-off kind (internal, interrupted) without its own class
            self.error_type = error_type
        self.status_code: int | None = None
        self.code: int | None = None
        self.request_id: str | None = None
        self.errors: Any = None
        self.body: Any = None


class InputError(OpsGenieIntegrationError):
    """One or more command inputs are invalid.

    Attributes:
        problems: ``[{"parameter": display name, "id": input id, "message": ...}]``, every
            problem found, not only the first.
    """

    error_type = "validation"

    def __init__(self, problems: list, *, hint: str | None = None) -> None:
        self.problems = list(problems)
        text = "; ".join(p["message"].rstrip(".") for p in self.problems) or "Invalid input"
        super().__init__(text, hint=hint)
        self.errors = {p["parameter"]: p["message"] for p in self.problems}


class ConnectionSettingsError(InputError):
    """The connection settings (server URL, API key or its reference, version) are unusable."""

    error_type = "configuration"


class APIError(OpsGenieIntegrationError):
    """OpsGenie (or a proxy in front of it) answered with an error.

    Attributes:
        status_code: the HTTP status.
        code: OpsGenie's numeric ``code`` (e.g. 40301), when sent.
        errors: OpsGenie's ``errors`` map (field -> message), when sent.
        request_id: OpsGenie's ``requestId`` (or the ``X-Request-ID`` header).
        body: the decoded JSON body, or ``None`` when the body was not JSON.
        method, path: the request that failed (path without the query string).
        opsgenie_error_type: OpsGenie's ``X-Opsgenie-Errortype`` header (``RequestNotProcessed``
            on a request status not known yet), or ``None``.
    """

    error_type = "api"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None,
        code: int | None = None,
        errors: Any = None,
        request_id: str | None = None,
        body: Any = None,
        method: str = "GET",
        path: str = "",
        hint: str | None = None,
        opsgenie_error_type: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.code = code
        self.errors = errors
        self.request_id = request_id
        self.body = body
        self.method = method
        self.path = path
        self.opsgenie_error_type = opsgenie_error_type


class FatalAPIError(APIError):
    """An answer that trying again will not change."""


class BadRequestError(FatalAPIError):
    error_type = "bad_request"


class AuthenticationError(FatalAPIError):
    error_type = "auth"


class PaymentRequiredError(FatalAPIError):
    error_type = "plan"


class ForbiddenError(FatalAPIError):
    error_type = "forbidden"


class NotFoundError(FatalAPIError):
    error_type = "not_found"


class UnprocessableError(FatalAPIError):
    error_type = "unprocessable"


class UnexpectedStatusError(FatalAPIError):
    error_type = "unexpected_status"


class BadResponseError(FatalAPIError):
    """A successful status whose body is empty or is not the JSON OpsGenie sends."""

    error_type = "bad_response"


class RequestFailedError(FatalAPIError):
    """OpsGenie processed a queued write (202) and its request status says ``isSuccess: false``;
    ``message`` carries OpsGenie's ``status`` text, ``request_id`` the write's requestId."""

    error_type = "request_failed"


class OutcomeUnknownError(OpsGenieIntegrationError):
    """A write (POST, DELETE) that may have reached OpsGenie and changed something: it answered
    5xx, or no whole answer came back after the request was sent. Never retried automatically
    (it could apply twice); ``request_id`` is OpsGenie's when one came back.

    Attributes:
        cause: the error as the client first classified it (ServerError, TransportError...).
    """

    error_type = "outcome_unknown"

    def __init__(
        self,
        what: str,
        cause: OpsGenieIntegrationError,
        *,
        request_id: str | None = None,
    ) -> None:
        check = (
            f"check Get Request Status with requestId {request_id}"
            if request_id
            else "no requestId came back: look the alert up (Get Alert, by alias for Create "
            "Alert) before trying again"
        )
        super().__init__(
            f"{what}: {cause.message.rstrip('.')}; the write may have been applied; {check}.",
            hint="Do not repeat the write blindly: a Create Alert repeated with the same alias "
            "only raises the open alert's count.",
        )
        self.cause = cause
        self.status_code = cause.status_code
        self.code = cause.code
        self.request_id = request_id
        self.body = cause.body


class RetriableAPIError(APIError):
    """An answer that may succeed when tried again later."""

    retryable = True


class RateLimitedError(RetriableAPIError):
    """429 after the retries ran out, or with none made. ``retry_after`` is the wait the server
    asked for, in s; ``reason`` OpsGenie's ``X-RateLimit-Reason`` (``ACCOUNT``...), or None."""

    error_type = "rate_limited"

    def __init__(
        self,
        *args: Any,
        retry_after: float | None = None,
        reason: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after
        self.reason = reason


class ServerError(RetriableAPIError):
    error_type = "server"


class TransportError(OpsGenieIntegrationError):
    """No usable answer came back: connection refused, reset, DNS, TLS, or a timeout."""

    error_type = "transport"
    retryable = True


class RequestTimeoutError(TransportError):
    error_type = "timeout"


class ProxyError(TransportError):
    """The proxy could not be reached or cut the connection. ``proxy`` names it without its
    password (``http://user@host:port``)."""

    error_type = "proxy"

    def __init__(self, message: str, *, proxy: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.proxy = proxy


class ProxyAuthenticationError(ProxyError):
    """The proxy refused the request: 407 (credentials missing or wrong) or its policy."""

    retryable = False


class TlsVerificationError(TransportError):
    """The server's certificate could not be verified: trying again will not change it."""

    error_type = "tls"
    retryable = False


REGION_HINT = (
    "Check the API Key, and that Server URL is the account's region: "
    "https://api.opsgenie.com (US) or https://api.eu.opsgenie.com (EU)."
)

#: HTTP status -> (exception class, hint). Classification is by status (and ``code``), never by
#: message text. Statuses not listed fall back by range (5xx: ServerError, else
#: UnexpectedStatusError).
STATUS_TABLE: Mapping[int, tuple] = {
    400: (BadRequestError, "Check the command inputs."),
    401: (AuthenticationError, REGION_HINT),
    402: (PaymentRequiredError, "The OpsGenie plan of this account does not allow this call."),
    403: (
        ForbiddenError,
        "The key lacks the right this call needs (Read for alerts; Configuration access for "
        "schedules, on-calls, timelines, users and account), is scoped to another team, or is "
        "not the key of an API integration.",
    ),
    404: (
        NotFoundError,
        "Check the name or id (names are matched exactly, case included), and the Server "
        "URL and API Version.",
    ),
    422: (
        UnprocessableError,
        "OpsGenie refused a value: a malformed API key (or a user's key instead of an API "
        "integration's key), or an invalid parameter or search query.",
    ),
    429: (
        RateLimitedError,
        "OpsGenie's rate limit was reached; try again later or lower the call rate (the client "
        "replaces this with the wait asked for and the retries made).",
    ),
}


def error_class_for_status(status: int) -> tuple:
    """Exception class and hint for an HTTP error status (see ``STATUS_TABLE``)."""
    if status in STATUS_TABLE:
        return STATUS_TABLE[status]
    if 500 <= status <= 599:
        return (
            ServerError,
            "OpsGenie or a proxy in front of it failed; the retries ran out. Try again later.",
        )
    return (UnexpectedStatusError, None)
