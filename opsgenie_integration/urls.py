"""URL rules shared by input validation and the client: the Server URL setting and the encoding of
one path segment (a schedule name, a username, an alert alias...).

Nothing here makes a request; the client and the validator both import it, so neither imports
the other.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import quote, urlsplit


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_server_url(server_url: str) -> str:
    """Check and normalise the Server URL setting (computed once per distinct value: validation
    and the client both ask).

    Returns ``scheme://host[:port]`` with no trailing slash (a trailing ``/`` or ``/v2`` is
    dropped, so paths never become ``//v2``).

    Raises:
        ValueError: not an http(s) URL, ``http`` for a non-loopback host, credentials, a query or
            a fragment in the URL, or any path but ``/v2`` (``/v1``, ``/api``... would be dropped
            silently otherwise: the integration always calls ``/v2/...`` under the host).
    """
    if not isinstance(server_url, str) or not server_url.strip():
        raise ValueError("expected a URL such as https://api.opsgenie.com")
    return _normalize(server_url)


@lru_cache(maxsize=64)
def _normalize(server_url: str) -> str:
    text = server_url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"expected a URL such as https://api.opsgenie.com ({exc})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(
            "expected a URL such as https://api.opsgenie.com or https://api.eu.opsgenie.com"
        )
    if not _valid_host(host):
        raise ValueError(f"{host[:80]!r} is not a valid host name")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ValueError(
            "must use https:// (http is allowed only for loopback hosts such as 127.0.0.1)"
        )
    if parts.username or parts.password:
        raise ValueError("must not contain credentials; give the key as API Key")
    if parts.query or parts.fragment:
        raise ValueError("must not contain a query string or fragment")
    path = parts.path.rstrip("/")
    if path and path.strip("/") != SUPPORTED_API_VERSION:
        raise ValueError(
            f"must be the API's base URL without a path (got path {parts.path!r}; requests go to "
            f"{parts.scheme}://{parts.netloc}/{SUPPORTED_API_VERSION}/...)"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(0 < len(label) <= 63 for label in labels)


#: The one API version the integration speaks (alerts, schedules, users, account).
SUPPORTED_API_VERSION = "v2"


def is_version_path(path: str) -> bool:
    """True for an API version segment such as ``v2`` (slashes around it ignored)."""
    segment = path.strip("/")
    return len(segment) >= 2 and segment[0] == "v" and segment[1:].isdigit()


def encode_segment(value: str) -> str:
    """Percent-encode one path segment: ``/``, ``#``, ``?``, ``%``, ``+``, space and non-ASCII included.

    >>> encode_segment("Ops Team/EU #1")
    'Ops%20Team%2FEU%20%231'

    Raises:
        ValueError: ``""``, ``"."`` or ``".."``: no encoding keeps them one segment (HTTP libraries
            and servers resolve dot segments), so they would reach another endpoint.
    """
    if value in ("", ".", ".."):
        raise ValueError(f"{value!r} cannot be sent as a name or id in a URL path")
    return quote(value, safe="")
