"""Retry policy for OpsGenie GETs, on urllib3's ``Retry`` machinery.

What is retried: on GET, 429, 500, 502, 503, 504, connection errors and a read that failed; on a
write (POST, DELETE), only 429 (OpsGenie refused it unprocessed) and a connection that failed before
the request was sent (urllib3's ``connect`` errors, retried whatever the method); a write that may
have reached the server (a read error, a 5xx) is never retried automatically. How long it waits: the server's
``Retry-After`` or OpsGenie's ``X-RateLimit-Period-In-Sec`` when sent, else exponential backoff with
jitter. Bounded twice: by the number of attempts and by the total time spent waiting; a server that
asks for a longer wait than the time left ends the retries at once, and the last answer is
classified as the error it is.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
WRITE_RETRY_STATUSES = frozenset({429})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RATE_LIMIT_PERIOD_HEADER = "X-RateLimit-Period-In-Sec"


class OpsGenieRetry(Retry):
    """``urllib3.util.Retry`` that honours ``X-RateLimit-Period-In-Sec`` and a time budget.

    Args:
        max_retry_time: seconds that may be spent waiting between attempts of one request, in all.
        retry_rate_limited: False leaves a 429 to the caller (a pacer shared by threads waits it
            out for all of them, instead of each thread retrying on its own).
        total, connect, read, status, backoff_factor, ...: as for ``urllib3.util.Retry``.
    """

    def __init__(
        self,
        *args: Any,
        max_retry_time: float = 60.0,
        retry_rate_limited: bool = True,
        _deadline: float | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.max_retry_time = max_retry_time
        self.retry_rate_limited = retry_rate_limited
        self._deadline = _deadline

    def new(self, **kw: Any) -> OpsGenieRetry:
        kw.setdefault("max_retry_time", self.max_retry_time)
        kw.setdefault("retry_rate_limited", self.retry_rate_limited)
        kw.setdefault("_deadline", self._deadline)
        return super().new(**kw)  # type: ignore[return-value]

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        """GET: as ``Retry`` (``allowed_methods``, ``status_forcelist``). A write: 429 only."""
        if method and method.upper() in WRITE_METHODS:
            return status_code in WRITE_RETRY_STATUSES
        if status_code == 429 and not self.retry_rate_limited:
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: Any) -> float | None:
        """Seconds the server asked to wait: ``Retry-After``, else ``X-RateLimit-Period-In-Sec``."""
        try:
            retry_after = super().get_retry_after(response)
        except InvalidHeader:  # a garbage Retry-After: fall back to OpsGenie's header or backoff
            retry_after = None
        if retry_after is not None:
            return retry_after
        period = response.headers.get(RATE_LIMIT_PERIOD_HEADER)
        if period is None:
            return None
        try:
            seconds = float(period)
        except ValueError:
            return None
        return max(0.0, seconds)

    def increment(
        self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None
    ):  # noqa: E501
        new_retry = super().increment(method, url, response, error, _pool, _stacktrace)
        now = time.monotonic()
        deadline = self._deadline if self._deadline is not None else now + self.max_retry_time
        new_retry._deadline = deadline
        wait = new_retry.get_backoff_time()
        if response is not None and self.respect_retry_after_header:
            asked = new_retry.get_retry_after(response)
            if asked is not None:
                wait = asked
        if now + wait > deadline:
            reason = error or MaxRetryError(_pool, url, "retry time budget exhausted")
            raise MaxRetryError(_pool, url, reason)
        cause = f"HTTP {response.status}" if response is not None else type(error).__name__
        log.info(
            "retry %d: %s %s after %s, waiting %.1f s",
            len(new_retry.history),
            method or "GET",
            str(url or "").split("?")[0],
            cause,
            wait,
        )
        return new_retry


def make_retry(
    max_retry_time: float,
    *,
    attempts: int = 5,
    backoff_factor: float = 0.5,
    retry_rate_limited: bool = True,
) -> Retry:
    """The retry policy of one connection.

    Args:
        max_retry_time: seconds of waiting allowed per request; 0 turns retries off.
        attempts: retries at most (not counting the first try).
        backoff_factor: base of the exponential backoff, s (0.5, 1, 2, 4... capped at 30 s).
        retry_rate_limited: False: a 429 is not retried here (see ``OpsGenieRetry``).
    """
    if max_retry_time <= 0:
        return Retry(total=0, connect=0, read=0, status=0, redirect=0, raise_on_status=False)
    return OpsGenieRetry(
        total=attempts,
        connect=2,
        read=1,
        status=attempts,
        redirect=0,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=30,
        backoff_jitter=0.1,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        max_retry_time=max_retry_time,
        retry_rate_limited=retry_rate_limited,
    )
