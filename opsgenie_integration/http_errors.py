"""How an answer or a failed request becomes what the client returns or raises.

``HttpErrors`` is the part of ``transport.Transport`` that reads an answer (``_decode``: the
decoded JSON object of a 2xx answer, else the ``errors.py`` exception of its status, with
OpsGenie's ``message``, ``code``, ``errors`` and request id, and a hint) and explains a failure
that brought no answer: a TLS certificate that does not verify (``_tls_error``, naming the CAs
trusted), a proxy that refused or could not be reached (``_proxy_error``, the proxy named without
its password), a 429 and what the retries did (``_rate_limit_hint``, waits in seconds). The module
functions read requests' and urllib3's exception chains: timeout or not (``is_timeout``), sent or
not (``not_sent``: a write that was never sent cannot have been applied), and the few words of
the innermost cause (``_short_reason``). Pieces of an answer quoted in a message pass the
connection's redactor first (``_hidden``).
"""

from __future__ import annotations

import http.client
import json
from typing import Any

import requests
import urllib3

from . import errors
from .network import NetworkSettings, ProxyChoice, unreadable_certificates
from .redact import Redactor


class HttpErrors:
    """The answer reading and failure explaining of ``transport.Transport`` (its base class).

    Uses the transport's ``base_url``, ``network``, ``proxy`` (the proxy chosen for the Server
    URL, or None), ``max_retry_time`` (s) and ``_redactor``.
    """

    base_url: str
    network: NetworkSettings
    proxy: ProxyChoice | None
    max_retry_time: float
    _redactor: Redactor

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


def is_timeout(exc: BaseException) -> bool:
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


def not_sent(exc: BaseException) -> bool:
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


def connection_error(exc: BaseException, base_url: str, path: str) -> errors.TransportError:
    error = errors.TransportError(
        f"Could not connect to {base_url}: {_short_reason(exc)}.",
        hint="Check the Server URL (US https://api.opsgenie.com, EU https://api.eu.opsgenie.com) "
        "and that this host can reach it.",
    )
    error.not_sent = not_sent(exc)  # type: ignore[attr-defined]
    return error


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
