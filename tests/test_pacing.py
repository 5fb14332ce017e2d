"""The pacer: token buckets per rate-limit domain, from request-limits or adapted from 429s."""

from __future__ import annotations

import threading
import time

import pytest

from opsgenie_integration.pacing import (
    SAFETY,
    DomainPacer,
    Limit,
    Pacer,
    domain_of,
    is_throttled,
    parse_request_limits,
    throttle_wait,
)

LIMITS = {
    "data": {
        "rateLimits": [
            {
                "domain": "search",
                "limits": [
                    {"limit": 10, "periodInSeconds": 1},
                    {"limit": 300, "periodInSeconds": 60},
                ],
            },
            {"domain": "Schedule-Oncalls", "limits": [{"limit": 2, "periodInSeconds": 1}]},
            {"domain": "configuration", "limits": [{"limit": 0, "periodInSeconds": 1}]},
            {"domain": 7, "limits": []},
            "junk",
        ]
    },
    "took": 0.001,
    "requestId": "r",
}


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("path", "domain"),
    [
        ("/v2/alerts", "search"),
        ("/v2/alerts/count", "search"),
        ("/v2/users", "search"),
        ("/v2/alerts/abc", "alert"),
        ("/v2/alerts/requests/abc", "alert"),
        ("/v2/schedules/ops/on-calls", "schedule_oncalls"),
        ("/v2/schedules/ops/next-on-calls", "schedule_oncalls"),
        ("/v2/schedules/on-calls", "schedule_oncalls"),
        ("/v2/schedules", "configuration"),
        ("/v2/schedules/ops/timeline", "configuration"),
        ("/v2/users/someone", "configuration"),
        ("/v2/account", "configuration"),
        ("/v2/request-limits/", "other"),
        ("/health", "other"),
    ],
)
def test_domain_of(path, domain):
    assert domain_of(path) == domain
    assert domain_of(path + "?query=x") == domain


def test_parse_request_limits_keeps_usable_rows_only():
    found = parse_request_limits(LIMITS)
    assert found == {
        "search": (Limit(10, 1), Limit(300, 60)),
        "schedule_oncalls": (Limit(2, 1),),
    }
    assert [limit.describe() for limit in found["search"]] == ["10/s", "300/min"]
    for bad in (None, [], {"data": None}, {"data": {"rateLimits": {}}}, {"message": "x"}):
        with pytest.raises(ValueError):
            parse_request_limits(bad)
    assert parse_request_limits({"data": {"rateLimits": []}}) == {}


def test_throttle_signals():
    assert is_throttled(429, {})
    assert is_throttled(200, {"x-ratelimit-state": "throttled"})
    assert not is_throttled(200, {"X-RateLimit-State": "OK"})
    assert throttle_wait({"X-RateLimit-Period-In-Sec": "3"}) == 3.0
    assert throttle_wait({"Retry-After": "2", "X-RateLimit-Period-In-Sec": "3"}) == 2.0
    assert throttle_wait({"Retry-After": "soon", "X-RateLimit-Period-In-Sec": "3"}) == 3.0
    assert throttle_wait({"X-RateLimit-Period-In-Sec": "1e9"}) == 60.0
    assert throttle_wait({"X-RateLimit-Period-In-Sec": "nan"}) == 1.0
    assert throttle_wait({}) == 1.0


def test_published_limit_spreads_requests_at_the_safe_rate():
    t = FakeTime()
    pacer = Pacer.from_request_limits(LIMITS, clock=t.clock, sleep=t.sleep)
    assert pacer.published and pacer.per_second("search") == 5.0  # 300/min is the tighter one
    started = t.now
    for _ in range(200):
        pacer.acquire("/v2/alerts")
    # each bucket starts half full (5 and 150) and refills at 95 % of its rate (10/s, 5/s):
    # the per-second bucket is the slower one to let 200 through
    elapsed = t.now - started
    expected = max((200 - 5) / (10 * SAFETY), (200 - 150) / (5 * SAFETY))
    assert elapsed == pytest.approx(expected, rel=0.02)
    for _ in range(300):
        pacer.acquire("/v2/alerts")
    # in the long run the 300/min bucket rules: 500 requests in (500 - 150) / 4.75 s
    assert t.now - started == pytest.approx((500 - 150) / (5 * SAFETY), rel=0.02)
    search = pacer.domain("search")
    assert search.source == "request-limits"
    assert search.describe() == "search 10/s, 300/min (request-limits)"
    assert search.snapshot()["requests"] == 500 and search.snapshot()["throttled"] == 0
    # another domain is not held back by the search bucket
    before = t.now
    for _ in range(20):
        pacer.acquire("/v2/account")
    assert t.now == before and pacer.domain("configuration").source == "none"


def test_published_per_second_limit_holds_steady_state():
    t = FakeTime()
    pacer = DomainPacer("search", (Limit(10, 1),), clock=t.clock, sleep=t.sleep)
    for _ in range(5):  # half of the bucket: no wait
        assert pacer.acquire() == 0.0
    times = []
    for _ in range(95):
        pacer.acquire()
        times.append(t.now)
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate == pytest.approx(10 * SAFETY, rel=0.01)


def test_a_429_holds_every_thread_for_the_period():
    t = FakeTime()
    pacer = DomainPacer("search", (Limit(100, 1),), clock=t.clock, sleep=t.sleep)
    pacer.acquire()
    pacer.observe(429, {"X-RateLimit-Period-In-Sec": "2"})
    waited = pacer.acquire()
    assert waited >= 2.0
    assert pacer.throttled == 1
    pacer.observe(200, {})
    assert pacer.throttled == 1


def test_without_published_limits_the_pacer_adapts_from_429s():
    t = FakeTime()
    pacer = DomainPacer("search", None, clock=t.clock, sleep=t.sleep)
    assert pacer.source == "none" and pacer.rate is None
    for _ in range(30):  # 20 requests a second, unpaced
        assert pacer.acquire() == 0.0
        t.now += 0.05
    pacer.observe(429, {"X-RateLimit-Period-In-Sec": "1"})
    assert pacer.source == "adapted"
    first = pacer.rate
    assert first == pytest.approx(20 * 0.9, rel=0.15)
    assert pacer.acquire() >= 1.0  # the period first
    pacer.observe(429, {})
    assert pacer.rate == pytest.approx(first * 2 / 3)
    slowed = pacer.rate
    t.now += 25  # a quiet while: the rate comes back up a little
    pacer.acquire()
    assert pacer.rate == pytest.approx(slowed * 1.05)
    assert "adapted" in pacer.describe()


def test_acquire_stops_early_when_asked():
    t = FakeTime()
    pacer = DomainPacer("search", (Limit(1, 60),), clock=t.clock, sleep=t.sleep)
    pacer.acquire()
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    before = t.now
    pacer.acquire(stop)
    assert t.now - before < 1.0  # gave up long before the 60 s reservation


def test_threads_share_one_bucket():
    pacer = DomainPacer("search", (Limit(40, 1),))
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            pacer.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    # 80 requests: 20 from the half-full bucket, 60 at 38/s -> about 1.6 s
    assert 1.3 <= elapsed <= 3.0
    assert pacer.requests == 80
