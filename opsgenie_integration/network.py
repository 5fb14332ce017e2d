"""Network settings of a connection: proxy, CA bundle and TLS verification.

One resolution for every request the integration makes (commands, Test Connection, fetch, the
health check's webhook): the connection settings first, else the standard environment variables,
as ``requests`` users expect:

- proxy: the ``proxy`` setting (``http://[user:password@]host:port`` or ``https://...``), else
  ``https_proxy``/``HTTPS_PROXY`` for an https:// target (``http_proxy``/``HTTP_PROXY`` for an
  http:// one), else ``all_proxy``/``ALL_PROXY``; lower case wins over upper case, as in curl
  and urllib. A variable without a scheme (``127.0.0.1:3128``) is read as ``http://``, as
  ``requests`` and curl read it. A variable is checked only when it is the one used for a target:
  one that ``NO_PROXY`` bypasses, or that another variable takes precedence over, is never used
  and fails nothing (a system-wide SOCKS ``ALL_PROXY`` beside ``NO_PROXY=127.0.0.1``).
- ``no_proxy``/``NO_PROXY`` (comma-separated) is respected with either source: ``*`` (every host),
  a host name (itself and its subdomains; a leading ``.`` or ``*.`` is optional, as in curl), an
  IP address or CIDR network, each optionally with ``:port``.
- CA bundle: the ``ca_bundle`` setting (a PEM file, or a directory prepared with c_rehash), else
  ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE`` (first set wins), else the bundled
  public CAs (certifi). A file is loaded once as the TLS handshake will load it: one whose
  certificates OpenSSL cannot read is refused here, naming the setting or variable, instead of
  failing every handshake later.
- ``verify_tls`` (default true): false turns certificate verification off; the caller logs a
  warning on every run.

Nothing here opens a connection. The proxy URL may carry a password: ``display_proxy`` is the
only form fit for messages and logs.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

PROXY_SCHEMES = ("http", "https")
CA_ENV_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
PEM_MARKER = "-----BEGIN CERTIFICATE-----"
MAX_CA_BUNDLE_BYTES = 10_000_000


class NetworkSettingError(ValueError):
    """A proxy, CA bundle or verification value that cannot be used.

    Attributes:
        setting: the connection setting id (``proxy``, ``ca_bundle``, ``verify_tls``), or the
            environment variable the value came from (``HTTPS_PROXY``...).
    """

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class ProxyChoice:
    """The proxy for one target: ``url`` (may carry credentials: a secret) and ``source`` (the
    setting ``proxy`` or the environment variable it came from)."""

    url: str
    source: str

    @property
    def display(self) -> str:
        """The proxy without its password (see ``display_proxy``)."""
        return display_proxy(self.url)


@dataclass(frozen=True)
class NetworkSettings:
    """The resolved network settings of one connection.

    Attributes:
        proxy: the ``proxy`` setting (a URL, may carry credentials), or None.
        environ_proxies: (scheme, proxy URL, variable) read from the environment, used when
            ``proxy`` is None; checked (``check_proxy_url``) only when chosen for a target.
        no_proxy: the ``no_proxy``/``NO_PROXY`` value, or "".
        ca_bundle: a CA file or directory path, or None for the bundled public CAs.
        ca_source: ``ca_bundle`` or the environment variable it came from, or None.
        verify_tls: False when certificate verification is off.
    """

    proxy: str | None = None
    environ_proxies: tuple[tuple[str, str, str], ...] = ()
    no_proxy: str = ""
    ca_bundle: str | None = None
    ca_source: str | None = None
    verify_tls: bool = True

    def proxy_for(self, url: str) -> ProxyChoice | None:
        """The proxy to reach ``url`` through, or None (no proxy, or bypassed by NO_PROXY).

        Raises:
            NetworkSettingError: the environment variable chosen for ``url`` is unusable
                (naming the variable); a variable not chosen is never checked.
        """
        parts = urlsplit(url)
        scheme = (parts.scheme or "https").lower()
        if self.proxy:
            choice = ProxyChoice(self.proxy, "proxy")
        else:
            found = next(((u, v) for s, u, v in self.environ_proxies if s == scheme), None)
            if found is None:
                found = next(((u, v) for s, u, v in self.environ_proxies if s == "all"), None)
            if found is None:
                return None
            choice = ProxyChoice(found[0], found[1])
        port = parts.port or (443 if scheme == "https" else 80)
        if bypasses_proxy(parts.hostname or "", port, self.no_proxy):
            return None
        if choice.source != "proxy":
            check_proxy_url(choice.url, choice.source)
        return choice

    def requests_proxies(self, url: str) -> dict[str, str]:
        """The ``proxies`` mapping for ``requests`` when reaching ``url`` (empty: go direct)."""
        choice = self.proxy_for(url)
        if choice is None:
            return {}
        scheme = (urlsplit(url).scheme or "https").lower()
        return {scheme: choice.url}

    @property
    def verify(self) -> bool | str:
        """The ``verify`` value for ``requests``: False, a CA path, or True (bundled CAs)."""
        if not self.verify_tls:
            return False
        return self.ca_bundle or True


def display_proxy(url: str) -> str:
    """``scheme://[user@]host:port`` of a proxy URL: never its password (nor a path)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "the proxy (an unparsable URL)"
    if ":" in host:
        host = f"[{host}]"
    user = f"{unquote(parts.username)}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}" + (f":{port}" if port else "")


def check_proxy_url(value: object, setting: str = "proxy") -> str:
    """The proxy URL, stripped, if usable: http or https scheme, a host, an optional port (1 to
    65535), nothing else but credentials. Raises NetworkSettingError naming ``setting`` (the
    message never holds the password)."""
    if not isinstance(value, str) or not value.strip():
        raise NetworkSettingError(
            setting, f"{setting}: expected a proxy URL such as http://proxy.example.com:3128"
        )
    text = value.strip()
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise NetworkSettingError(
            setting, f"{setting}: the proxy URL must not contain spaces or control characters"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise NetworkSettingError(
            setting,
            f"{setting}: not a valid URL (expected http://host:port, a port from 1 to 65535)",
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        shown = scheme or "none"
        raise NetworkSettingError(
            setting,
            f"{setting}: the scheme must be http or https (got {shown}); SOCKS proxies are not supported",
        )
    if not parts.hostname:
        raise NetworkSettingError(
            setting, f"{setting}: the proxy URL has no host ({display_proxy(text)})"
        )
    if port == 0:
        raise NetworkSettingError(setting, f"{setting}: the port must be from 1 to 65535")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise NetworkSettingError(
            setting, f"{setting}: a proxy URL has no path or query ({display_proxy(text)} expected)"
        )
    return text


def check_ca_bundle(value: object, setting: str = "ca_bundle") -> str:
    """The path of a usable CA bundle: a regular file of at most 10 MB holding at least one PEM
    certificate, or a directory. Raises NetworkSettingError naming ``setting``."""
    if not isinstance(value, str) or not value.strip():
        raise NetworkSettingError(
            setting, f"{setting}: expected the path of a PEM file of CA certificates"
        )
    path = os.path.expanduser(value.strip())
    if os.path.isdir(path):
        return path
    if not os.path.exists(path):
        raise NetworkSettingError(setting, f"{setting}: {path!r} does not exist")
    from .files import UserFileError, read_user_text  # a core module, no cycle

    try:
        text = read_user_text(path, max_bytes=MAX_CA_BUNDLE_BYTES)
    except (OSError, UserFileError) as exc:
        raise NetworkSettingError(setting, f"{setting}: {path!r} {exc}") from None
    if PEM_MARKER not in text:
        raise NetworkSettingError(
            setting, f"{setting}: {path!r} holds no PEM certificate ({PEM_MARKER} expected)"
        )
    problem = unreadable_certificates(path)
    if problem is not None:
        raise NetworkSettingError(
            setting,
            f"{setting}: {path!r} holds a certificate that cannot be read ({problem}); every TLS "
            "handshake would fail. Give a PEM file of CA certificates",
        )
    return path


def unreadable_certificates(path: str) -> str | None:
    """Why OpenSSL cannot load the CA file ``path`` as ``requests`` will (a PEM block that does
    not decode, a certificate that does not parse), or None when it loads."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        said = str(exc.args[1] if len(exc.args) > 1 else exc.reason or "")
        said = said.split("(_ssl.c")[0].strip()
        return f"OpenSSL: {said}" if said else "OpenSSL cannot load it"
    except (OSError, ValueError) as exc:
        return type(exc).__name__
    return None


def check_verify_tls(value: object, setting: str = "verify_tls") -> bool:
    """A boolean, or the text ``true``/``false`` (any case, spaces around): exactly what the
    connection settings' validation accepts for a boolean. Raises NetworkSettingError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise NetworkSettingError(setting, f"{setting}: expected true or false, got {value!r}"[:200])


def _env(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """(value, variable) of ``name`` in lower case, else upper case; blank values count as unset."""
    for variable in (name.lower(), name.upper()):
        value = environ.get(variable)
        if value and value.strip():
            return value.strip(), variable
    return None


def resolve_network(
    proxy: str | None = None,
    ca_bundle: str | None = None,
    verify_tls: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> NetworkSettings:
    """Resolve the settings (already literal: secret references resolved) with ``environ``
    (default ``os.environ``) as the fallback described in the module docstring.

    Raises:
        NetworkSettingError: an unusable value, naming the setting or environment variable.
    """
    environ = os.environ if environ is None else environ
    proxy_url = check_proxy_url(proxy) if proxy is not None and str(proxy).strip() else None
    environ_proxies: list[tuple[str, str, str]] = []
    if proxy_url is None:
        for scheme, name in (
            ("https", "https_proxy"),
            ("http", "http_proxy"),
            ("all", "all_proxy"),
        ):
            found = _env(environ, name)
            if found is not None:  # checked by proxy_for, when used
                environ_proxies.append((scheme, _with_scheme(found[0]), found[1]))
    no_proxy = (_env(environ, "no_proxy") or ("", ""))[0]
    ca_path: str | None = None
    ca_source: str | None = None
    if ca_bundle is not None and str(ca_bundle).strip():
        ca_path, ca_source = check_ca_bundle(ca_bundle), "ca_bundle"
    else:
        for variable in CA_ENV_VARS:
            value = environ.get(variable)
            if value and value.strip():
                ca_path, ca_source = check_ca_bundle(value, variable), variable
                break
    verify = True if verify_tls is None else check_verify_tls(verify_tls)
    return NetworkSettings(
        proxy=proxy_url,
        environ_proxies=tuple(environ_proxies),
        no_proxy=no_proxy,
        ca_bundle=ca_path,
        ca_source=ca_source,
        verify_tls=verify,
    )


def _with_scheme(value: str) -> str:
    """A proxy variable as ``requests`` and curl read it: ``host:port`` means ``http://``."""
    return value if "://" in value else f"http://{value}"


def bypasses_proxy(host: str, port: int, no_proxy: str) -> bool:
    """True when ``host:port`` is excluded from proxying by a ``NO_PROXY`` value (see the module
    docstring for the entry forms)."""
    host = host.strip("[]").lower().rstrip(".")
    if not host or not no_proxy.strip():
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_port: int | None = None
        if entry.startswith("["):  # [::1]:8080
            closing = entry.find("]")
            rest = entry[closing + 1 :]
            entry, entry_port = entry[1:closing], _port(rest[1:]) if rest.startswith(":") else None
        elif entry.count(":") == 1:  # host:port (IPv6 literals have more colons)
            entry, _, port_text = entry.partition(":")
            entry_port = _port(port_text)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = entry.removeprefix("*.").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _port(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return -1  # an unreadable port matches nothing
    return value


def proxy_secrets(value: object) -> list[str]:
    """The strings to hide for a proxy URL: its password as written (percent-encoded), decoded,
    and ``user:password``; [] without a password or for a reference (``env:NAME``...)."""
    if not isinstance(value, str) or not value.strip():
        return []
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return [value.strip()]  # unparsable: hide it whole
    if parts.password is None:
        return []
    userinfo = parts.netloc.rpartition("@")[0]
    raw_password = userinfo.partition(":")[2]
    return [s for s in {raw_password, unquote(parts.password), userinfo} if s]
