"""Faults on demand: latency, proxy error pages, broken bodies (rate limits: ratelimits.py).

Fault kinds (``FaultSet.add``):

- ``latency`` (``seconds=``): sleep before answering (adds up with other latency faults);
- ``html_5xx`` (``status=`` 502, 503 or 504; default 502): a proxy's HTML error page instead of the answer;
- ``html_200``: 200 with an HTML body; ``empty_200``: 200 with an empty body;
  ``plain_404``: 404 ``text/plain`` (what an unknown path may answer);
- ``truncate``: the real answer cut in half (Content-Length matches the cut body: invalid JSON);
- ``reset``: the real answer's headers and half its body, then a TCP reset.

``paths`` None matches every request, else a raw path prefix (``"/v2/alerts"``); ``probability``
draws from a seeded RNG; ``count`` limits a fault to the next N requests it fires on.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("latency", "html_5xx", "reset", "truncate", "html_200", "empty_200", "plain_404")
REPLACING = ("html_5xx", "html_200", "empty_200", "plain_404")
BODY = ("reset", "truncate")


@dataclass
class Fault:
    """One registered fault (the handle returned by ``FaultSet.add``)."""

    id: int
    kind: str
    paths: str | None
    probability: float
    count: int | None
    params: dict[str, Any] = field(default_factory=dict)
    fired: int = 0


@dataclass
class FaultPlan:
    """The faults drawn for one request: total ``latency`` (s), a ``replace`` fault, a ``body`` fault."""

    latency: float = 0.0
    replace: Fault | None = None
    body: Fault | None = None


class FaultSet:
    """The faults currently armed. Thread-safe; draws are deterministic for a given seed."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._rng = random.Random(f"faults:{seed}")

    def add(
        self,
        kind: str,
        paths: str | None = None,
        probability: float = 1.0,
        count: int | None = None,
        **params: Any,
    ) -> Fault:
        """Arm a fault (see the module docstring); returns its handle for ``remove``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; kinds are {list(FAULT_KINDS)}")
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if kind == "html_5xx" and params.setdefault("status", 502) not in (500, 502, 503, 504):
            raise ValueError("html_5xx status must be 500, 502, 503 or 504")
        if kind == "latency" and float(params.setdefault("seconds", 0.1)) < 0:
            raise ValueError("latency seconds must not be negative")
        fault = Fault(next(self._ids), kind, paths, probability, count, params)
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, handle: Fault) -> None:
        """Disarm a fault (no error when already gone)."""
        with self._lock:
            self._faults = [f for f in self._faults if f.id != handle.id]

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults = []

    @property
    def active(self) -> list[Fault]:
        """The armed faults, in the order they were added."""
        with self._lock:
            return list(self._faults)

    def draw(self, raw_path: str) -> FaultPlan:
        """Decide which faults hit a request for ``raw_path`` (consuming their counts)."""
        plan = FaultPlan()
        with self._lock:
            for fault in list(self._faults):
                if fault.paths is not None and not raw_path.startswith(fault.paths):
                    continue
                if fault.kind in REPLACING and plan.replace is not None:
                    continue
                if fault.kind in BODY and plan.body is not None:
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                if fault.kind == "latency":
                    plan.latency += float(fault.params["seconds"])
                elif fault.kind in REPLACING:
                    plan.replace = fault
                else:
                    plan.body = fault
                if fault.count is not None and fault.fired >= fault.count:
                    self._faults.remove(fault)
        return plan
