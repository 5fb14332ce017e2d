"""The HTTP machinery under ``OpsGenieClient``: one ``requests.Session`` per connection, sending,
body reading.

``Transport`` holds the session: ``Authorization: GenieKey <key>``; a ``(connect, read)`` timeout
(seconds) on every call; path identifiers percent-encoded as one segment (``url_for``); query values
passed as ``params`` so the HTTP library encodes them (``+`` becomes ``%2B``); retries as in
``retry.py`` (a write only on 429 and on a connection that failed before sending). The proxy, CA
bundle and TLS verification come from ``network.NetworkSettings`` (settings, else the
environment), never from ``requests``' own environment handling (``trust_env`` is off): one
behaviour for every request. ``NetworkAdapter`` (also used by the health check's webhook) keeps
the answer deadline (``watchdog.pool_classes``) on direct and proxied connections and sends proxy
credentials as UTF-8. A body is read whole within ``MAX_BODY_BYTES`` (bytes, decompressed) and
``ANSWER_DEADLINE_FACTOR`` read timeouts from the request.

Every failure is raised as one of the exceptions of ``errors.py`` (which one, and its message, is
``http_errors.py``'s job); a write that may have been applied (5xx, no whole answer after sending)
as ``errors.OutcomeUnknownError``. With ``-v`` (INFO) each request logs one line on the
``opsgenie_integration.client`` logger: method, path (no query, no key), status, time (s).
"""

from __future__ import annotations

import base64
import logging
import time
import warnings
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any, Union
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.utils import get_auth_from_url
from urllib3.poolmanager import ProxyManager

from . import errors
from .http_errors import HttpErrors, connection_error, is_timeout, not_sent
from .network import NetworkSettings
from .redact import Redactor
from .retry import make_retry
from .urls import encode_segment, is_version_path, normalize_server_url
from .watchdog import pool_classes

# the request log line keeps the logger it had before the transport left client.py
log = logging.getLogger("opsgenie_integration.client")

CONNECT_TIMEOUT = 5.0
USER_AGENT = "opsgenie-integration/0.1"

#: Largest answer body accepted (decompressed), bytes (8 MB, as the README says); a page of 100
#: alerts is about 200 kB.
MAX_BODY_BYTES = 8_000_000
#: An answer must be complete within this many read timeouts from the request.
ANSWER_DEADLINE_FACTOR = 2

#: Query parameters of one request; ``None`` values are not sent.
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


class Transport(HttpErrors):
    """One connection's HTTP: the session, sending a request, reading and decoding its answer.

    Args:
        server_url: the API's base URL; http only for loopback hosts. Normalised by
            ``normalize_server_url``.
        api_key: the API integration key (the literal, already resolved).
        api_version: path version segment, ``v2``.
        timeout: read timeout per request, s (the connect timeout is ``CONNECT_TIMEOUT``, 5 s).
        max_retry_time: seconds of waiting between retries allowed per request; 0 = no retries.
        session: an existing ``requests.Session`` to use (tests); a new one otherwise.
        network: proxy, CA bundle and verification (``network.resolve_network``); None = direct,
            the bundled public CAs, verification on.
        redactor: hides the connection's secrets in pieces of answers quoted in error messages;
            None = one that hides ``api_key``.

    Raises:
        ValueError: bad server URL or version, or a key that cannot travel in a header.

    ``requests_sent`` counts the HTTP requests sent (retries included); ``last_rate_limit`` holds
    the ``X-RateLimit-*`` headers of the last answer.
    """

    def __init__(
        self,
        server_url: str,
        api_key: str,
        api_version: str,
        *,
        timeout: float = 30.0,
        max_retry_time: float = 60.0,
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
            if not is_timeout(exc) and (method == "GET" or not_sent(exc)):
                if self.proxy is not None:  # the proxy is what this host connects to
                    raise self._proxy_error(exc) from None
                raise connection_error(exc, self.base_url, path) from None
            if not is_timeout(exc):
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
                f"{self.SERVICE} did not answer {method} {path} within the timeout "
                f"(connect {self.timeout[0]:g} s, read {self.timeout[1]:g} s).",
                hint=f"Check the Server URL and the network path to {self.SERVICE}, or raise Timeout.",
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
                f"{self.SERVICE} stopped sending the answer to {method} {path}{via} for longer than the "
                f"read timeout ({self.timeout[1]:g} s).",
                hint=f"Check the network path to {self.SERVICE}, or raise Timeout.",
            ) from None
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
            urllib3.exceptions.HTTPError,
            ConnectionError,
        ):
            raise errors.TransportError(
                f"The connection was closed before the whole answer to {method} {path} arrived.",
                hint=f"A proxy or {self.SERVICE} cut the answer short; try again.",
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
                    f"{self.SERVICE}'s answers are far smaller.",
                    status_code=response.status_code,
                    path=path,
                    hint=f"Check the Server URL: something other than {self.SERVICE} answered.",
                )
            if time.monotonic() > deadline:
                raise errors.RequestTimeoutError(
                    f"The answer to GET {path} kept arriving for more than "
                    f"{self.timeout[1] * ANSWER_DEADLINE_FACTOR:g} s; it was abandoned.",
                    hint=f"Check the network path to {self.SERVICE}, or raise Timeout.",
                )
            chunks.append(chunk)
        response._content_consumed = True  # read to the end: requests may pool the connection again
        return b"".join(chunks)


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
