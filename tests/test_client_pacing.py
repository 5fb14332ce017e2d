"""The client's pacer: GET /v2/request-limits/, a 429 waited out by the pacer, not by urllib3."""

from __future__ import annotations

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE

from opsgenie_integration import errors
from opsgenie_integration.cli.parallel import DEFAULT_WORKERS, default_workers, discover_pacer
from opsgenie_integration.client import OpsGenieClient
from opsgenie_integration.pacing import Pacer

LIMITS = {
    "data": {"rateLimits": [{"domain": "search", "limits": [{"limit": 10, "periodInSeconds": 1}]}]},
    "took": 0.001,
    "requestId": "r-1",
}
PAGE = {"data": [], "paging": {}, "took": 0.01, "requestId": "r-2"}
THROTTLED = {
    "status_code": 429,
    "json": {"message": "You are making too many requests!", "took": 0, "requestId": "r-3"},
    "headers": {"X-RateLimit-State": "THROTTLED", "X-RateLimit-Period-In-Sec": "1"},
}


def client(max_retry_time: float = 5.0) -> OpsGenieClient:
    return OpsGenieClient(BASE, API_KEY, max_retry_time=max_retry_time)


def test_request_limits_request_and_pacer():
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/request-limits/", json=LIMITS)
        with client() as c:
            pacer = discover_pacer(c)
        assert m.request_history[0].path == "/v2/request-limits/"
        assert m.request_history[0].headers["Authorization"] == f"GenieKey {API_KEY}"
    assert pacer.published and pacer.per_second("search") == 10
    assert default_workers(pacer) == 4


@pytest.mark.parametrize(
    "answer",
    [
        {
            "status_code": 403,
            "json": {"message": "team key", "code": 40301, "took": 0, "requestId": "x"},
        },
        {"status_code": 404, "json": {"message": "Requested resource does not exist!"}},
        {"status_code": 200, "json": {"data": {}, "took": 0, "requestId": "x"}},
        {"status_code": 200, "text": "<html>proxy</html>"},
    ],
)
def test_unreadable_request_limits_leave_the_pacer_adaptive(answer):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/request-limits/", **answer)
        with client(max_retry_time=0) as c:
            pacer = discover_pacer(c)
    assert not pacer.published and default_workers(pacer) == DEFAULT_WORKERS


def test_a_429_is_paced_then_sent_again():
    waits: list[float] = []
    pacer = Pacer(None, sleep=waits.append)
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", [THROTTLED, {"json": PAGE}])
        with client() as c:
            c.use_pacer(pacer, 8)
            body = c.list_alerts(limit=100)
        assert body["requestId"] == "r-2"
        assert len(m.request_history) == 2  # one 429, then the page (urllib3 did not retry it)
    search = pacer.domain("search")
    assert search.throttled == 1 and search.source == "adapted"
    assert sum(waits) >= 0.9  # the period the 429 named, waited in the pacer
    assert c.requests_sent == 2


def test_a_429_beyond_max_retry_time_is_raised():
    pacer = Pacer(None, sleep=lambda s: None)
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", [THROTTLED])
        with client(max_retry_time=0.5) as c:
            c.use_pacer(pacer, 4)
            with pytest.raises(errors.RateLimitedError) as caught:
                c.list_alerts(limit=100)
    assert caught.value.retry_after == 1.0


def test_without_a_pacer_urllib3_still_retries_the_429():
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", [THROTTLED, {"json": PAGE}])
        with client() as c:
            # requests-mock bypasses urllib3's retries: the 429 surfaces as an error here
            with pytest.raises(errors.RateLimitedError):
                c.list_alerts(limit=100)
            assert c.pacer is None
