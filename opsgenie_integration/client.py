"""HTTP client for the OpsGenie REST API v2.

The client knows HTTP and OpsGenie's endpoints, nothing of commands, the envelope or the CLI.
One ``requests.Session`` per connection; ``Authorization: GenieKey <key>``; a ``(connect, read)``
timeout on every call; path identifiers percent-encoded as one segment; query values passed as
``params`` so the HTTP library encodes them (``+`` becomes ``%2B``); retries as in ``retry.py``.
Every failure is raised as one of the exceptions of ``errors.py``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, Union
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from . import errors
from .retry import make_retry
from .urls import encode_segment, is_version_path, normalize_server_url
from .watchdog import pool_classes

log = logging.getLogger(__name__)

DEFAULT_SERVER_URL = "https://api.opsgenie.com"
EU_SERVER_URL = "https://api.eu.opsgenie.com"
DEFAULT_API_VERSION = "v2"
CONNECT_TIMEOUT = 5.0
USER_AGENT = "opsgenie-integration/0.1"

#: Largest answer body accepted (decompressed), bytes; a page of 100 alerts is about 200 kB.
MAX_BODY_BYTES = 8_000_000
#: An answer must be complete within this many read timeouts from the request.
ANSWER_DEADLINE_FACTOR = 2

#: The biggest ``offset + limit`` the alert list accepts.
ALERT_PAGING_CAP = 20000

ALERT_SORT_FIELDS = (
    "createdAt",
    "updatedAt",
    "tinyId",
    "alias",
    "message",
    "status",
    "acknowledged",
    "isSeen",
    "snoozed",
    "snoozedUntil",
    "count",
    "lastOccurredAt",
    "source",
    "owner",
    "integration.name",
    "integration.type",
    "report.ackTime",
    "report.closeTime",
    "report.acknowledgedBy",
    "report.closedBy",
)

Params = dict[str, Union[str, int, None]]


class OpsGenieClient:
    """Talks to one OpsGenie account.

    Args:
        server_url: ``https://api.opsgenie.com`` (US) or ``https://api.eu.opsgenie.com`` (EU); http
            only for loopback hosts. Normalised by ``normalize_server_url``.
        api_key: the API integration key (the literal, already resolved).
        api_version: path version segment, ``v2``.
        timeout: read timeout per request, s (the connect timeout is 5 s).
        max_retry_time: seconds of waiting between retries allowed per request; 0 = no retries.
        session: an existing ``requests.Session`` to use (tests); a new one otherwise.

    Raises:
        ValueError: bad server URL or version.

    Every method returns OpsGenie's whole decoded answer (``{"data", "took", "requestId", ...}``)
    and raises a subclass of ``errors.OpsGenieIntegrationError`` on failure. ``responses`` lists
    ``(method, path, status, body)`` of every answer received, in order.
    """

    def __init__(
        self,
        server_url: str = DEFAULT_SERVER_URL,
        api_key: str = "",
        api_version: str = DEFAULT_API_VERSION,
        *,
        timeout: float = 30.0,
        max_retry_time: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        if not is_version_path(api_version or ""):
            raise ValueError("API Version must look like v2")
        if not api_key or not all(" " < ch < "\x7f" for ch in api_key):
            raise ValueError(
                "must be printable ASCII without spaces (it travels in an HTTP header)"
            )
        self.base_url = normalize_server_url(server_url)
        self.api_version = api_version
        self.timeout = (CONNECT_TIMEOUT, float(timeout))
        self._api_key = api_key
        self._max_retry_time = float(max_retry_time)
        self.session = session or requests.Session()
        self._mount(make_retry(max_retry_time), 4)
        self.session.headers.update(
            {
                "Authorization": f"GenieKey {api_key}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )
        self.session.trust_env = False
        self.session.verify = True
        self.last_rate_limit: dict[str, str] = {}
        #: HTTP requests sent, retries included.
        self.requests_sent = 0
        #: A ``pacing.Pacer`` shared by the threads using this client (``use_pacer``), or None.
        self.pacer: Any = None

    def _mount(self, retry: Any, pool_size: int) -> None:
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=pool_size)
        adapter.poolmanager.pool_classes_by_scheme = pool_classes(
            self.timeout[1] * ANSWER_DEADLINE_FACTOR
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def use_pacer(self, pacer: Any, pool_size: int = 4) -> None:
        """Pace every request with ``pacer`` (a ``pacing.Pacer``, shared by the threads calling
        this client) and keep up to ``pool_size`` connections open, one per thread.

        From then on a 429 is not retried by the connection's retry policy but here: the pacer
        holds every thread back for the period OpsGenie names, then the request is sent again
        (within Max Retry Time), so many threads never retry into the limit at once.
        """
        self.pacer = pacer
        self._mount(make_retry(self._max_retry_time, retry_rate_limited=False), max(4, pool_size))

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __enter__(self) -> OpsGenieClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- endpoints -------------------------------------------------------------------------

    def get_request_limits(self) -> dict:
        """``GET /v2/request-limits/``: ``data = {rateLimits: [{domain, limits: [{limit,
        periodInSeconds}]}]}``, the account's limits per rate-limit domain (see ``pacing``).
        A team integration's key may be refused here (403)."""
        return self.get(["request-limits"], trailing_slash=True)

    def get_account(self) -> dict:
        """``GET /v2/account``: ``data = {name, userCount, plan: {maxUserCount, name, isYearly}}``.

        Needs Configuration access; proves the key and the region.
        """
        return self.get(["account"])

    def list_alerts(
        self,
        *,
        query: str | None = None,
        offset: int = 0,
        limit: int = 20,
        sort: str = "createdAt",
        order: str = "desc",
    ) -> dict:
        """``GET /v2/alerts``: one page of alerts; ``data`` is a list, ``paging.next`` absent at the end.

        Args:
            query: OpsGenie alert search query, or None for all.
            offset: >= 0; limit: 1..100; ``offset + limit`` must not exceed 20,000.
            sort: one of ``ALERT_SORT_FIELDS``; order: ``asc`` or ``desc``.

        Raises:
            ValueError: out-of-range paging or unknown sort/order (nothing is sent).
        """
        if not 1 <= limit <= 100 or offset < 0:
            raise ValueError("limit must be 1..100 and offset >= 0")
        if offset + limit > ALERT_PAGING_CAP:
            raise ValueError(f"offset + limit must not exceed {ALERT_PAGING_CAP}")
        if sort not in ALERT_SORT_FIELDS or order not in ("asc", "desc"):
            raise ValueError("unknown sort field or order")
        params: Params = {
            "query": query or None,
            "offset": offset,
            "limit": limit,
            "sort": sort,
            "order": order,
        }
        return self.get(["alerts"], params)

    def count_alerts(self, *, query: str | None = None) -> dict:
        """``GET /v2/alerts/count``: ``data = {count: int}``."""
        return self.get(["alerts", "count"], {"query": query or None})

    def list_schedules(self, *, expand_rotations: bool = False) -> dict:
        """``GET /v2/schedules``: ``data = [{id, name, description, timezone, enabled, ownerTeam?, rotations?}]``."""
        return self.get(["schedules"], {"expand": "rotation" if expand_rotations else None})

    def get_schedule_timeline(
        self,
        identifier: str,
        *,
        identifier_type: str = "name",
        interval: int | None = None,
        interval_unit: str | None = None,
        date: str | None = None,
        expand: Sequence[str] | None = None,
    ) -> dict:
        """``GET /v2/schedules/{identifier}/timeline?identifierType=...``.

        Args:
            identifier: the schedule's name or id (one path segment, percent-encoded).
            identifier_type: ``name`` or ``id``.
            interval: timeline length in ``interval_unit`` (days|weeks|months).
            date: start, already rendered (``times.format_query_date``).
            expand: any of base, forwarding, override.
        """
        params: Params = {
            "identifierType": identifier_type,
            "interval": interval,
            "intervalUnit": interval_unit,
            "date": date,
            "expand": ",".join(expand) if expand else None,
        }
        return self.get(["schedules", identifier, "timeline"], params)

    def get_on_calls(
        self,
        identifier: str,
        *,
        identifier_type: str = "name",
        flat: bool | None = None,
        date: str | None = None,
    ) -> dict:
        """``GET /v2/schedules/{identifier}/on-calls?scheduleIdentifierType=...``.

        ``data = {_parent, onCallParticipants: tree}`` or, with ``flat``, ``{_parent,
        onCallRecipients: [username]}``. Note the parameter is ``scheduleIdentifierType`` here.
        """
        params: Params = {
            "scheduleIdentifierType": identifier_type,
            "flat": None if flat is None else ("true" if flat else "false"),
            "date": date,
        }
        return self.get(["schedules", identifier, "on-calls"], params)

    def get_user(self, identifier: str, *, expand_contacts: bool = False) -> dict:
        """``GET /v2/users/{id or username}``: ``data = {id, username, fullName, role, timeZone?, ...}``."""
        return self.get(["users", identifier], {"expand": "contact" if expand_contacts else None})

    # -- transport -------------------------------------------------------------------------

    def url_for(self, segments: Iterable[str]) -> str:
        """Absolute URL of ``/<version>/<segment>/...``, each segment percent-encoded alone."""
        path = "/".join(encode_segment(str(s)) for s in segments)
        return f"{self.base_url}/{self.api_version}/{path}"

    def get(
        self, segments: list[str], params: Params | None = None, *, trailing_slash: bool = False
    ) -> dict:
        """GET an endpoint and return the decoded JSON answer.

        ``None`` parameter values are not sent; ``trailing_slash`` ends the path with ``/``. With a
        pacer (``use_pacer``) the request first waits for its rate-limit domain's token, and a 429
        is sent again after the pacer's hold, within Max Retry Time.

        Raises:
            errors.APIError subclass: OpsGenie answered with an error status, or a 2xx body that is
                empty or not JSON (``BadResponseError``).
            errors.TransportError: no answer (refused, reset, timeout).
        """
        url = self.url_for(segments) + ("/" if trailing_slash else "")
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        path = urlsplit(url).path
        pacer = self.pacer
        if pacer is None:
            return self._get(url, clean, path, None)
        budget_end = time.monotonic() + self._max_retry_time
        while True:
            pacer.acquire(path)
            try:
                return self._get(url, clean, path, pacer)
            except errors.RateLimitedError as exc:
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                if self._max_retry_time <= 0 or time.monotonic() + wait > budget_end:
                    raise
                log.debug("GET %s -> 429: paced, then sent again", path)

    def _get(self, url: str, clean: Params, path: str, pacer: Any) -> dict:
        started = time.monotonic()
        try:
            response = self.session.get(
                url, params=clean, timeout=self.timeout, stream=True, allow_redirects=False
            )
            try:
                body_text = self._read_body(response, started, path)
            finally:
                response.close()
        except requests.exceptions.SSLError:
            raise errors.TransportError(
                f"TLS verification failed for {self.base_url}.",
                hint="Check the Server URL; certificates are always verified.",
            ) from None
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            if not _is_timeout(exc):
                raise _connection_error(exc, self.base_url, path) from None
            raise errors.RequestTimeoutError(
                f"OpsGenie did not answer GET {path} within the timeout "
                f"(connect {self.timeout[0]:g} s, read {self.timeout[1]:g} s).",
                hint="Check the Server URL and the network path to OpsGenie, or raise Timeout.",
            ) from None
        except requests.exceptions.RetryError:
            raise errors.TransportError(
                f"GET {path} kept failing and the retries ran out.", hint=None
            ) from None
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise errors.RequestTimeoutError(
                f"OpsGenie stopped sending the answer to GET {path} for longer than the read timeout "
                f"({self.timeout[1]:g} s).",
                hint="Check the network path to OpsGenie, or raise Timeout.",
            ) from None
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
            urllib3.exceptions.HTTPError,
            ConnectionError,
        ):
            raise errors.TransportError(
                f"The connection was closed before the whole answer to GET {path} arrived.",
                hint="A proxy or OpsGenie cut the answer short; try again.",
            ) from None
        except requests.exceptions.RequestException as exc:
            raise errors.TransportError(
                f"GET {path} failed: {type(exc).__name__}.", hint=None
            ) from None
        elapsed = time.monotonic() - started
        retries = getattr(getattr(response, "raw", None), "retries", None)
        self.requests_sent += 1 + len(getattr(retries, "history", ()) or ())
        self.last_rate_limit = {
            k: v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit-")
        }
        if pacer is not None:
            pacer.observe(path, response.status_code, response.headers)
        log.debug("GET %s -> %s in %.3f s", path, response.status_code, elapsed)
        return self._decode(response, body_text, path)

    def _read_body(self, response: requests.Response, started: float, path: str) -> bytes:
        """The whole body, decompressed, within ``MAX_BODY_BYTES`` and the answer deadline
        (``ANSWER_DEADLINE_FACTOR`` times the read timeout, counted from the request)."""
        deadline = started + self.timeout[1] * ANSWER_DEADLINE_FACTOR
        chunks: list[bytes] = []
        size = 0
        for chunk in _body_chunks(response):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise errors.BadResponseError(
                    f"The answer to GET {path} is larger than {MAX_BODY_BYTES // 1_000_000} MB; "
                    "OpsGenie's answers are far smaller.",
                    status_code=response.status_code,
                    path=path,
                    hint="Check the Server URL: something other than OpsGenie answered.",
                )
            if time.monotonic() > deadline:
                raise errors.RequestTimeoutError(
                    f"The answer to GET {path} kept arriving for more than "
                    f"{self.timeout[1] * ANSWER_DEADLINE_FACTOR:g} s; it was abandoned.",
                    hint="Check the network path to OpsGenie, or raise Timeout.",
                )
            chunks.append(chunk)
        response._content_consumed = True  # read to the end: requests may pool the connection again
        return b"".join(chunks)

    def _decode(self, response: requests.Response, raw: bytes, path: str) -> dict:
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        body: Any = None
        if raw.strip():
            try:
                body = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
            except (ValueError, RecursionError):
                body = None  # not JSON, NaN/Infinity, or nested beyond reason
        header_request_id = response.headers.get("X-Request-ID")
        if 200 <= status < 300:
            if isinstance(body, dict):
                return body
            if not raw.strip():
                what = "an empty body"
            elif body is None:
                shown = _snippet(raw.replace(self._api_key.encode(), b"[REDACTED]"))
                what = f"a body that is not JSON ({content_type or 'no Content-Type'}: {shown})"
            else:
                what = "JSON that is not an object"
            raise errors.BadResponseError(
                f"OpsGenie answered {status} to GET {path} with {what}.",
                status_code=status,
                request_id=header_request_id,
                path=path,
                hint="A proxy may stand in front of the Server URL; check the Server URL.",
            )
        cls, hint = errors.error_class_for_status(status)
        if isinstance(body, dict):
            message = body.get("message") if isinstance(body.get("message"), str) else None
            code = body.get("code") if isinstance(body.get("code"), int) else None
            errs = body.get("errors")
            request_id = body.get("requestId") if isinstance(body.get("requestId"), str) else None
        else:
            message = code = errs = request_id = None
        if not message:
            message = _message_without_json(
                status,
                response.reason,
                raw.replace(self._api_key.encode(), b"[REDACTED]"),
                content_type,
            )
        if 300 <= status < 400:
            message = f"HTTP {status}: OpsGenie does not redirect; something else answered at {self.base_url}."
            hint = "Check the Server URL (US https://api.opsgenie.com, EU https://api.eu.opsgenie.com)."
        if status == 422 and isinstance(errs, dict) and errs:
            hint = f"OpsGenie refused the value of: {', '.join(map(str, errs))}."
        kwargs: dict[str, Any] = {}
        if cls is errors.RateLimitedError:
            kwargs["retry_after"] = _retry_after(response)
        raise cls(
            message,
            status_code=status,
            code=code,
            errors=errs,
            request_id=request_id or header_request_id,
            body=body if isinstance(body, dict) else None,
            path=path,
            hint=hint,
            **kwargs,
        )


def _is_timeout(exc: BaseException) -> bool:
    """True when a requests error is a timeout, also one wrapped by urllib3 once retries ran out."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.NewConnectionError):
            return False  # a refused connection (urllib3 files it under ConnectTimeoutError)
        if isinstance(current, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)):
            return True
        reason = getattr(current, "reason", None)
        nested = (
            current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        )
        current = reason if isinstance(reason, BaseException) else nested
    return False


def _connection_error(exc: BaseException, base_url: str, path: str) -> errors.TransportError:
    return errors.TransportError(
        f"Could not connect to {base_url}: {_short_reason(exc)}.",
        hint="Check the Server URL (US https://api.opsgenie.com, EU https://api.eu.opsgenie.com) "
        "and that this host can reach it.",
    )


def _body_chunks(response: requests.Response) -> Iterable[bytes]:
    """The body, decompressed, in pieces as they arrive: ``read1`` returns after one socket read,
    so a server dripping bytes cannot hold a read open past the answer deadline."""
    raw = response.raw
    read1 = getattr(raw, "read1", None)
    if not callable(read1):  # urllib3 before 2.3, or a test double
        yield from response.iter_content(chunk_size=8192)
        return
    while True:
        chunk = read1(65536, decode_content=True)
        if not chunk:
            return
        yield chunk


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} overflows a float")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _retry_after(response: requests.Response) -> float | None:
    for header in ("Retry-After", "X-RateLimit-Period-In-Sec"):
        value = response.headers.get(header)
        if value:
            try:
                return float(value)
            except ValueError:
                continue
    return None


def _snippet(raw: bytes, size: int = 80) -> str:
    text = raw[:400].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:size] + ("..." if len(text) > size else "")


def _message_without_json(status: int, reason: str | None, raw: bytes, content_type: str) -> str:
    reason = reason or "error"
    if not raw.strip():
        return f"HTTP {status} {reason} with an empty body."
    if "html" in content_type.lower() or raw.lstrip()[:1] == b"<":
        return f"HTTP {status} {reason}: an HTML page instead of OpsGenie's JSON (a proxy or gateway answered)."
    return f"HTTP {status} {reason}: {_snippet(raw)}"


def _short_reason(exc: Exception) -> str:
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "Temporary failure in name resolution",
        "Connection reset",
        "No route to host",
        "Network is unreachable",
        "Max retries exceeded",
    ):
        if marker in text:
            return marker.lower() if marker != "Max retries exceeded" else "the retries ran out"
    return type(exc).__name__
