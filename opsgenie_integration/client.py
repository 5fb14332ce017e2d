"""HTTP client for the OpsGenie REST API v2.

The client knows HTTP and OpsGenie's endpoints, nothing of commands, the envelope or the CLI.
One ``requests.Session`` per connection; ``Authorization: GenieKey <key>``; a ``(connect, read)``
timeout on every call; path identifiers percent-encoded as one segment; query values passed as
``params`` so the HTTP library encodes them (``+`` becomes ``%2B``); retries as in ``retry.py``
(a write only on 429 and on a connection that failed before sending). Every failure is raised as
one of the exceptions of ``errors.py``; a write that may have been applied (5xx, no whole answer
after sending) as ``errors.OutcomeUnknownError``. The proxy, CA bundle and TLS
verification come from ``network.NetworkSettings`` (settings, else the environment), never from
``requests``' own environment handling (``trust_env`` is off): one behaviour for every request.
With ``-v`` (INFO) each request logs one line: method, path (no query, no key), status, time.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import time
import warnings
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from typing import Any, Union
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.utils import get_auth_from_url
from urllib3.poolmanager import ProxyManager

from . import errors
from .network import NetworkSettings, unreadable_certificates
from .redact import Redactor
from .retry import make_retry
from .urls import encode_segment, is_version_path, normalize_server_url
from .watchdog import pool_classes

log = logging.getLogger(__name__)

DEFAULT_SERVER_URL = "https://api.opsgenie.com"
EU_SERVER_URL = "https://api.eu.opsgenie.com"
DEFAULT_API_VERSION = "v2"
CONNECT_TIMEOUT = 5.0
USER_AGENT = "opsgenie-integration/0.1"

#: Largest answer body accepted (decompressed), bytes (8 MB, as the README says); a page of 100
#: alerts is about 200 kB.
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


class NetworkAdapter(HTTPAdapter):
    """The transport adapter of every request the integration makes (commands, fetch, the
    health check's webhook).

    - The answer deadline (``watchdog.pool_classes``) holds for every connection: direct, and
      through an HTTP(S) proxy too (``requests`` builds a separate ``ProxyManager`` per proxy,
      whose plain urllib3 pools would let a proxy drip an answer forever).
    - Proxy credentials travel as Basic ``Proxy-Authorization`` in UTF-8 (RFC 7617), so a user
      name or password outside Latin-1 works instead of failing inside ``requests``.

    Args:
        pool_classes: urllib3 pool classes by scheme (``watchdog.pool_classes``).
        other arguments: as ``HTTPAdapter``'s.
    """

    def __init__(self, *args: Any, pool_classes: dict[str, type], **kwargs: Any) -> None:
        self.pool_classes = pool_classes
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self.pool_classes

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # a SOCKS manager keeps its own pools
            manager.pool_classes_by_scheme = self.pool_classes
        return manager

    def proxy_headers(self, proxy: str) -> dict[str, str]:
        return proxy_authorization(proxy)


def proxy_authorization(proxy: str) -> dict[str, str]:
    """``{"Proxy-Authorization": "Basic ..."}`` for a proxy URL with credentials (decoded from
    percent-encoding, sent as UTF-8), else ``{}``."""
    username, password = get_auth_from_url(proxy)
    if not username:
        return {}
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Proxy-Authorization": f"Basic {token}"}


class OpsGenieClient:
    """Talks to one OpsGenie account.

    Args:
        server_url: ``https://api.opsgenie.com`` (US) or ``https://api.eu.opsgenie.com`` (EU); http
            only for loopback hosts. Normalised by ``normalize_server_url``.
        api_key: the API integration key (the literal, already resolved).
        api_version: path version segment, ``v2``.
        timeout: read timeout per request, s (the connect timeout is 5 s).
        max_retry_time: seconds of waiting between retries allowed per request; 0 = no retries.
        request_wait: seconds an alert write waits at most for OpsGenie to process it (read by
            the commands' request tracking); 0 = do not wait.
        session: an existing ``requests.Session`` to use (tests); a new one otherwise.
        network: proxy, CA bundle and verification (``network.resolve_network``); None = direct,
            the bundled public CAs, verification on.

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
        request_wait: float = 10.0,
        session: requests.Session | None = None,
        network: NetworkSettings | None = None,
        redactor: Redactor | None = None,
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
        self.request_wait = float(request_wait)
        self._api_key = api_key
        # pieces of OpsGenie's answers quoted in error messages pass the connection's redactor
        self._redactor = redactor if redactor is not None else Redactor([api_key])
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
        self.network = network or NetworkSettings()
        self.max_retry_time = float(max_retry_time)
        self.proxy = self.network.proxy_for(self.base_url)
        self.session.proxies = self.network.requests_proxies(self.base_url)
        self.session.verify = self.network.verify
        self.last_rate_limit: dict[str, str] = {}
        #: HTTP requests sent, retries included.
        self.requests_sent = 0
        #: A ``pacing.Pacer`` shared by the threads using this client (``use_pacer``), or None.
        self.pacer: Any = None

    def _mount(self, retry: Any, pool_size: int) -> None:
        adapter = NetworkAdapter(
            max_retries=retry,
            pool_maxsize=pool_size,
            pool_classes=pool_classes(self.timeout[1] * ANSWER_DEADLINE_FACTOR),
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def use_pacer(self, pacer: Any, pool_size: int = 4) -> None:
        """Pace every GET with ``pacer`` (a ``pacing.Pacer``, shared by the threads calling this
        client) and keep up to ``pool_size`` connections open, one per thread.

        From then on a 429 on a GET is not retried by the connection's retry policy but here: the
        pacer holds every thread back for the period OpsGenie names, then the request is sent
        again (within Max Retry Time), so many threads never retry into the limit at once.
        """
        self.pacer = pacer
        retry = make_retry(self.max_retry_time, retry_rate_limited=False)
        self._mount(retry, max(4, pool_size))

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

    def get_schedule(self, identifier: str, *, identifier_type: str = "name") -> dict:
        """``GET /v2/schedules/{identifier}?identifierType=name|id``: ``data = {id, name,
        description, timezone, enabled, ownerTeam?, rotations}``."""
        return self.get(["schedules", identifier], {"identifierType": identifier_type})

    def get_next_on_calls(
        self,
        identifier: str,
        *,
        identifier_type: str = "name",
        flat: bool | None = None,
        date: str | None = None,
    ) -> dict:
        """``GET /v2/schedules/{identifier}/next-on-calls?scheduleIdentifierType=...``.

        ``data = {_parent, nextOnCallRecipients, exactNextOnCallRecipients}`` (participant trees)
        or, with ``flat``, ``{_parent, nextOnCallParticipants, exactNextOnCallParticipants}``
        (usernames). The identifier-type parameter is ``scheduleIdentifierType`` here.
        """
        params: Params = {
            "scheduleIdentifierType": identifier_type,
            "flat": None if flat is None else ("true" if flat else "false"),
            "date": date,
        }
        return self.get(["schedules", identifier, "next-on-calls"], params)

    def list_on_calls(self, *, flat: bool | None = None, date: str | None = None) -> dict:
        """``GET /v2/schedules/on-calls[?flat=&date=]``: ``data = [{_parent,
        onCallParticipants | onCallRecipients}]``, one item per schedule."""
        params: Params = {
            "flat": None if flat is None else ("true" if flat else "false"),
            "date": date,
        }
        return self.get(["schedules", "on-calls"], params)

    def get_team(self, identifier: str, *, identifier_type: str = "name") -> dict:
        """``GET /v2/teams/{identifier}?identifierType=name|id``: ``data = {id, name,
        description, members: [{user: {id, username}, role}]}``."""
        return self.get(["teams", identifier], {"identifierType": identifier_type})

    def list_teams(self) -> dict:
        """``GET /v2/teams``: ``data = [{id, name, description}]``."""
        return self.get(["teams"])

    def get_escalation(self, identifier: str, *, identifier_type: str = "name") -> dict:
        """``GET /v2/escalations/{identifier}?identifierType=name|id``: ``data = {id, name,
        description, ownerTeam?, rules: [{condition, notifyType, delay, recipient}], repeat?}``."""
        return self.get(["escalations", identifier], {"identifierType": identifier_type})

    def list_escalations(self) -> dict:
        """``GET /v2/escalations``: ``data = [escalation]`` (see ``get_escalation``)."""
        return self.get(["escalations"])

    def get_user(self, identifier: str, *, expand_contacts: bool = False) -> dict:
        """``GET /v2/users/{id or username}``: ``data = {id, username, fullName, role, timeZone?, ...}``."""
        return self.get(["users", identifier], {"expand": "contact" if expand_contacts else None})

    def list_users(self, *, limit: int = 1) -> dict:
        """``GET /v2/users?limit=``: ``data = [user]``, ``totalCount`` (Test Connection's probe of
        the user endpoints)."""
        return self.get(["users"], {"limit": limit})

    def get_alert(self, identifier: str) -> dict:
        """``GET /v2/alerts/{id}?identifierType=id``: ``data`` = the alert with the fields the
        list lacks (``details``, ``description``, ``actions``, ``entity``)."""
        return self.get(["alerts", identifier], {"identifierType": "id"})

    def get_saved_search(self, identifier: str, *, identifier_type: str = "name") -> dict:
        """``GET /v2/alerts/saved-searches/{identifier}?identifierType=name|id``: ``data = {id,
        name, query, description?, owner?, teams?, createdAt?, updatedAt?}``."""
        return self.get(
            ["alerts", "saved-searches", identifier], {"identifierType": identifier_type}
        )

    # -- transport -------------------------------------------------------------------------

    def url_for(self, segments: Iterable[str]) -> str:
        """Absolute URL of ``/<version>/<segment>/...``, each segment percent-encoded alone."""
        path = "/".join(encode_segment(str(s)) for s in segments)
        return f"{self.base_url}/{self.api_version}/{path}"

    def get(
        self, segments: list[str], params: Params | None = None, *, trailing_slash: bool = False
    ) -> dict:
        """GET an endpoint and return the decoded JSON answer (see ``request``);
        ``trailing_slash`` ends the path with ``/``. With a pacer (``use_pacer``) the request first
        waits for its rate-limit domain's token, and a 429 is sent again after the pacer's hold,
        within Max Retry Time."""
        pacer = self.pacer
        if pacer is None:
            return self._send("GET", segments, params, None, trailing_slash)
        budget_end = time.monotonic() + self.max_retry_time
        path = urlsplit(self.url_for(segments)).path + ("/" if trailing_slash else "")
        while True:
            pacer.acquire(path)
            try:
                return self._send("GET", segments, params, None, trailing_slash)
            except errors.RateLimitedError as exc:
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                if self.max_retry_time <= 0 or time.monotonic() + wait > budget_end:
                    raise
                log.debug("GET %s -> 429: paced, then sent again", path)

    def request(
        self,
        method: str,
        segments: list[str],
        params: Params | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict:
        """Send ``method`` to ``/<version>/<segments>`` and return the decoded JSON answer.

        ``None`` parameter values are not sent; ``body`` goes as JSON. A write (any method but GET)
        is retried only on 429 and on a connection that failed before sending.

        Raises:
            errors.APIError subclass: OpsGenie answered with an error status, or a 2xx body that is
                empty or not JSON (``BadResponseError``).
            errors.OutcomeUnknownError: a write answered 5xx, or sent without a whole answer.
            errors.TransportError: no answer (refused, reset, timeout).
        """
        if method == "GET":
            return self.get(segments, params)
        try:
            return self._send(method, segments, params, body)
        except (errors.ServerError, errors.TransportError) as exc:
            if getattr(exc, "not_sent", False):
                raise
            path = urlsplit(self.url_for(segments)).path
            raise errors.OutcomeUnknownError(
                f"{method} {path}", exc, request_id=exc.request_id
            ) from None

    def _send(
        self,
        method: str,
        segments: list[str],
        params: Params | None,
        body: dict[str, Any] | None,
        trailing_slash: bool = False,
    ) -> dict:
        url = self.url_for(segments) + ("/" if trailing_slash else "")
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        path = urlsplit(url).path
        started = time.monotonic()
        try:
            # verification off is said once per run by Integration.connect, not per request
            quiet = warnings.catch_warnings() if not self.network.verify_tls else nullcontext()
            with quiet:
                if not self.network.verify_tls:
                    warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                response = self.session.request(
                    method,
                    url,
                    params=clean,
                    json=body,
                    timeout=self.timeout,
                    stream=True,
                    allow_redirects=False,
                )
                try:
                    body_text = self._read_body(response, started, path)
                finally:
                    response.close()
        except (requests.exceptions.SSLError, requests.exceptions.ProxyError) as exc:
            ssl = isinstance(exc, requests.exceptions.SSLError)
            error = self._tls_error(exc) if ssl else self._proxy_error(exc)
            error.not_sent = True  # type: ignore[attr-defined]  # the request never left
            raise error from None
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            if not _is_timeout(exc) and (method == "GET" or _not_sent(exc)):
                if self.proxy is not None:  # the proxy is what this host connects to
                    raise self._proxy_error(exc) from None
                raise _connection_error(exc, self.base_url, path) from None
            if not _is_timeout(exc):
                raise errors.TransportError(
                    f"The connection broke before OpsGenie answered {method} {path}.",
                    hint="A proxy or OpsGenie closed the connection; try again.",
                ) from None
            if self.proxy is not None:
                timeout = errors.RequestTimeoutError(
                    f"No answer to {method} {path} came through the proxy {self._proxy_note()} "
                    f"within the timeout (connect {self.timeout[0]:g} s, read "
                    f"{self.timeout[1]:g} s, the whole status line and headers "
                    f"{self.timeout[1] * ANSWER_DEADLINE_FACTOR:g} s).",
                    hint="Check that the proxy runs and lets this host reach the Server URL (or "
                    "set NO_PROXY), or raise Timeout.",
                )
                timeout.not_sent = isinstance(exc, requests.exceptions.ConnectTimeout)  # type: ignore[attr-defined]
                raise timeout from None
            timeout = errors.RequestTimeoutError(
                f"OpsGenie did not answer {method} {path} within the timeout "
                f"(connect {self.timeout[0]:g} s, read {self.timeout[1]:g} s).",
                hint="Check the Server URL and the network path to OpsGenie, or raise Timeout.",
            )
            timeout.not_sent = isinstance(exc, requests.exceptions.ConnectTimeout)  # type: ignore[attr-defined]
            raise timeout from None
        except requests.exceptions.RetryError:
            raise errors.TransportError(
                f"{method} {path} kept failing and the retries ran out.", hint=None
            ) from None
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            via = f" (through the proxy {self._proxy_note()})" if self.proxy is not None else ""
            raise errors.RequestTimeoutError(
                f"OpsGenie stopped sending the answer to {method} {path}{via} for longer than the "
                f"read timeout ({self.timeout[1]:g} s).",
                hint="Check the network path to OpsGenie, or raise Timeout.",
            ) from None
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
            urllib3.exceptions.HTTPError,
            ConnectionError,
        ):
            raise errors.TransportError(
                f"The connection was closed before the whole answer to {method} {path} arrived.",
                hint="A proxy or OpsGenie cut the answer short; try again.",
            ) from None
        except requests.exceptions.RequestException as exc:
            raise errors.TransportError(
                f"{method} {path} failed: {type(exc).__name__}.", hint=None
            ) from None
        elapsed = time.monotonic() - started
        retries = getattr(getattr(response, "raw", None), "retries", None)
        retried = len(getattr(retries, "history", ()) or ())
        self.requests_sent += 1 + retried
        self.last_rate_limit = {
            k: v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit-")
        }
        if self.pacer is not None and method == "GET":
            self.pacer.observe(path, response.status_code, response.headers)
        log.info(
            "%s %s -> %s in %.3f s%s",
            method,
            path,
            response.status_code,
            elapsed,
            f" ({retried} retr{'y' if retried == 1 else 'ies'})" if retried else "",
        )
        return self._decode(response, body_text, path, retried, method)

    def _retries_said(self, retried: int) -> str:
        """What the retries did, truthfully (none, or how many within the budget)."""
        if self.max_retry_time <= 0:
            return "no retry was made (Max Retry Time is 0: retries are off)."
        if retried == 0:
            return f"no retry was made within the Max Retry Time of {self.max_retry_time:g} s."
        plural = "retry" if retried == 1 else "retries"
        return f"{retried} {plural} within the Max Retry Time of {self.max_retry_time:g} s did not succeed."

    def _rate_limit_hint(self, retry_after: float | None, reason: str | None, retried: int) -> str:
        """Why a 429 ends the call: the wait asked for, its reason, and the retries made."""
        why = f" (reason: {reason})" if reason else ""
        wait = (
            f"OpsGenie asks to wait {retry_after:g} s"
            if retry_after is not None
            else "OpsGenie gave no wait time"
        )
        head = f"The rate limit was reached{why}; {wait}."
        if (
            retried == 0
            and self.max_retry_time > 0
            and retry_after is not None
            and retry_after > self.max_retry_time
        ):
            return (
                f"{head} No retry was made because {retry_after:g} s exceeds the Max Retry Time "
                f"(max_retry_time) of {self.max_retry_time:g} s. Try again in {retry_after:g} s, "
                "raise max_retry_time, or lower the call rate."
            )
        said = self._retries_said(retried)
        return f"{head} {said[:1].upper()}{said[1:]} Try again later, or lower the call rate."

    def _proxy_note(self) -> str:
        if self.proxy is None:
            return ""
        source = "the proxy setting" if self.proxy.source == "proxy" else self.proxy.source
        return f"{self.proxy.display} (from {source})"

    def _tls_error(self, exc: BaseException) -> errors.TransportError:
        """A certificate that does not verify: TlsVerificationError (not retryable), naming the
        CA bundle in use; any other TLS failure: a TransportError."""
        text = str(exc)
        via = f" through the proxy {self._proxy_note()}" if self.proxy else ""
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            detail = text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0]
            detail = detail.strip(" )'\"") or "certificate verify failed"
            trusted = (
                f"the CA bundle {self.network.ca_bundle} (from {self.network.ca_source})"
                if self.network.ca_bundle
                else "the bundled public CAs"
            )
            return errors.TlsVerificationError(
                f"TLS verification failed for {self.base_url}{via}: {detail}; the certificate is "
                f"not signed by {trusted}.",
                hint="If a TLS-inspecting proxy or a private CA signs the certificate, set CA "
                "Bundle (ca_bundle) to its PEM file, or REQUESTS_CA_BUNDLE / SSL_CERT_FILE; "
                "otherwise check the Server URL.",
            )
        if self.network.verify_tls and self.network.ca_bundle:
            problem = unreadable_certificates(self.network.ca_bundle)
            if problem is not None:  # the CA file changed since the settings were checked
                source = self.network.ca_source or "ca_bundle"
                named = "CA Bundle (ca_bundle)" if source == "ca_bundle" else source
                return errors.TlsVerificationError(
                    f"The CAs to trust could not be loaded for {self.base_url}{via}: "
                    f"{self.network.ca_bundle!r} (from {named}) holds a certificate that cannot "
                    f"be read ({problem}).",
                    hint=f"Point {named} at a PEM file of CA certificates.",
                )
        return errors.TransportError(
            f"The TLS handshake with {self.base_url}{via} failed ({_short_tls_reason(text)}).",
            hint="Check that the Server URL speaks HTTPS (http:// is for loopback only).",
        )

    def _proxy_error(self, exc: BaseException) -> errors.ProxyError:
        """A proxy that refused (407, its policy) or could not be reached, named without its
        password."""
        text = str(exc)
        note = self._proxy_note() or "the proxy"
        display = self.proxy.display if self.proxy else "unknown"
        refused = _tunnel_status(text)
        if refused is not None:
            if refused == 407:
                return errors.ProxyAuthenticationError(
                    f"The proxy {note} refused the request: 407 Proxy Authentication Required.",
                    proxy=display,
                    hint="Put the proxy's user name and password in the proxy URL "
                    "(http://user:password@host:port; percent-encode special characters).",
                )
            return errors.ProxyAuthenticationError(
                f"The proxy {note} refused to connect to {self.base_url}: HTTP {refused}.",
                proxy=display,
                hint="Ask the proxy's administrators to allow this host, or set NO_PROXY.",
            )
        reason = _short_reason(exc)
        if reason == _CLOSED_WITHOUT_ANSWER:
            return errors.ProxyError(
                f"The proxy {note} closed the connection without answering the request to "
                f"{self.base_url}.",
                proxy=display,
                hint="Check the proxy setting (or HTTPS_PROXY / NO_PROXY) and the proxy's log; "
                "try again.",
            )
        return errors.ProxyError(
            f"Could not connect to the proxy {note}: {reason}.",
            proxy=display,
            hint="Check the proxy setting (or HTTPS_PROXY / NO_PROXY) and that the proxy runs.",
        )

    def _hidden(self, raw: bytes) -> bytes:
        """``raw`` with the secrets (and runs of their first or last characters) hidden."""
        return self._redactor.text(raw.decode("utf-8", "replace")).encode("utf-8")

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

    def _decode(
        self,
        response: requests.Response,
        raw: bytes,
        path: str,
        retried: int = 0,
        method: str = "GET",
    ) -> dict:
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        body: Any = _NOT_JSON
        if raw.strip():
            try:
                body = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
            except (ValueError, RecursionError):
                body = _NOT_JSON  # not JSON, NaN/Infinity, or nested beyond reason
        header_request_id = response.headers.get("X-Request-ID")
        if status == 407:  # a proxy answering an http:// request in absolute form
            raise self._proxy_error(OSError("Tunnel connection failed: 407"))
        if 200 <= status < 300:
            if isinstance(body, dict):
                return body
            if not raw.strip():
                what = "an empty body"
            elif body is _NOT_JSON:
                shown = _snippet(self._hidden(raw))
                what = f"a body that is not JSON ({content_type or 'no Content-Type'}: {shown})"
            else:
                what = "JSON that is not an object"
            raise errors.BadResponseError(
                f"OpsGenie answered {status} to {method} {path} with {what}.",
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
                self._hidden(raw),
                content_type,
            )
        if 300 <= status < 400:
            message = f"HTTP {status}: OpsGenie does not redirect; something else answered at {self.base_url}."
            hint = "Check the Server URL (US https://api.opsgenie.com, EU https://api.eu.opsgenie.com)."
        if status == 422 and isinstance(errs, dict) and errs:
            hint = f"OpsGenie refused the value of: {', '.join(map(str, errs))}."
        kwargs: dict[str, Any] = {
            "method": method,
            "opsgenie_error_type": response.headers.get("X-Opsgenie-Errortype"),
        }
        if cls is errors.RateLimitedError:
            kwargs["retry_after"] = _retry_after(response)
            kwargs["reason"] = response.headers.get("X-RateLimit-Reason") or None
            hint = self._rate_limit_hint(kwargs["retry_after"], kwargs["reason"], retried)
        elif issubclass(cls, errors.RetriableAPIError):
            hint = f"{hint.split(';')[0]}; {self._retries_said(retried)} Try again later."
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


_NOT_JSON = object()  # a body that is not JSON (``null`` is JSON: it decodes to None)


def _tunnel_status(text: str) -> int | None:
    """The status of a refused CONNECT (``Tunnel connection failed: 407 ...``), else None."""
    marker = "Tunnel connection failed: "
    at = text.find(marker)
    if at < 0:
        return None
    digits = text[at + len(marker) : at + len(marker) + 3]
    return int(digits) if digits.isdigit() else None


def _short_tls_reason(text: str) -> str:
    for marker in ("WRONG_VERSION_NUMBER", "wrong version number"):
        if marker in text:
            return "the server does not speak TLS there: wrong version number"
    return "TLS error"


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


def _not_sent(exc: BaseException) -> bool:
    """True when a connection error happened before the request was sent (refused, DNS, TLS
    handshake, connect timeout): a write cannot have been applied."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError),
        ):
            return True
        reason = getattr(current, "reason", None)
        nested = (
            current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        )
        current = reason if isinstance(reason, BaseException) else nested
    text = str(exc)
    return any(m in text for m in ("Connection refused", "Name or service not known", "resolution"))


def _connection_error(exc: BaseException, base_url: str, path: str) -> errors.TransportError:
    error = errors.TransportError(
        f"Could not connect to {base_url}: {_short_reason(exc)}.",
        hint="Check the Server URL (US https://api.opsgenie.com, EU https://api.eu.opsgenie.com) "
        "and that this host can reach it.",
    )
    error.not_sent = _not_sent(exc)  # type: ignore[attr-defined]
    return error


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


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost error under the wrappers of requests and urllib3 (``MaxRetryError``,
    ``ProxyError``, ``ProtocolError``...): what actually went wrong on the socket."""
    seen: set[int] = set()
    current = exc
    while id(current) not in seen:
        seen.add(id(current))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        nested = next((a for a in current.args if isinstance(a, BaseException)), None)
        if nested is not None:
            current = nested
            continue
        original = getattr(current, "original_error", None)
        if isinstance(original, BaseException):
            current = original
            continue
        if current.__cause__ is not None:
            current = current.__cause__
            continue
        break
    return current


_REASON_MARKERS = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", "name or service not known"),
    ("Temporary failure in name resolution", "temporary failure in name resolution"),
    ("nodename nor servname", "name or service not known"),
    ("Connection reset", "connection reset"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network is unreachable"),
    (
        "Remote end closed connection without response",
        "the connection was closed without an answer",
    ),
)
_CLOSED_WITHOUT_ANSWER = "the connection was closed without an answer"


def _short_reason(exc: BaseException) -> str:
    """What went wrong, in a few words, from the innermost error. Never "the retries ran out":
    urllib3 says "Max retries exceeded" even when no retry was allowed or made."""
    cause = _root_cause(exc)
    if isinstance(cause, http.client.RemoteDisconnected):
        return _CLOSED_WITHOUT_ANSWER
    if isinstance(cause, ConnectionResetError):
        return "connection reset"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, (TimeoutError, urllib3.exceptions.TimeoutError)):
        return "no answer within the timeout"
    for text in (str(cause), str(exc)):
        for marker, said in _REASON_MARKERS:
            if marker in text:
                return said
    return type(cause).__name__
