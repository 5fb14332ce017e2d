"""Per-domain rate limits as token buckets, answered like OpsGenie: 429 with
``{"message": THROTTLED_MESSAGE}`` and ``X-RateLimit-State: THROTTLED``, ``X-RateLimit-Reason``,
``X-RateLimit-Period-In-Sec``.

Domains: ``search`` (GET /v2/alerts, /v2/alerts/count, /v2/users), ``schedule_oncalls`` (on-calls,
next-on-calls), ``configuration`` (schedules, timeline, a single user, account, teams), ``alert``
(alert writes, an alert's notes, logs and recipients). Buckets
refill in real (monotonic) time, whatever the sandbox clock says.

``RateLimits.published()`` is what ``GET /v2/request-limits/`` answers: the configured limits
of each limited domain, ``[{"domain": "search", "limits": [{"limit": 10, "periodInSeconds": 1},
{"limit": 600, "periodInSeconds": 60}]}]``. The shape (``data.rateLimits``, each ``domain`` with
``limits`` of ``limit`` and ``periodInSeconds``) is the one OpsGenie's own configuration backup
tool reads; the wire names of the domains other than ``search`` are not confirmed. A domain
without a configured limit is left out (the sandbox does not throttle it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

RATE_LIMIT_DOMAINS = ("search", "schedule_oncalls", "configuration", "alert")
#: The domain names ``GET /v2/request-limits/`` answers with.
WIRE_DOMAINS = {
    "search": "search",
    "schedule_oncalls": "schedule-oncalls",
    "configuration": "configuration",
    "alert": "alert",
}
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
    per_second: float | None = None
    per_minute: float | None = None


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


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
                self._limits[domain] = _DomainLimit(
                    buckets, int(period_seconds), per_second, per_minute
                )
            else:
                self._limits.pop(domain, None)

    def clear(self) -> None:
        """Lift every limit."""
        with self._lock:
            self._limits.clear()

    def published(self) -> list[dict[str, Any]]:
        """The configured limits as ``GET /v2/request-limits/`` answers them (``data.rateLimits``):
        ``[{"domain", "limits": [{"limit", "periodInSeconds"}]}]``, in RATE_LIMIT_DOMAINS order,
        limited domains only."""
        with self._lock:
            limits = dict(self._limits)
        out: list[dict[str, Any]] = []
        for domain in RATE_LIMIT_DOMAINS:
            limit = limits.get(domain)
            if limit is None:
                continue
            rows = []
            if limit.per_second is not None:
                rows.append({"limit": _number(limit.per_second), "periodInSeconds": 1})
            if limit.per_minute is not None:
                rows.append({"limit": _number(limit.per_minute), "periodInSeconds": 60})
            out.append({"domain": WIRE_DOMAINS[domain], "limits": rows})
        return out

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
