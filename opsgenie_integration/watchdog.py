"""A deadline for the part of an answer that read timeouts cannot bound: its status line and headers.

The read timeout applies to each socket read, so a server (or a proxy) that sends its headers one
byte at a time, just inside the timeout, could hold a request open forever. One daemon thread
watches the sockets of the requests waiting for their headers and shuts down any that is overdue;
the waiting request then fails as a read timeout. Registering and unregistering cost a lock and a
dict operation, nothing per byte.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ReadTimeoutError


class _Watch:
    __slots__ = ("deadline", "sock", "fired")

    def __init__(self, deadline: float, sock: Any) -> None:
        self.deadline = deadline
        self.sock = sock
        self.fired = False


class Watchdog:
    """Shuts down the socket of every watched request still waiting past its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: dict[int, _Watch] = {}
        self._thread: threading.Thread | None = None

    def watch(self, sock: Any, seconds: float) -> _Watch:
        entry = _Watch(time.monotonic() + seconds, sock)
        with self._cond:
            self._watches[id(entry)] = entry
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="opsgenie-answer-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return entry

    def unwatch(self, entry: _Watch) -> None:
        with self._cond:
            self._watches.pop(id(entry), None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._watches:
                    self._cond.wait()
                now = time.monotonic()
                due = [w for w in self._watches.values() if w.deadline <= now]
                for entry in due:
                    del self._watches[id(entry)]
                    entry.fired = True
                    try:
                        entry.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                if not due:
                    self._cond.wait(timeout=min(w.deadline for w in self._watches.values()) - now)


WATCHDOG = Watchdog()


class _HeaderDeadline:
    """Mixin for urllib3 connections: the status line and headers must arrive within
    ``header_deadline`` seconds of the request being sent, else a ``ReadTimeoutError``."""

    header_deadline: float = 60.0

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        sock = getattr(self, "sock", None)
        entry = WATCHDOG.watch(sock, self.header_deadline) if sock is not None else None
        try:
            response = super().getresponse(*args, **kwargs)  # type: ignore[misc]
        except Exception:
            if entry is not None and entry.fired:
                raise self._overdue() from None
            raise
        finally:
            if entry is not None:
                WATCHDOG.unwatch(entry)
        if (
            entry is not None and entry.fired
        ):  # cut short, http.client may still make a response of it
            response.close()
            raise self._overdue()
        return response

    def _tunnel(self) -> None:
        """The proxy's answer to ``CONNECT`` is held to the same deadline: a proxy dripping it
        byte by byte is cut too."""
        sock = getattr(self, "sock", None)
        entry = WATCHDOG.watch(sock, self.header_deadline) if sock is not None else None
        try:
            super()._tunnel()  # type: ignore[misc]
        except Exception:
            if entry is not None and entry.fired:
                raise self._overdue() from None
            raise
        finally:
            if entry is not None:
                WATCHDOG.unwatch(entry)
        if entry is not None and entry.fired:
            raise self._overdue()

    def _overdue(self) -> ReadTimeoutError:
        return ReadTimeoutError(None, "", f"no complete headers within {self.header_deadline:g} s")


def pool_classes(header_deadline: float) -> dict[str, type]:
    """urllib3 pool classes whose connections enforce ``header_deadline`` (s), for
    ``PoolManager.pool_classes_by_scheme``."""
    attrs = {"header_deadline": header_deadline}
    http_conn = type("DeadlineHTTPConnection", (_HeaderDeadline, HTTPConnection), attrs)
    https_conn = type("DeadlineHTTPSConnection", (_HeaderDeadline, HTTPSConnection), attrs)
    return {
        "http": type(
            "DeadlineHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}
        ),
        "https": type(
            "DeadlineHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
        ),
    }
