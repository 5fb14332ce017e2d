"""Per-domain rate limits as token buckets, answered like OpsGenie: 429 with
``{"message": THROTTLED_MESSAGE}`` and ``X-RateLimit-State: THROTTLED``, ``X-RateLimit-Reason``,
``X-RateLimit-Period-In-Sec``.

Domains: ``search`` (GET /v2/alerts, /v2/alerts/count, /v2/users), ``schedule_oncalls`` (on-calls,
next-on-calls), ``configuration`` (schedules, timeline, a single user, account, teams), ``alert``
(alert writes, an alert's notes, logs and recipients). Buckets
refill in real (monotonic) time, whatever the sandbox clock says.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

RATE_LIMIT_DOMAINS = ("search", "schedule_oncalls", "configuration", "alert")
THROTTLED_MESSAGE = (
    "You are making too many requests! To avoid errors, we recommend you limit requests."
)


class _Bucket:
    def __init__(self, capacity: float, per_second: float) -> None:
        self.capacity = capacity
        self.rate = per_second
        self.tokens = capacity
        self.stamp = time.monotonic()

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


@dataclass
class _DomainLimit:
    buckets: list[_Bucket]
    period_seconds: int


class RateLimits:
    """Per-domain token buckets (see RATE_LIMIT_DOMAINS), real time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limits: dict[str, _DomainLimit] = {}

    def set(
        self,
        domain: str,
        per_second: float | None = None,
        per_minute: float | None = None,
        period_seconds: int = 1,
    ) -> None:
        """Limit ``domain`` to ``per_second`` and/or ``per_minute`` requests (buckets start full);
        a throttled answer tells the client to wait ``period_seconds``. Both None lifts the limit."""
        if domain not in RATE_LIMIT_DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; domains are {list(RATE_LIMIT_DOMAINS)}")
        buckets = []
        if per_second is not None:
            buckets.append(_Bucket(float(per_second), float(per_second)))
        if per_minute is not None:
            buckets.append(_Bucket(float(per_minute), float(per_minute) / 60.0))
        with self._lock:
            if buckets:
                self._limits[domain] = _DomainLimit(buckets, int(period_seconds))
            else:
                self._limits.pop(domain, None)

    def clear(self) -> None:
        """Lift every limit."""
        with self._lock:
            self._limits.clear()

    def acquire(self, domain: str | None) -> int | None:
        """Take a token for ``domain``: None when allowed, else the period (s) to wait."""
        if domain is None:
            return None
        with self._lock:
            limit = self._limits.get(domain)
            if limit is None:
                return None
            now = time.monotonic()
            for bucket in limit.buckets:
                bucket.refill(now)
            if any(b.tokens < 1.0 for b in limit.buckets):
                return limit.period_seconds
            for bucket in limit.buckets:
                bucket.tokens -= 1.0
            return None
