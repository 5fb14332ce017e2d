"""The command notifier: a program run without a shell, ``Notification.payload()`` on its stdin,
its environment cleaned by the health check's one redactor."""

from __future__ import annotations

import json
import os
import selectors
import shlex
import signal
import subprocess
import time

from ...redact import Redactor
from ..notification import (
    DEFAULT_NOTIFY_TIMEOUT,
    MAX_COMMAND_STDERR_BYTES,
    Notification,
    NotificationError,
    check_notify_timeout,
    one_line,
)

#: Never passed on to a command, whatever the connection settings say.
ALWAYS_DROPPED = ("OPSGENIE_API_KEY",)


class CommandNotifier:
    """Runs a command (no shell) with ``Notification.payload()`` as JSON on its stdin.

    Args:
        command: a command line, split with ``shlex`` (POSIX rules).
        timeout: s; the command (its whole process group) is killed when it runs longer.
        redactor: the health check's one ``redact.Redactor``, read at every ``send`` (it grows as
            references are resolved). The child's environment is ``Redactor.environment`` of
            ours: without the variables the ``env:`` references of every secret setting name
            (under any spelling of the setting's name; known even when the settings are invalid
            and the reference was never resolved), without any variable whose value holds a
            secret, and never ``OPSGENIE_API_KEY``. The tail of its stderr shown in an error is
            hidden by the same redactor.

    The child also gets ``OPSGENIE_HEALTH_EVENT`` (failed / recovered / still_failing),
    ``OPSGENIE_HEALTH_STATE`` and ``OPSGENIE_HEALTH_CHECK``. It runs in a session of its own; its
    stdout is discarded and only the last ``MAX_COMMAND_STDERR_BYTES`` of its stderr are kept
    (a command printing without end costs no memory), never mixed into ours. ``send`` raises
    ``NotificationError`` when it cannot be run (not found, not executable), runs longer than
    ``timeout`` or exits with a non-zero status (with the last line of its stderr); the message
    never shows the arguments (they may hold a token).

    Raises (constructor):
        ValueError: the command line is empty or its quotes do not balance; a timeout that is
            not finite, above 0 and at most ``MAX_NOTIFY_TIMEOUT``.
    """

    def __init__(
        self,
        command: str,
        *,
        timeout: float = DEFAULT_NOTIFY_TIMEOUT,
        redactor: Redactor | None = None,
    ) -> None:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ValueError(f"cannot split the command line ({exc})") from None
        if not argv:
            raise ValueError("the command line is empty")
        self.argv = argv
        self.timeout = check_notify_timeout(timeout)
        self.redactor = redactor if redactor is not None else Redactor()
        self.name = f"command {os.path.basename(argv[0])}"

    def environment(self, notification: Notification) -> dict[str, str]:
        """The child's environment: ``Redactor.environment`` of ours (see the class), plus the
        ``OPSGENIE_HEALTH_*`` variables."""
        child = self.redactor.environment(os.environ, drop=ALWAYS_DROPPED)
        child["OPSGENIE_HEALTH_EVENT"] = notification.event
        child["OPSGENIE_HEALTH_STATE"] = notification.state
        child["OPSGENIE_HEALTH_CHECK"] = str(notification.check)
        return child

    def send(self, notification: Notification) -> None:
        data = json.dumps(notification.payload(), ensure_ascii=False, default=str).encode("utf-8")
        deadline = time.monotonic() + self.timeout
        try:
            child = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=self.environment(notification),
                start_new_session=True,  # its own process group: killed whole on timeout
            )
        except OSError as exc:  # its text would show every argument
            why = exc.strerror or type(exc).__name__
            raise NotificationError(f"cannot run {self.argv[0]!r}: {why}") from None
        try:
            tail = _talk(child, data, deadline)
            returncode = child.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            raise NotificationError(f"killed after {self.timeout:g} s") from None
        finally:
            if child.poll() is None:
                _kill_group(child)
            for pipe in (child.stdin, child.stderr):
                if pipe is not None and not pipe.closed:
                    pipe.close()
        if returncode != 0:
            text = self.redactor.text(tail.decode("utf-8", "replace"))
            last = [line for line in text.strip().splitlines() if line.strip()][-1:] or [""]
            detail = f": {one_line(last[0], 200)}" if last[0] else ""
            raise NotificationError(f"exit status {returncode}{detail}")


def _kill_group(child: subprocess.Popen) -> None:
    """SIGKILL ``child``'s process group (it leads one, see ``start_new_session``) and reap it."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process stuck in the kernel
        pass


def _talk(child: subprocess.Popen, data: bytes, deadline: float) -> bytes:
    """Write ``data`` to ``child``'s stdin and read its stderr, keeping only the last
    ``MAX_COMMAND_STDERR_BYTES`` (from a line start when cut), until both pipes are done, a
    moment after the child exited (a grandchild may hold them open) or until ``deadline``
    (then ``subprocess.TimeoutExpired``). Returns that tail of stderr."""
    assert child.stdin is not None and child.stderr is not None
    stdin, stderr = child.stdin, child.stderr
    tail, cut = b"", False
    offset = 0
    view = memoryview(data)
    with selectors.DefaultSelector() as selector:
        if data:
            os.set_blocking(stdin.fileno(), False)
            selector.register(stdin, selectors.EVENT_WRITE)
        else:
            stdin.close()
        selector.register(stderr, selectors.EVENT_READ)
        exited_at: float | None = None
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                raise subprocess.TimeoutExpired(child.args, 0)
            if child.poll() is not None:
                exited_at = now if exited_at is None else exited_at
                if now - exited_at > 0.2:
                    break
            for key, _ in selector.select(timeout=min(deadline - now, 0.1)):
                if key.fileobj is stdin:
                    try:
                        offset += os.write(stdin.fileno(), view[offset : offset + 65536])
                    except BlockingIOError:
                        continue
                    except OSError:  # BrokenPipeError: it does not read its stdin; fine
                        offset = len(data)
                    if offset >= len(data):
                        selector.unregister(stdin)
                        stdin.close()
                else:
                    chunk = os.read(stderr.fileno(), 65536)
                    if not chunk:
                        selector.unregister(stderr)
                        continue
                    tail += chunk
                    if len(tail) > MAX_COMMAND_STDERR_BYTES:
                        tail, cut = tail[-MAX_COMMAND_STDERR_BYTES:], True
    if cut:  # the first line is a piece of a longer one
        newline = tail.find(b"\n")
        tail = tail[newline + 1 :] if newline != -1 else b""
    return tail
