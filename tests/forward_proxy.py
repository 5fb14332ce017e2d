"""A small, real forwarding HTTP proxy for the tests (loopback only), with a request log.

``ForwardProxy`` speaks what clients send to a proxy:

- an absolute-form request (``GET http://127.0.0.1:8080/v2/alerts?limit=1 HTTP/1.1``, what
  ``requests`` sends through a proxy for an ``http://`` URL) is forwarded to the origin on a fresh
  connection and its answer relayed with a Content-Length (hop-by-hop headers dropped);
- ``CONNECT host:port`` (an ``https://`` URL) opens a TCP tunnel after ``200 Connection
  established`` and copies bytes both ways until either side closes.

Every request is logged in ``proxy.log`` as a ``ProxyRecord`` (method, target, origin host and
port, path, answered status, user name of the Proxy-Authorization) before it is forwarded. With
``credentials=("user", "password")`` a request without the right ``Proxy-Authorization: Basic``
answers ``407`` with ``Proxy-Authenticate: Basic realm="test-proxy"``. ``refuse_status`` answers
every request with that status instead (e.g. 403 or 502, a proxy whose policy refuses). Origins
other than loopback are refused with 403: the tests never reach the network.

    with ForwardProxy(credentials=("alice", "s3cret")) as proxy:
        requests.get(sandbox.url + "/v2/account", proxies={"http": proxy.url_with_auth}, ...)
        assert [r.path for r in proxy.log] == ["/v2/account"]
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import select
import socket
import socketserver
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


@dataclass
class ProxyRecord:
    """One request the proxy received: ``method`` (``CONNECT`` for a tunnel), the raw ``target``,
    the origin ``host``/``port``, the origin ``path`` with its query (empty for CONNECT), the
    ``status`` the proxy answered (None while in flight), the proxy ``user`` (None without
    credentials) and the local ``upstream_port`` of the proxy's connection to the origin (what the
    origin sees as the client port; None when none was opened)."""

    method: str
    target: str
    host: str
    port: int
    path: str
    status: int | None = None
    user: str | None = None
    upstream_port: int | None = None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TestForwardProxy/1.0"
    sys_version = ""
    timeout = 30

    server: _ProxyHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # ------------------------------------------------------------------------------ helpers
    def _reply(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _user(self) -> tuple[bool, str | None]:
        """(authorised, user name given) from the Proxy-Authorization header."""
        expected = self.server.credentials
        header = self.headers.get("Proxy-Authorization") or ""
        scheme, _, token = header.partition(" ")
        user = None
        given: tuple[str, str] | None = None
        if scheme.lower() == "basic" and token:
            try:
                name, _, password = base64.b64decode(token.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                name, password = "", ""
            user, given = name, (name, password)
        return (expected is None or given == expected), user

    def _admit(self, record: ProxyRecord) -> bool:
        """Log ``record``; answer 407/403/``refuse_status`` and return False when refused."""
        authorised, record.user = self._user()
        self.server.add(record)
        if not authorised:
            record.status = 407
            self.close_connection = True
            self._reply(
                407,
                "Proxy Authentication Required\n",
                {"Proxy-Authenticate": 'Basic realm="test-proxy"', "Connection": "close"},
            )
            return False
        if self.server.refuse_status is not None:
            record.status = self.server.refuse_status
            self._reply(record.status, "Refused by the test proxy's policy\n")
            return False
        if not _is_loopback(record.host):
            record.status = 403
            self._reply(403, "The test proxy reaches loopback only\n")
            return False
        return True

    # ------------------------------------------------------------------------------ CONNECT
    def do_CONNECT(self) -> None:
        host, _, port_text = self.path.rpartition(":")
        try:
            port = int(port_text)
        except ValueError:
            self._reply(400, "CONNECT needs host:port\n")
            return
        record = ProxyRecord("CONNECT", self.path, host.strip("[]"), port, "")
        if not self._admit(record):
            return
        try:
            upstream = socket.create_connection((record.host, port), timeout=10)
        except OSError as exc:
            record.status = 502
            self._reply(502, f"Cannot reach {self.path}: {exc}\n")
            return
        record.status = 200
        record.upstream_port = int(upstream.getsockname()[1])
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        self._tunnel(self.connection, upstream)

    def _tunnel(self, client: socket.socket, upstream: socket.socket) -> None:
        sockets = [client, upstream]
        try:
            while not self.server.stopping.is_set():
                readable, _, broken = select.select(sockets, [], sockets, 0.2)
                if broken:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()

    # ------------------------------------------------------------------------------ forwarding
    def _forward(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else None
        if parts.scheme != "http" or not parts.hostname:
            self._reply(400, "The test proxy forwards absolute http:// URLs only\n")
            return
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        record = ProxyRecord(self.command, self.path, parts.hostname, parts.port or 80, path)
        if not self._admit(record):
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            conn = http.client.HTTPConnection(record.host, record.port, timeout=30)
            try:
                conn.connect()
                record.upstream_port = int(conn.sock.getsockname()[1])
                conn.request(self.command, path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                status, reason = answer.status, answer.reason
                answer_headers = [
                    (k, v)
                    for k, v in answer.getheaders()
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"
                ]
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            record.status = 502
            self._reply(502, f"The test proxy could not reach {record.host}:{record.port}: {exc}\n")
            return
        record.status = status
        self.send_response(status, reason)
        for name, value in answer_headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass


class _ProxyHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        credentials: tuple[str, str] | None,
        refuse_status: int | None,
    ) -> None:
        self.credentials = credentials
        self.refuse_status = refuse_status
        self.log: list[ProxyRecord] = []
        self.log_lock = threading.Lock()
        self.stopping = threading.Event()
        super().__init__(address, _ProxyHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (getfqdn); skip it: no DNS in the tests.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def add(self, record: ProxyRecord) -> None:
        with self.log_lock:
            self.log.append(record)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that goes away mid-request is not a test failure of the proxy


class ForwardProxy:
    """A running forwarding proxy on ``127.0.0.1`` (a free port), as a context manager.

    ``credentials``: ``(user, password)`` required as Basic ``Proxy-Authorization`` (407
    otherwise); ``refuse_status``: answer every request with this status. ``url`` is
    ``http://127.0.0.1:PORT``, ``url_with_auth`` carries the credentials (percent-encoded).
    """

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        refuse_status: int | None = None,
    ) -> None:
        self._server = _ProxyHTTPServer(("127.0.0.1", 0), credentials, refuse_status)
        self.credentials = credentials
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url_with_auth(self) -> str:
        if not self.credentials:
            return self.url
        user, password = (quote(part, safe="") for part in self.credentials)
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    @property
    def log(self) -> list[ProxyRecord]:
        """A copy of the records so far, in arrival order."""
        with self._server.log_lock:
            return list(self._server.log)

    def clear(self) -> None:
        """Forget the records so far."""
        with self._server.log_lock:
            self._server.log.clear()

    def start(self) -> ForwardProxy:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="test-forward-proxy",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ForwardProxy:  # noqa: PYI034 - no typing_extensions here
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
