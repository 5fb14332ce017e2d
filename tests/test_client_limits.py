"""The client's limits and error branches, each with its exact value: what the constructor refuses,
the paging bounds of the alert list, the 8 MB body cap and the answer deadline, the parameters
that go out, and the class, message, hint and retryability of every failure."""

from __future__ import annotations

import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import requests_mock as rm
import urllib3
from conftest import API_KEY, BASE

from opsgenie_integration import errors
from opsgenie_integration.client import OpsGenieClient
from opsgenie_integration.network import NetworkSettings

pytestmark = pytest.mark.no_contract  # many answers here are deliberately not OpsGenie's

ACCOUNT = f"{BASE}/v2/account"
OK = {"data": {"name": "acme"}, "took": 0.01, "requestId": "r-1"}


@pytest.fixture
def client():
    with OpsGenieClient(BASE, API_KEY, timeout=10, max_retry_time=0) as c:
        yield c


# -- the constructor ---------------------------------------------------------------------------
def test_the_session_carries_the_key_the_timeouts_and_no_environment():
    c = OpsGenieClient(BASE, API_KEY, timeout=7, max_retry_time=12)
    assert c.timeout == (5.0, 7.0)
    assert c.max_retry_time == 12.0 and isinstance(c.max_retry_time, float)
    assert c.session.headers["Authorization"] == f"GenieKey {API_KEY}"
    assert c.session.headers["Accept"] == "application/json"
    assert c.session.headers["User-Agent"] == "opsgenie-integration/0.1"
    assert c.session.trust_env is False
    assert c.requests_sent == 0 and c.last_rate_limit == {}
    assert c.base_url == BASE and c.api_version == "v2"


@pytest.mark.parametrize("key", ["", "has space", "tab\tkey", "del\x7f", "caf\u00e9", "\x1f"])
def test_a_key_that_cannot_travel_in_a_header_is_refused(key):
    with pytest.raises(ValueError, match="must be printable ASCII without spaces"):
        OpsGenieClient(BASE, key)


def test_the_printable_ascii_extremes_are_accepted():
    assert OpsGenieClient(BASE, "!~").session.headers["Authorization"] == "GenieKey !~"


@pytest.mark.parametrize("version", ["", "2", "v2/x", None])
def test_an_api_version_that_is_not_like_v2_is_refused(version):
    with pytest.raises(ValueError, match="^API Version must look like v2$"):
        OpsGenieClient(BASE, API_KEY, version)


# -- the alert list's paging bounds -------------------------------------------------------------
@pytest.mark.parametrize(
    "offset, limit",
    [(0, 1), (0, 100), (19_900, 100), (19_999, 1)],
)
def test_paging_up_to_20000_is_sent(client, offset, limit):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json={"data": [], "took": 0, "requestId": "r"})
        client.list_alerts(offset=offset, limit=limit)
    assert m.request_history[0].qs == {
        "offset": [str(offset)],
        "limit": [str(limit)],
        "sort": ["createdat"],
        "order": ["desc"],
    }


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"limit": 0}, "limit must be 1..100 and offset >= 0"),
        ({"limit": 101}, "limit must be 1..100 and offset >= 0"),
        ({"offset": -1}, "limit must be 1..100 and offset >= 0"),
        ({"offset": 19_901, "limit": 100}, "offset + limit must not exceed 20000"),
        ({"offset": 20_000, "limit": 1}, "offset + limit must not exceed 20000"),
        ({"sort": "nope"}, "unknown sort field or order"),
        ({"order": "up"}, "unknown sort field or order"),
    ],
)
def test_paging_out_of_bounds_is_refused_before_anything_is_sent(client, kwargs, message):
    with rm.Mocker() as m:
        with pytest.raises(ValueError, match=f"^{message.replace('+', '[+]')}$"):
            client.list_alerts(**kwargs)
    assert m.request_history == []


def test_the_first_page_of_20_newest_alerts_is_the_default(client):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json={"data": [], "took": 0, "requestId": "r"})
        client.list_alerts()
    assert m.request_history[0].qs == {
        "offset": ["0"],
        "limit": ["20"],
        "sort": ["createdat"],
        "order": ["desc"],
    }


def test_the_list_sends_the_query_sort_and_order_given(client):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", json={"data": [], "took": 0, "requestId": "r"})
        client.list_alerts(query="status: open", offset=5, limit=7, sort="updatedAt", order="asc")
    request = m.request_history[0]
    assert request.qs == {
        "query": ["status: open"],
        "offset": ["5"],
        "limit": ["7"],
        "sort": ["updatedat"],
        "order": ["asc"],
    }
    assert "status%3A+open" in request.url or "status%3A%20open" in request.url


# -- the parameters of the other endpoints -----------------------------------------------------
@pytest.mark.parametrize(
    "call, path, query",
    [
        (lambda c: c.count_alerts(), "/v2/alerts/count", {}),
        (lambda c: c.list_schedules(), "/v2/schedules", {}),
        (
            lambda c: c.list_schedules(expand_rotations=True),
            "/v2/schedules",
            {"expand": "rotation"},
        ),
        (lambda c: c.get_user("a b"), "/v2/users/a%20b", {}),
        (lambda c: c.get_user("u", expand_contacts=True), "/v2/users/u", {"expand": "contact"}),
        (lambda c: c.list_users(), "/v2/users", {"limit": "1"}),
        (lambda c: c.get_alert("x/y"), "/v2/alerts/x%2Fy", {"identifierType": "id"}),
        (
            lambda c: c.get_saved_search("mine"),
            "/v2/alerts/saved-searches/mine",
            {"identifierType": "name"},
        ),
        (
            lambda c: c.get_on_calls("s"),
            "/v2/schedules/s/on-calls",
            {"scheduleIdentifierType": "name"},
        ),
        (
            lambda c: c.get_on_calls("s", flat=True),
            "/v2/schedules/s/on-calls",
            {"scheduleIdentifierType": "name", "flat": "true"},
        ),
        (
            lambda c: c.get_next_on_calls("s", flat=False, identifier_type="id"),
            "/v2/schedules/s/next-on-calls",
            {"scheduleIdentifierType": "id", "flat": "false"},
        ),
        (lambda c: c.list_on_calls(flat=False), "/v2/schedules/on-calls", {"flat": "false"}),
        (lambda c: c.list_on_calls(), "/v2/schedules/on-calls", {}),
        (
            lambda c: c.get_schedule_timeline(
                "s", interval=2, interval_unit="weeks", expand=["base", "override"]
            ),
            "/v2/schedules/s/timeline",
            {
                "identifierType": "name",
                "interval": "2",
                "intervalUnit": "weeks",
                "expand": "base,override",
            },
        ),
        (lambda c: c.get_team("t", identifier_type="id"), "/v2/teams/t", {"identifierType": "id"}),
        (lambda c: c.list_teams(), "/v2/teams", {}),
        (lambda c: c.get_escalation("e"), "/v2/escalations/e", {"identifierType": "name"}),
        (lambda c: c.list_escalations(), "/v2/escalations", {}),
        (lambda c: c.get_schedule("s"), "/v2/schedules/s", {"identifierType": "name"}),
        (lambda c: c.get_account(), "/v2/account", {}),
    ],
)
def test_each_endpoint_sends_its_path_and_only_the_parameters_given(client, call, path, query):
    with rm.Mocker() as m:
        m.get(rm.ANY, json=OK)
        assert call(client) == OK
    request = m.request_history[0]
    assert request.path == path.lower()
    assert request.url.split("?")[0] == BASE + path
    assert dict(parse_qsl(urlsplit(request.url).query)) == query  # case kept, each once


# -- the body cap and the answer deadline --------------------------------------------------------
def _json_of_size(size: int) -> bytes:
    head, tail = b'{"data":"', b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


def test_a_body_of_exactly_8_mb_is_read_one_byte_more_is_refused(client):
    with rm.Mocker() as m:
        m.get(ACCOUNT, content=_json_of_size(8_000_000))
        assert len(client.get_account()["data"]) == 8_000_000 - 11
        m.get(ACCOUNT, content=_json_of_size(8_000_001), status_code=200)
        with pytest.raises(errors.BadResponseError) as caught:
            client.get_account()
    exc = caught.value
    assert exc.message == (
        "The answer to GET /v2/account is larger than 8 MB; OpsGenie's answers are far smaller."
    )
    assert exc.status_code == 200 and exc.path == "/v2/account" and exc.retryable is False
    assert exc.hint == "Check the Server URL: something other than OpsGenie answered."


class _Drip(BaseHTTPRequestHandler):
    """200 with a body that never ends: one byte every 0.1 s (each well within the read
    timeout), until the client hangs up."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(300):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def dripping_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_must_be_complete_within_two_read_timeouts(dripping_server):
    started = time.monotonic()
    with OpsGenieClient(dripping_server, API_KEY, timeout=0.5, max_retry_time=0) as c:
        with pytest.raises(errors.RequestTimeoutError) as caught:
            c.get_account()
    assert caught.value.message == (
        "The answer to GET /v2/account kept arriving for more than 1 s; it was abandoned."
    )
    assert caught.value.retryable is True
    assert 1.0 <= time.monotonic() - started < 15.0  # abandoned, not read for the 30 s it drips


# -- what a request leaves behind ----------------------------------------------------------------
def test_requests_are_counted_and_rate_limit_headers_kept(client):
    with rm.Mocker() as m:
        m.get(
            ACCOUNT,
            json=OK,
            headers={"X-RateLimit-State": "OK", "x-ratelimit-period-in-sec": "60", "X-Other": "1"},
        )
        client.get_account()
        client.get_account()
    assert client.requests_sent == 2
    assert {k.lower(): v for k, v in client.last_rate_limit.items()} == {
        "x-ratelimit-state": "OK",
        "x-ratelimit-period-in-sec": "60",
    }


# -- 2xx answers that are not OpsGenie's --------------------------------------------------------
@pytest.mark.parametrize(
    "content, headers, what",
    [
        (b"", {}, "an empty body"),
        (b"  \n", {}, "an empty body"),
        (b"[1, 2]", {}, "JSON that is not an object"),
        (
            b"NaN",
            {"Content-Type": "application/json"},
            "a body that is not JSON (application/json: NaN)",
        ),
        (b'{"a": 1e999}', {}, 'a body that is not JSON (no Content-Type: {"a": 1e999})'),
        (
            b"hello   world",
            {"Content-Type": "text/plain"},
            "a body that is not JSON (text/plain: hello world)",
        ),
    ],
)
def test_a_2xx_that_is_not_a_json_object_is_a_bad_response(client, content, headers, what):
    with rm.Mocker() as m:
        m.get(ACCOUNT, content=content, headers={"X-Request-ID": "hdr-1", **headers})
        with pytest.raises(errors.BadResponseError) as caught:
            client.get_account()
    exc = caught.value
    assert exc.message == f"OpsGenie answered 200 to GET /v2/account with {what}."
    assert exc.request_id == "hdr-1" and exc.status_code == 200 and exc.retryable is False
    assert exc.hint == "A proxy may stand in front of the Server URL; check the Server URL."


def test_a_long_body_that_is_not_json_is_cut_at_80_characters(client):
    with rm.Mocker() as m:
        m.get(ACCOUNT, content=b"x" * 81, headers={"Content-Type": "text/plain"})
        with pytest.raises(errors.BadResponseError) as caught:
            client.get_account()
    assert f"(text/plain: {'x' * 80}...)" in caught.value.message
    with rm.Mocker() as m:
        m.get(ACCOUNT, content=b"y" * 80, headers={"Content-Type": "text/plain"})
        with pytest.raises(errors.BadResponseError) as caught:
            client.get_account()
    assert f"(text/plain: {'y' * 80})" in caught.value.message


def test_the_key_in_a_body_that_is_not_json_is_hidden(client):
    with rm.Mocker() as m:
        m.get(ACCOUNT, content=f"echo {API_KEY}".encode(), headers={"Content-Type": "text/plain"})
        with pytest.raises(errors.BadResponseError) as caught:
            client.get_account()
    assert API_KEY not in caught.value.message


# -- error statuses -----------------------------------------------------------------------------
def _raised(client, **answer) -> errors.OpsGenieIntegrationError:
    with rm.Mocker() as m:
        m.get(ACCOUNT, **answer)
        with pytest.raises(errors.OpsGenieIntegrationError) as caught:
            client.get_account()
    return caught.value


def test_opsgenie_error_fields_are_kept_when_of_the_right_type(client):
    body = {"message": "Nope", "code": 40301, "errors": {"x": "y"}, "requestId": "r-9", "took": 0}
    exc = _raised(client, status_code=403, json=body, headers={"X-Request-ID": "hdr"})
    assert type(exc) is errors.ForbiddenError and exc.retryable is False
    assert (exc.message, exc.code, exc.errors, exc.request_id) == ("Nope", 40301, {"x": "y"}, "r-9")
    assert exc.body == body and exc.path == "/v2/account" and exc.status_code == 403


def test_opsgenie_error_fields_of_the_wrong_type_are_dropped(client):
    body = {"message": 5, "code": "40301", "requestId": 7}
    exc = _raised(
        client, status_code=400, reason="Bad Request", json=body, headers={"X-Request-ID": "hdr"}
    )
    assert type(exc) is errors.BadRequestError
    assert exc.code is None and exc.request_id == "hdr"
    assert exc.message == 'HTTP 400 Bad Request: {"message": 5, "code": "40301", "requestId": 7}'


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            {"status_code": 500, "reason": "Internal Server Error", "content": b""},
            "HTTP 500 Internal Server Error with an empty body.",
        ),
        (
            {"status_code": 502, "reason": "Bad Gateway", "content": b"  <html>x</html>"},
            "HTTP 502 Bad Gateway: an HTML page instead of OpsGenie's JSON (a proxy or gateway answered).",
        ),
        (
            {
                "status_code": 504,
                "reason": "Gateway Timeout",
                "content": b"{}",
                "headers": {"Content-Type": "text/HTML"},
            },
            "HTTP 504 Gateway Timeout: an HTML page instead of OpsGenie's JSON (a proxy or gateway answered).",
        ),
        (
            {"status_code": 503, "reason": "Service Unavailable", "content": b"busy"},
            "HTTP 503 Service Unavailable: busy",
        ),
        ({"status_code": 599, "content": b"x", "reason": ""}, "HTTP 599 error: x"),
    ],
)
def test_a_5xx_without_a_message_says_what_came_instead(client, answer, message):
    exc = _raised(client, **answer)
    assert type(exc) is errors.ServerError and exc.retryable is True
    assert exc.message == message
    assert exc.hint == (
        "OpsGenie or a proxy in front of it failed; no retry was made (Max Retry Time is 0: "
        "retries are off). Try again later."
    )


def test_a_5xx_with_retries_on_says_none_was_made_within_the_budget():
    with OpsGenieClient(BASE, API_KEY, max_retry_time=12.5) as c:
        exc = _raised(c, status_code=500, json={"message": "boom"})
    assert exc.hint == (
        "OpsGenie or a proxy in front of it failed; no retry was made within the Max Retry Time "
        "of 12.5 s. Try again later."
    )


@pytest.mark.parametrize("status", [300, 301, 302, 307, 399])
def test_a_redirect_is_not_followed_and_names_the_server_url(client, status):
    exc = _raised(client, status_code=status, headers={"Location": "https://elsewhere/"})
    assert type(exc) is errors.UnexpectedStatusError and exc.retryable is False
    assert exc.message == (
        f"HTTP {status}: OpsGenie does not redirect; something else answered at {BASE}."
    )
    assert exc.hint == (
        "Check the Server URL (US https://api.opsgenie.com, EU https://api.eu.opsgenie.com)."
    )


@pytest.mark.parametrize("status", [400, 418])
def test_other_statuses_keep_the_table_hint(client, status):
    exc = _raised(client, status_code=status, json={"message": "no"})
    assert exc.message == "no"
    assert exc.hint == ("Check the command inputs." if status == 400 else None)


def test_a_422_naming_fields_gets_a_hint_naming_them(client):
    body = {"message": "Invalid", "errors": {"query": "bad", "limit": "worse"}, "took": 0}
    exc = _raised(client, status_code=422, json=body)
    assert type(exc) is errors.UnprocessableError and exc.retryable is False
    assert exc.hint == "OpsGenie refused the value of: query, limit."


@pytest.mark.parametrize("errs", [{}, ["query"], None])
def test_a_422_naming_no_field_keeps_the_general_hint(client, errs):
    exc = _raised(client, status_code=422, json={"message": "Invalid", "errors": errs})
    assert exc.hint == errors.STATUS_TABLE[422][1]


def test_a_407_from_a_proxy_is_a_proxy_authentication_error(client):
    exc = _raised(client, status_code=407, text="auth")
    assert type(exc) is errors.ProxyAuthenticationError and exc.retryable is False
    assert exc.message == (
        "The proxy the proxy refused the request: 407 Proxy Authentication Required."
    )
    assert exc.proxy == "unknown"


@pytest.mark.parametrize(
    "headers, retry_after, reason",
    [
        ({"Retry-After": "7"}, 7.0, None),
        ({"X-RateLimit-Period-In-Sec": "2.5", "X-RateLimit-Reason": "ACCOUNT"}, 2.5, "ACCOUNT"),
        ({"Retry-After": "soon", "X-RateLimit-Period-In-Sec": "3"}, 3.0, None),
        ({"Retry-After": "", "X-RateLimit-Reason": ""}, None, None),
    ],
)
def test_a_429_carries_the_wait_asked_for_and_its_reason(client, headers, retry_after, reason):
    exc = _raised(client, status_code=429, json={"message": "slow down"}, headers=headers)
    assert type(exc) is errors.RateLimitedError and exc.retryable is True
    assert exc.retry_after == retry_after and exc.reason == reason
    why = f" (reason: {reason})" if reason else ""
    wait = (
        f"OpsGenie asks to wait {retry_after:g} s" if retry_after else "OpsGenie gave no wait time"
    )
    assert exc.hint == (
        f"The rate limit was reached{why}; {wait}. No retry was made (Max Retry Time is 0: "
        "retries are off). Try again later, or lower the call rate."
    )


@pytest.mark.parametrize(
    "retry_after, over",
    [("5", False), ("5.5", True)],
)
def test_a_429_wait_above_the_budget_says_no_retry_was_made_because_of_it(retry_after, over):
    with OpsGenieClient(BASE, API_KEY, max_retry_time=5) as c:
        exc = _raised(
            c, status_code=429, json={"message": "m"}, headers={"Retry-After": retry_after}
        )
    if over:
        assert exc.hint == (
            "The rate limit was reached; OpsGenie asks to wait 5.5 s. No retry was made because "
            "5.5 s exceeds the Max Retry Time (max_retry_time) of 5 s. Try again in 5.5 s, raise "
            "max_retry_time, or lower the call rate."
        )
    else:
        assert exc.hint == (
            "The rate limit was reached; OpsGenie asks to wait 5 s. No retry was made within the "
            "Max Retry Time of 5 s. Try again later, or lower the call rate."
        )


# -- no answer ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "exc, cls, message, retryable",
    [
        (
            requests.exceptions.ConnectionError("[Errno 111] Connection refused"),
            errors.TransportError,
            f"Could not connect to {BASE}: connection refused.",
            True,
        ),
        (
            # urllib3 says this even when no retry was allowed: never repeated as "ran out"
            requests.exceptions.ConnectionError("Max retries exceeded with url: /v2/account"),
            errors.TransportError,
            f"Could not connect to {BASE}: ConnectionError.",
            True,
        ),
        (
            requests.exceptions.ConnectionError("odd"),
            errors.TransportError,
            f"Could not connect to {BASE}: ConnectionError.",
            True,
        ),
        (
            requests.exceptions.ReadTimeout("read timed out"),
            errors.RequestTimeoutError,
            "OpsGenie did not answer GET /v2/account within the timeout (connect 5 s, read 10 s).",
            True,
        ),
        (
            requests.exceptions.ConnectionError(
                urllib3.exceptions.MaxRetryError(
                    None, "/", urllib3.exceptions.ConnectTimeoutError("timed out")
                )
            ),
            errors.RequestTimeoutError,
            "OpsGenie did not answer GET /v2/account within the timeout (connect 5 s, read 10 s).",
            True,
        ),
        (
            requests.exceptions.RetryError("too many 500 error responses"),
            errors.TransportError,
            "GET /v2/account kept failing and the retries ran out.",
            True,
        ),
        (
            urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),
            errors.RequestTimeoutError,
            "OpsGenie stopped sending the answer to GET /v2/account for longer than the read "
            "timeout (10 s).",
            True,
        ),
        (
            requests.exceptions.ChunkedEncodingError("cut"),
            errors.TransportError,
            "The connection was closed before the whole answer to GET /v2/account arrived.",
            True,
        ),
        (
            requests.exceptions.InvalidHeader("bad"),
            errors.TransportError,
            "GET /v2/account failed: InvalidHeader.",
            True,
        ),
        (
            requests.exceptions.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number"),
            errors.TransportError,
            f"The TLS handshake with {BASE} failed (the server does not speak TLS there: wrong "
            "version number).",
            True,
        ),
        (
            requests.exceptions.SSLError("EOF occurred"),
            errors.TransportError,
            f"The TLS handshake with {BASE} failed (TLS error).",
            True,
        ),
        (
            requests.exceptions.SSLError(
                "certificate verify failed: self-signed certificate in certificate chain (_ssl.c:1006)"
            ),
            errors.TlsVerificationError,
            f"TLS verification failed for {BASE}: self-signed certificate in certificate chain; "
            "the certificate is not signed by the bundled public CAs.",
            False,
        ),
        (
            requests.exceptions.ProxyError("Tunnel connection failed: 407 Proxy Auth"),
            errors.ProxyAuthenticationError,
            "The proxy the proxy refused the request: 407 Proxy Authentication Required.",
            False,
        ),
        (
            requests.exceptions.ProxyError("Tunnel connection failed: 403 Forbidden"),
            errors.ProxyAuthenticationError,
            f"The proxy the proxy refused to connect to {BASE}: HTTP 403.",
            False,
        ),
        (
            requests.exceptions.ProxyError("Tunnel connection failed: abc"),
            errors.ProxyError,
            "Could not connect to the proxy the proxy: ProxyError.",
            True,
        ),
    ],
)
def test_each_failure_without_an_answer_has_its_class_message_and_retryability(
    client, exc, cls, message, retryable
):
    with rm.Mocker() as m:
        m.get(ACCOUNT, exc=exc)
        with pytest.raises(errors.OpsGenieIntegrationError) as caught:
            client.get_account()
    assert type(caught.value) is cls
    assert caught.value.message == message
    assert caught.value.retryable is retryable
    assert caught.value.status_code is None


def test_a_refused_connection_is_not_taken_for_a_timeout(client):
    # urllib3 files a refused connection under ConnectTimeoutError; requests wraps it so
    refused = urllib3.exceptions.NewConnectionError(None, "[Errno 111] Connection refused")
    wrapped = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/v2/account", refused)
    )
    with rm.Mocker() as m:
        m.get(ACCOUNT, exc=wrapped)
        with pytest.raises(errors.TransportError) as caught:
            client.get_account()
    assert type(caught.value) is errors.TransportError
    assert caught.value.message.startswith(f"Could not connect to {BASE}: ")


@pytest.mark.parametrize("body", [b'{"a": -1e999}', b'{"a": Infinity}', b'{"a": -Infinity}'])
def test_numbers_json_cannot_carry_are_not_json(client, body):
    with rm.Mocker() as m:
        m.get(ACCOUNT, content=body, headers={"Content-Type": "application/json"})
        with pytest.raises(errors.BadResponseError, match="with a body that is not JSON"):
            client.get_account()


def test_ordinary_numbers_are_read(client):
    with rm.Mocker() as m:
        m.get(ACCOUNT, content=b'{"data": {"a": 1.5, "b": -2e3, "c": 7}}')
        assert client.get_account() == {"data": {"a": 1.5, "b": -2000.0, "c": 7}}


# -- verification off ------------------------------------------------------------------------------
def test_verification_off_silences_the_warning_for_its_own_requests_only():
    before = list(warnings.filters)
    with OpsGenieClient(BASE, API_KEY, network=NetworkSettings(verify_tls=False)) as c:
        assert c.session.verify is False
        with rm.Mocker() as m:
            m.get(ACCOUNT, json=OK)
            assert c.get_account() == OK
    assert warnings.filters == before  # no filter left behind for the rest of the process
