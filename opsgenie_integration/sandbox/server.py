"""The HTTP layer: one ThreadingHTTPServer per region (loopback only, HTTP/1.1 keep-alive, a
Content-Length on every answer) and the per-request pipeline:

record the request -> ``on_request`` hook -> faults (latency, replacing answers) -> writes whose
delay has passed are processed -> API key (422/401, on every path and method) -> route (404) ->
method (405 with ``Allow``, for any method, TRACE and HEAD included) -> right (403) -> rate limit
(429) -> churn -> endpoint (200, 202 for a write) -> body faults -> send. A HEAD answer has no body.

Every JSON answer carries ``took`` (seconds, float) and ``requestId`` (a UUID, also in the
``X-Request-ID`` header). An unexpected failure answers 500 JSON and prints a traceback on the
log stream (never a key: the Authorization header is not recorded or logged).

With an ``ssl.SSLContext`` (``tls``) a server speaks HTTPS: the TLS handshake runs on the
connection's own thread (a client that stalls or refuses the certificate never blocks the
others) and a failed handshake is one line on the log stream.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import IO, Any
from urllib.parse import parse_qs, unquote

from .api import OpsGenieApi
from .auth import KeyRing
from .faults import Fault, FaultSet
from .ratelimits import THROTTLED_MESSAGE, RateLimits
from .routes import ApiError, ApiRequest, allowed_methods, match_route

JSON_TYPE = "application/json"
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


@dataclass
class RequestInfo:
    """One request as received: ``method``, raw ``path`` (percent-encoded, no query string),
    ``query`` (decoded, name -> list of values), ``headers`` (without Authorization), ``region``,
    ``target`` (the raw request target), ``received_ms`` (sandbox clock, epoch ms), the
    answered ``status`` (None until answered; None too when the connection was reset) and the
    request ``body`` (bytes as received), the
    ``client`` address ``(host, port)`` the request came from (a proxy's, when one forwarded it)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    region: str
    target: str
    received_ms: int
    status: int | None = None
    body: bytes = b""
    client: tuple[str, int] | None = None


@dataclass
class Reply:
    """An answer to send: status, headers (Content-Length is added when sending) and body bytes."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback address (127.0.0.0/8, ::1, localhost)."""
    if not _is_loopback(host):
        raise ValueError(f"the sandbox serves on loopback only; refusing to bind {host!r}")


def json_reply(
    status: int, body: dict[str, Any], request_id: str, started: float, headers: dict | None = None
) -> Reply:
    """A JSON answer with ``took`` and ``requestId`` appended to ``body``."""
    took = round(time.perf_counter() - started, 3)
    payload = dict(body, took=took, requestId=request_id)
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    out = {"Content-Type": JSON_TYPE, "X-Request-ID": request_id, "X-Response-Time": f"{took:.3f}"}
    out.update(headers or {})
    return Reply(status, data, out)


def error_reply(error: ApiError, request_id: str, started: float) -> Reply:
    """OpsGenie's error shape: ``{code?, message, errors?, took, requestId}``."""
    body: dict[str, Any] = {}
    if error.code is not None:
        body["code"] = error.code
    body["message"] = error.message
    if error.errors:
        body["errors"] = error.errors
    return json_reply(error.status, body, request_id, started, error.headers)


def fault_reply(fault: Fault) -> Reply:
    """The answer of a replacing fault (html_5xx, html_200, empty_200, plain_404)."""
    if fault.kind == "html_5xx":
        status = int(fault.params.get("status", 502))
        title = f"{status} {_REASONS.get(status, 'Error')}"
        html = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
        return Reply(status, html.encode(), {"Content-Type": "text/html"})
    if fault.kind == "html_200":
        html = "<!DOCTYPE html><html><head><title>Atlassian Opsgenie</title></head><body><p>Please log in to continue.</p></body></html>"
        return Reply(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})
    if fault.kind == "empty_200":
        return Reply(200, b"", {"Content-Type": JSON_TYPE, "X-Request-ID": str(uuid.uuid4())})
    return Reply(404, b"404 page not found\n", {"Content-Type": "text/plain; charset=utf-8"})


class RequestPipeline:
    """Turns a received request into an answer (shared by every region's server)."""

    def __init__(
        self,
        api: OpsGenieApi,
        keys: KeyRing,
        faults: FaultSet,
        rate_limits: RateLimits,
        before_answer: Callable[[str], None],
        requests: list[RequestInfo] | None,
        log: IO[str] | None = None,
        process_due: Callable[[], object] | None = None,
    ) -> None:
        self.process_due = process_due
        self.api = api
        self.keys = keys
        self.faults = faults
        self.rate_limits = rate_limits
        self.before_answer = before_answer
        self.requests = requests
        self.log = log
        self.on_request: Callable[[RequestInfo], None] | None = None

    def serve(self, handler: BaseHTTPRequestHandler, region: str) -> None:
        """Answer the request ``handler`` has just parsed (called on the handler's thread)."""
        started = time.perf_counter()
        target = handler.path
        raw_path, _, raw_query = target.partition("?")
        try:
            length = max(0, int(handler.headers.get("Content-Length") or 0))
        except ValueError:
            length = 0
        body = handler.rfile.read(length) if length > 0 else b""  # the connection stays usable
        info = RequestInfo(
            method=handler.command,
            path=raw_path,
            query=parse_qs(raw_query, keep_blank_values=True),
            headers={k: v for k, v in handler.headers.items() if k.lower() != "authorization"},
            region=region,
            target=target,
            received_ms=self.api.clock.now_ms(),
            body=body,
            client=(str(handler.client_address[0]), int(handler.client_address[1])),
        )
        if self.requests is not None:
            self.requests.append(info)
        request_id = str(uuid.uuid4())
        body_fault: Fault | None = None
        try:
            hook = self.on_request
            if hook is not None:
                hook(info)
            plan = self.faults.draw(raw_path)
            body_fault = plan.body
            if plan.latency:
                time.sleep(plan.latency)
            if plan.replace is not None:
                reply = fault_reply(plan.replace)
            else:
                reply = self._answer(
                    handler, region, raw_path, info.query, request_id, started, body
                )
        except Exception as exc:  # noqa: BLE001 - any failure must still answer, as a 500
            if self.log is not None:
                traceback.print_exc(file=self.log)
            error = ApiError(500, f"Internal sandbox error: {type(exc).__name__}: {exc}")
            reply = error_reply(error, request_id, started)
        if body_fault is None or body_fault.kind != "reset":
            info.status = reply.status
        self._send(handler, reply, body_fault)

    def _answer(
        self,
        handler: BaseHTTPRequestHandler,
        region: str,
        raw_path: str,
        query: dict[str, list[str]],
        request_id: str,
        started: float,
        body: bytes = b"",
    ) -> Reply:
        if self.process_due is not None:
            self.process_due()
        authorization = handler.headers.get("Authorization")
        failure = self.keys.check(authorization, region, None)  # authentication before routing
        if failure is not None:
            error = ApiError(failure.status, failure.message, failure.code)
            return error_reply(error, request_id, started)
        segments = [unquote(s, errors="replace") for s in raw_path.split("/")[1:]]
        found = match_route(segments, handler.command)
        if found is None:
            allowed = allowed_methods(segments)
            if not allowed:
                return error_reply(
                    ApiError(404, "Requested resource does not exist!"), request_id, started
                )
            error = ApiError(
                405,
                f"Method {handler.command} is not supported here",
                headers={"Allow": ", ".join(allowed)},
            )
            return error_reply(error, request_id, started)
        route, params = found
        failure = self.keys.check(authorization, region, route.right, route.account_level)
        if failure is not None:
            error = ApiError(failure.status, failure.message, failure.code)
            return error_reply(error, request_id, started)
        period = self.rate_limits.acquire(route.domain)
        if period is not None:
            headers = {
                "X-RateLimit-State": "THROTTLED",
                "X-RateLimit-Reason": "ACCOUNT",
                "X-RateLimit-Period-In-Sec": str(period),
            }
            return error_reply(
                ApiError(429, THROTTLED_MESSAGE, headers=headers), request_id, started
            )
        self.before_answer(raw_path)
        host = handler.headers.get("Host") or "{}:{}".format(*handler.server.server_address[:2])
        grant = self.keys.grant(authorization)
        scheme = "https" if getattr(handler.server, "tls", None) is not None else "http"
        client = str(handler.client_address[0]) if handler.client_address else ""
        request = ApiRequest(
            handler.command,
            segments,
            query,
            host,
            params,
            body=body,
            request_id=request_id,
            client=client,
            team=grant.team if grant else None,
            scheme=scheme,
        )
        try:
            answer = self.api.handle(route, request)
        except ApiError as error:
            return error_reply(error, request_id, started)
        return json_reply(200 if route.method == "GET" else 202, answer, request_id, started)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply, body_fault: Fault | None) -> None:
        body = reply.body
        if body_fault is not None and body_fault.kind == "truncate":
            body = body[: len(body) // 2]
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command == "HEAD":
            body = b""  # the headers of the answer, never its body
        if body_fault is not None and body_fault.kind == "reset":
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            conn: socket.socket = handler.connection
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # abortive close: the client sees a connection reset mid-body
            return
        handler.wfile.write(body)
        handler.wfile.flush()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OpsGenieSandbox/1.0"
    sys_version = ""
    wbufsize = -1  # buffer the status line, headers and body: one send per answer
    disable_nagle_algorithm = True
    timeout = 300  # seconds an idle keep-alive connection is kept

    def setup(self) -> None:
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()  # on this connection's thread, not the accept loop
            self.request.settimeout(self.timeout)

    def _serve(self) -> None:
        server: _RegionHTTPServer = self.server  # type: ignore[assignment]
        server.pipeline.serve(self, server.region)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, OPTIONS, HEAD, ...) is answered by the pipeline too (a JSON 405
        # with Allow) instead of http.server's HTML 501 page.
        if name.startswith("do_") and name[3:].isalpha():
            return self._serve
        raise AttributeError(name)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        log = self.server.pipeline.log  # type: ignore[attr-defined]
        if log is not None:
            log.write(f"[sandbox {self.server.region}] {format % args}\n")  # type: ignore[attr-defined]
            log.flush()

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass  # the socket was reset on purpose (fault "reset") or by the client


class _RegionHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        pipeline: RequestPipeline,
        region: str,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.region = region
        self.tls = tls
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        TCPServer.server_bind(self)  # skip HTTPServer's getfqdn(): no DNS look-up at start-up
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        if self.tls is not None:
            self.socket = self.tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def handle_error(self, request: Any, client_address: Any) -> None:
        log = self.pipeline.log
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, OSError)):
            if log is not None:
                log.write(f"[sandbox {self.region}] connection failed: {exc}\n")
                log.flush()
            return
        if log is not None:
            traceback.print_exc(file=log)
        else:
            super().handle_error(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut every open keep-alive connection (after stop, nothing is answered any more)."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class RegionServer:
    """The HTTP server of one region, serving on ``host:port`` (0 = a free port) in a thread;
    HTTPS with ``tls`` (a server-side ``ssl.SSLContext`` holding the certificate)."""

    def __init__(
        self,
        pipeline: RequestPipeline,
        region: str,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ):
        require_loopback(host)
        self.region = region
        self.tls = tls
        self._httpd = _RegionHTTPServer((host.strip("[]"), port), pipeline, region, tls)
        self._thread: threading.Thread | None = None
        self.host = host

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (``https`` with TLS; IPv6 hosts in brackets)."""
        host = self.host.strip("[]")
        scheme = "https" if self.tls is not None else "http"
        return (
            f"{scheme}://[{host}]:{self.port}" if ":" in host else f"{scheme}://{host}:{self.port}"
        )

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"opsgenie-sandbox-{self.region}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()
