"""Client-side pacing: one token bucket per connection and OpsGenie rate-limit domain.

OpsGenie limits requests per domain (Search: the alert and user lists; Schedule-oncalls;
Configuration; ...), per second and per minute, with token buckets whose sizes depend on the plan,
and publishes them at ``GET /v2/request-limits/``::

    {"data": {"rateLimits": [{"domain": "search",
                               "limits": [{"limit": 10, "periodInSeconds": 1},
                                          {"limit": 600, "periodInSeconds": 60}]}]}}

(the shape OpsGenie's own configuration backup tool reads; team keys may be refused there).

A ``Pacer`` belongs to one connection and is shared by every thread using it. Each thread calls
``acquire(path)`` before a request (it sleeps until the domain's bucket has a token: requests are
spread evenly, never bunched and then refused) and ``observe(path, status, headers)`` after the
answer. How a domain's bucket is filled:

- from ``GET /v2/request-limits/`` when it could be read (``Pacer.from_request_limits``): a
  bucket per published limit, refilled at ``SAFETY`` (95 %) of the published rate and starting
  half full, so clocks and network jitter on our side never overtake OpsGenie's bucket;
- otherwise, unpaced until OpsGenie throttles: the first 429 (or ``X-RateLimit-State:
  THROTTLED``) sets a bucket at 90 % of the rate that was just measured, each further one slows
  it by a third, and it speeds up again by 5 % after every ``RECOVER_S`` seconds without one.

Every 429 also holds back all threads of that domain for ``X-RateLimit-Period-In-Sec`` (or
``Retry-After``; 1 s when neither is sent). Times are ``time.monotonic`` seconds.

This module is a leaf: it imports nothing of the package.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Share of a published rate the pacer uses.
SAFETY = 0.95
#: A bucket starts with this share of its published size (OpsGenie's may be partly spent).
START_FILL = 0.5
#: Measured rate share used when the first 429 arrives without published limits.
ADAPT_START = 0.9
#: Rate factor applied on each further 429 without published limits.
ADAPT_DOWN = 2 / 3
#: Seconds without a 429 before an adapted rate is raised by ``ADAPT_UP``.
RECOVER_S = 20.0
ADAPT_UP = 1.05
#: Lowest rate an adapted bucket goes down to, requests per second.
MIN_RATE = 0.2
#: Seconds of recent requests used to measure the rate when the first 429 arrives.
MEASURE_S = 3.0
#: Wait when a 429 names no period, seconds; longest wait honoured, seconds.
DEFAULT_PERIOD_S = 1.0
MAX_PERIOD_S = 60.0

DOMAINS = ("search", "schedule_oncalls", "configuration", "alert", "other")


def domain_of(path: str) -> str:
    """The OpsGenie rate-limit domain of a request path (``/v2/alerts`` -> ``search``).

    ``search``: the alert list and count, the user list; ``schedule_oncalls``: current and next
    on-calls; ``alert``: any other alert path; ``configuration``: the other ``/v2/`` paths
    (schedules, timeline, a user, account, teams); ``other``: anything else.
    """
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if len(parts) < 2 or parts[0] not in ("v1", "v2"):
        return "other"
    kind = parts[1]
    if kind == "alerts":
        if len(parts) == 2 or (len(parts) == 3 and parts[2] == "count"):
            return "search"
        return "alert"
    if kind == "users" and len(parts) == 2:
        return "search"
    if kind == "schedules" and parts[-1] in ("on-calls", "next-on-calls"):
        return "schedule_oncalls"
    if kind == "request-limits":
        return "other"
    return "configuration"


def normalize_domain(name: str) -> str:
    """``Schedule-Oncalls`` -> ``schedule_oncalls``: OpsGenie's domain names, one spelling."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class Limit:
    """One published limit: ``limit`` requests per ``period_s`` seconds."""

    limit: float
    period_s: float

    @property
    def per_second(self) -> float:
        return self.limit / self.period_s

    def describe(self) -> str:
        unit = {1.0: "s", 60.0: "min", 3600.0: "h"}.get(float(self.period_s))
        count = f"{self.limit:g}"
        return f"{count}/{unit}" if unit else f"{count}/{self.period_s:g}s"


class RequestLimitsError(ValueError):
    """An answer of ``GET /v2/request-limits/`` without ``data.rateLimits``."""


def parse_request_limits(body: Any) -> dict[str, tuple[Limit, ...]]:
    """The limits of an answer of ``GET /v2/request-limits/``, by normalized domain name.

    Rows that are not positive finite numbers are skipped; a domain without a usable row is left
    out.

    Raises:
        RequestLimitsError (a ValueError): the answer has no ``data.rateLimits`` list.
    """
    data = body.get("data") if isinstance(body, dict) else None
    rows = data.get("rateLimits") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise RequestLimitsError("the answer has no data.rateLimits list")
    found: dict[str, tuple[Limit, ...]] = {}
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("domain"), str):
            continue
        limits = []
        for item in row.get("limits") or []:
            if not isinstance(item, dict):
                continue
            limit, period = item.get("limit"), item.get("periodInSeconds")
            if _positive(limit) and _positive(period):
                limits.append(Limit(float(limit), float(period)))
        if limits:
            found[normalize_domain(row["domain"])] = tuple(limits)
    return found


def _positive(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def throttle_wait(headers: Mapping[str, str]) -> float:
    """Seconds a throttled answer asks to wait (``Retry-After`` in seconds, else
    ``X-RateLimit-Period-In-Sec``, else 1), bounded to 0..60."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    for name in ("retry-after", "x-ratelimit-period-in-sec"):
        text = lowered.get(name)
        if text is None:
            continue
        try:
            seconds = float(text)
        except ValueError:
            continue
        if math.isfinite(seconds):
            return min(max(seconds, 0.0), MAX_PERIOD_S)
    return DEFAULT_PERIOD_S


def is_throttled(status: int, headers: Mapping[str, str]) -> bool:
    """True for a 429, or any answer saying ``X-RateLimit-State: THROTTLED``."""
    if status == 429:
        return True
    for key, value in headers.items():
        if str(key).lower() == "x-ratelimit-state":
            return str(value).strip().upper() == "THROTTLED"
    return False


class _Bucket:
    """Tokens refilled at ``rate`` per second up to ``capacity``; may go below zero (a
    reservation: the caller waits until its token has been refilled)."""

    def __init__(self, rate: float, capacity: float, fill: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = min(capacity, fill)
        self.stamp = now

    def reserve(self, now: float) -> float:
        """Take a token; returns the seconds until it exists (0: now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def empty(self, now: float) -> None:
        self.tokens = min(self.tokens + (now - self.stamp) * self.rate, 0.0)
        self.stamp = now


class DomainPacer:
    """The bucket(s) of one domain, shared by threads. ``limits``: published limits (None: adapt
    from 429s). ``clock`` and ``sleep`` are injectable for tests."""

    def __init__(
        self,
        domain: str,
        limits: tuple[Limit, ...] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.domain = domain
        self.limits = tuple(limits) if limits else None
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        now = clock()
        self._buckets: list[_Bucket] = []
        if self.limits:
            for limit in self.limits:
                size = max(1.0, limit.limit)
                rate = limit.per_second * SAFETY
                self._buckets.append(_Bucket(rate, size, max(1.0, size * START_FILL), now))
        self._blocked_until = 0.0
        self._recent: collections.deque[float] = collections.deque()
        self._last_throttle = 0.0
        #: answers that said the key was throttled (429 or THROTTLED)
        self.throttled = 0
        #: requests let through
        self.requests = 0
        #: seconds threads spent waiting here, in all
        self.waited = 0.0

    @property
    def source(self) -> str:
        """``request-limits`` (published), ``adapted`` (from 429s) or ``none`` (unpaced)."""
        if self.limits:
            return "request-limits"
        return "adapted" if self._buckets else "none"

    @property
    def rate(self) -> float | None:
        """Requests per second the pacer lets through at most (None: no limit known)."""
        with self._lock:
            return min((b.rate for b in self._buckets), default=None)

    def describe(self) -> str:
        """The limit in force, for progress lines: ``search 10/s, 600/min (request-limits)``."""
        if self.limits:
            shown = ", ".join(limit.describe() for limit in self.limits)
        elif self._buckets:
            shown = f"~{self._buckets[0].rate:.3g}/s"
        else:
            shown = "no limit known"
        return f"{self.domain} {shown} ({self.source})"

    def acquire(self, stop: Callable[[], bool] | None = None) -> float:
        """Wait for a token (and for a throttling period to end). Returns the seconds waited;
        returns early when ``stop()`` becomes true (checked every 0.2 s)."""
        with self._lock:
            now = self._clock()
            self._recover(now)
            wait = max(0.0, self._blocked_until - now)
            for bucket in self._buckets:
                wait = max(wait, bucket.reserve(now))
            self.requests += 1
            self._recent.append(now + wait)
            while self._recent and self._recent[0] < now - MEASURE_S:
                self._recent.popleft()
            self.waited += wait
        self._wait(wait, stop)
        return wait

    def _wait(self, seconds: float, stop: Callable[[], bool] | None) -> None:
        if seconds <= 0:
            return
        if stop is None:
            self._sleep(seconds)
            return
        deadline = self._clock() + seconds
        while not stop():
            left = deadline - self._clock()
            if left <= 0:
                return
            self._sleep(min(0.2, left))

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from an answer: a throttled one holds every thread back for the period it names
        and, without published limits, sets or slows the adapted bucket."""
        if not is_throttled(status, headers):
            return
        period = throttle_wait(headers)
        with self._lock:
            now = self._clock()
            self.throttled += 1
            self._last_throttle = now
            self._blocked_until = max(self._blocked_until, now + period)
            if self.limits:
                for bucket in self._buckets:
                    bucket.empty(now)
                return
            if not self._buckets:
                while self._recent and self._recent[0] < now - MEASURE_S:
                    self._recent.popleft()
                span = max(now - self._recent[0], 0.5) if self._recent else MEASURE_S
                measured = len(self._recent) / span if self._recent else 1.0
                rate = max(MIN_RATE, measured * ADAPT_START)
                self._buckets.append(_Bucket(rate, max(1.0, rate / 2), 0.0, now))
            else:
                bucket = self._buckets[0]
                bucket.rate = max(MIN_RATE, bucket.rate * ADAPT_DOWN)
                bucket.capacity = max(1.0, bucket.rate / 2)
                bucket.empty(now)

    def _recover(self, now: float) -> None:
        if self.limits or not self._buckets:
            return
        if now - self._last_throttle >= RECOVER_S:
            bucket = self._buckets[0]
            bucket.rate *= ADAPT_UP
            bucket.capacity = max(1.0, bucket.rate / 2)
            self._last_throttle = now

    def snapshot(self) -> dict[str, Any]:
        """``{"domain", "source", "rate", "requests", "throttled", "waited_s"}`` (JSON-ready)."""
        rate = self.rate
        return {
            "domain": self.domain,
            "source": self.source,
            "rate": round(rate, 3) if rate is not None else None,
            "requests": self.requests,
            "throttled": self.throttled,
            "waited_s": round(self.waited, 3),
        }


class Pacer:
    """The pacing of one connection: a ``DomainPacer`` per domain, created on first use.

    ``limits``: published limits by domain (from ``parse_request_limits``), None when they could
    not be read (every domain then adapts from 429s). Thread-safe.
    """

    def __init__(
        self,
        limits: Mapping[str, tuple[Limit, ...]] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = dict(limits) if limits is not None else None
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._domains: dict[str, DomainPacer] = {}

    @classmethod
    def from_request_limits(cls, body: Any, **kw: Any) -> Pacer:
        """A pacer filled from an answer of ``GET /v2/request-limits/``.

        Raises:
            ValueError: the answer is not shaped like one (``parse_request_limits``).
        """
        return cls(parse_request_limits(body), **kw)

    @property
    def published(self) -> bool:
        """True when the limits came from ``GET /v2/request-limits/``."""
        return self.limits is not None

    def domain(self, name: str) -> DomainPacer:
        """The pacer of domain ``name`` (``search``...)."""
        with self._lock:
            found = self._domains.get(name)
            if found is None:
                limits = (self.limits or {}).get(name)
                found = DomainPacer(name, limits, clock=self._clock, sleep=self._sleep)
                self._domains[name] = found
            return found

    def acquire(self, path: str, stop: Callable[[], bool] | None = None) -> float:
        """Wait until a request to ``path`` may go out (see ``DomainPacer.acquire``)."""
        return self.domain(domain_of(path)).acquire(stop)

    def observe(self, path: str, status: int, headers: Mapping[str, str]) -> None:
        """Learn from the answer to a request to ``path`` (see ``DomainPacer.observe``)."""
        self.domain(domain_of(path)).observe(status, headers)

    def per_second(self, name: str) -> float | None:
        """The published per-second rate of domain ``name``: the tightest of its limits, per
        second (None when not published)."""
        limits = (self.limits or {}).get(name)
        if not limits:
            return None
        return min(limit.per_second for limit in limits)

    def snapshot(self) -> list[dict[str, Any]]:
        """``DomainPacer.snapshot`` of every domain used so far."""
        with self._lock:
            domains = list(self._domains.values())
        return [d.snapshot() for d in domains]
