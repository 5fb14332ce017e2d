"""Signals in the CLI: SIGTERM stops a command as SIGINT does, only in the main thread, until
``hold_interrupts`` says the outcome is being printed."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any


def in_main_thread() -> bool:
    """Signal handlers can only be set in the main thread."""
    return threading.current_thread() is threading.main_thread()


_HELD = threading.Event()


def hold_interrupts() -> None:
    """From now until the handlers are restored, SIGINT and SIGTERM are ignored: the outcome is
    being printed, and a signal must neither cut it nor add a second one. (Blocking the signals
    in the main thread is not enough: the OS may deliver them to any other thread, and Python
    then runs the handler in the main thread all the same.)"""
    _HELD.set()


def sigterm_as_interrupt() -> Callable[[], Any]:
    """Make SIGTERM raise KeyboardInterrupt (as SIGINT does), unless ``hold_interrupts`` was
    called, until the returned function is called, which restores the previous handlers.
    Nothing happens outside the main thread."""
    if not in_main_thread():
        return lambda: None

    def interrupt(signum: int, frame: Any) -> None:
        if not _HELD.is_set():
            raise KeyboardInterrupt

    _HELD.clear()
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _HELD.clear()

    return restore
