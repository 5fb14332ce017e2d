"""An OpsGenie-compatible HTTP server for tests, benchmarks and offline use (loopback only).

It stands alone: nothing here imports the rest of ``opsgenie_integration``. See ``Sandbox``.
"""

from __future__ import annotations

from .sandbox import Sandbox
from .server import RequestInfo

__all__ = ["RequestInfo", "Sandbox"]
