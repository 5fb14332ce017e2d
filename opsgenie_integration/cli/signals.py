"""Signals in the CLI: SIGTERM stops a command as SIGINT does, only in the main thread."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any


def in_main_thread() -> bool:
    """Signal handlers can only be set in the main thread."""
    return threading.current_thread() is threading.main_thread()


def sigterm_as_interrupt() -> Callable[[], Any]:
    """Make SIGTERM raise KeyboardInterrupt (as SIGINT does) until the returned function is
    called, which restores the previous handler. Nothing happens outside the main thread."""
    if not in_main_thread():
        return lambda: None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)
