"""The webhook notifier: ``Notification.payload()`` POSTed as JSON, bounded in time and memory."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from ...network import NetworkSettingError, NetworkSettings, resolve_network
from ...redact import Redactor
from ...transport import NetworkAdapter
from ...watchdog import WATCHDOG, pool_classes
from ..notification import (
    DEFAULT_NOTIFY_TIMEOUT,
    MAX_WEBHOOK_ANSWER_BYTES,
    USER_AGENT,
    Notification,
    NotificationError,
    check_notify_timeout,
    one_line,
    safe_url,
)


def _pool_classes_until(deadline: float) -> dict[str, type]:
    """The watchdog's urllib3 pool classes (``watchdog.pool_classes``) whose header deadline is
    whatever is left until ``deadline`` (``time.monotonic()``) when the request has been sent."""

    def left(_self: Any) -> float:
        return max(deadline - time.monotonic(), 0.001)

    classes = {}
    for scheme, pool in pool_classes(max(deadline - time.monotonic(), 0.001)).items():
        connection = type(
            pool.ConnectionCls.__name__, (pool.ConnectionCls,), {"header_deadline": property(left)}
        )
        classes[scheme] = type(pool.__name__, (pool,), {"ConnectionCls": connection})
    return classes


def _read_some(response: Any, deadline: float, limit: int) -> bytes:
    """At most ``limit`` bytes of ``response``'s body (as sent, not decoded), read until
    ``deadline`` (``time.monotonic()``) at the latest: the watchdog shuts the socket down then,
    whatever the server does. Whatever goes wrong, what arrived so far."""
    raw = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    watch = (
        WATCHDOG.watch(sock, max(deadline - time.monotonic(), 0.0)) if sock is not None else None
    )
    chunks: list[bytes] = []
    size = 0
    try:
        read1 = getattr(raw, "read1", None)
        while size < limit and time.monotonic() < deadline and not (watch and watch.fired):
            want = min(65536, limit - size)
            chunk = (
                read1(want, decode_content=False)
                if callable(read1)
                else raw.read(want, decode_content=False)
            )
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except Exception:  # noqa: BLE001, S110 - the body only decorates an error message
        pass
    finally:
        if watch is not None:
            WATCHDOG.unwatch(watch)
    return b"".join(chunks)[:limit]


class WebhookNotifier:
    """POSTs ``Notification.payload()`` as JSON to ``url`` (requests; one attempt, no retries,
    no redirects).

    Args:
        url: http(s) URL; its path and query are never shown (a webhook URL often carries a token).
        timeout: s, for the whole exchange: connecting, the status line and headers (the watchdog
            shuts the connection down when they are not complete in time, however they trickle
            in) and, for an error status, the first ``MAX_WEBHOOK_ANSWER_BYTES`` of the body.
            A 2xx answer's body is never read.
        redactor: the health check's one redactor: hides its secrets (and, for this message
            only, the URL's path, query and credentials) in the piece of an error answer shown.
        network: the connection's proxy, CA bundle and verification (``network.py``): the
            webhook goes out exactly as the commands' requests do (None: resolved from the
            environment alone).

    ``send`` raises ``NotificationError`` for a status other than 2xx (with the start of the
    answer, on one line) or no answer.

    Raises (constructor):
        ValueError: not an http(s) URL; a timeout that is not finite, above 0 and at most
            ``MAX_NOTIFY_TIMEOUT``.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_NOTIFY_TIMEOUT,
        redactor: Redactor | None = None,
        network: NetworkSettings | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {safe_url(url)}")
        self.url = url
        self.timeout = check_notify_timeout(timeout)
        self.redactor = redactor if redactor is not None else Redactor()
        self.network = network if network is not None else resolve_network()
        self.name = f"webhook {safe_url(url)}"

    def _url_parts(self) -> list[str]:
        """The pieces of the URL an answer must not show: its path, query and credentials."""
        parts = urlsplit(self.url)
        pieces = [parts.path, parts.query, parts.fragment, parts.username, parts.password]
        pieces += [p for p in parts.path.split("/") if len(p) >= 4]
        pieces += [
            v for _, _, v in (q.partition("=") for q in parts.query.split("&")) if len(v) >= 4
        ]
        return [p for p in pieces if p and len(p) >= 4 and p != "/"]

    def send(self, notification: Notification) -> None:
        deadline = time.monotonic() + self.timeout
        body = json.dumps(notification.payload(), ensure_ascii=False, default=str).encode("utf-8")
        classes = _pool_classes_until(deadline)

        try:
            proxies = self.network.requests_proxies(self.url)
        except NetworkSettingError as exc:  # the proxy variable chosen for this URL
            raise NotificationError(str(exc)) from None
        with requests.Session() as session:
            session.trust_env = False  # one behaviour: network.py resolved the environment
            session.proxies = proxies
            session.verify = self.network.verify
            for prefix in ("http://", "https://"):
                # the deadline pools directly and through the proxy; UTF-8 proxy credentials
                session.mount(prefix, NetworkAdapter(max_retries=0, pool_classes=classes))
            try:
                response = session.post(
                    self.url,
                    data=body,
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "User-Agent": USER_AGENT,
                        "X-OpsGenie-Health-Event": notification.event,
                        "Accept-Encoding": "identity",  # the body is read as sent, capped
                    },
                    timeout=(min(self.timeout, 5.0), self.timeout),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.Timeout:
                raise NotificationError(f"no answer within {self.timeout:g} s") from None
            except requests.exceptions.SSLError:
                raise NotificationError("the TLS handshake failed (certificate?)") from None
            except requests.exceptions.ProxyError:
                if time.monotonic() >= deadline:  # the watchdog cut the proxy's headers short
                    raise NotificationError(f"no answer within {self.timeout:g} s") from None
                proxy = self.network.proxy_for(self.url)
                shown = proxy.display if proxy else "the proxy"
                raise NotificationError(f"the proxy {shown} refused or cannot be reached") from None
            except requests.ConnectionError:
                if time.monotonic() >= deadline:  # the watchdog cut a trickle of headers short
                    raise NotificationError(f"no answer within {self.timeout:g} s") from None
                raise NotificationError("cannot connect (refused, reset or unknown host)") from None
            except requests.RequestException as exc:
                raise NotificationError(f"the request failed ({type(exc).__name__})") from None
            try:
                status = response.status_code
                answer = b""
                if not 200 <= status < 300:
                    answer = _read_some(response, deadline, MAX_WEBHOOK_ANSWER_BYTES)
            finally:
                response.close()
        if not 200 <= status < 300:
            shown = Redactor(self._url_parts()).text(answer.decode("utf-8", "replace"))
            shown = one_line(self.redactor.text(shown), 200)
            raise NotificationError(
                f"the webhook answered HTTP {status}{': ' + shown if shown else ''}"
            )
