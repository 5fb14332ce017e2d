"""The sandbox clock: real time, or an instant fixed until moved by hand."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from .timefmt import to_ms


class SandboxClock:
    """Epoch-millisecond clock (UTC) for the sandbox.

    ``SandboxClock(None)`` follows real time; ``SandboxClock(ms_or_datetime_or_iso)`` is fixed at that
    instant and moves only through ``set`` and ``advance``. ``advance`` on a real clock shifts it.
    """

    def __init__(self, start: None | float | str | datetime = None) -> None:
        self._lock = threading.Lock()
        self._fixed: int | None = None if start is None else to_ms(start)[0]
        self._offset = 0

    @property
    def fixed(self) -> bool:
        """True when the clock is fixed (does not follow real time)."""
        return self._fixed is not None

    def now_ms(self) -> int:
        """Current sandbox time as epoch milliseconds (UTC)."""
        fixed = self._fixed
        if fixed is not None:
            return fixed
        return int(time.time() * 1000) + self._offset

    def set(self, ms: int | str | datetime) -> None:
        """Fix the clock at ``ms`` (epoch ms, ISO 8601 string or datetime)."""
        with self._lock:
            self._fixed = to_ms(ms)[0]

    def advance(self, ms: int) -> int:
        """Move the clock forward by ``ms`` milliseconds (backward if negative); returns now_ms()."""
        with self._lock:
            if self._fixed is not None:
                self._fixed += int(ms)
            else:
                self._offset += int(ms)
        return self.now_ms()
