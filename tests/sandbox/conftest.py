"""Fixtures of the sandbox tests: running sandboxes over real loopback HTTP.

- ``sandbox``: one seeded Sandbox per module (300 alerts, seed 7, clock fixed at CLOCK);
- ``api``: a keep-alive requests.Session carrying the sandbox's full-rights key (``api.url(path)``);
- ``small`` / ``small_api``: a sandbox serving ``small_dataset()`` (known alerts, users, a team, an
  escalation, schedules with known rotations) for exact on-call, timeline and query expectations.

The shared folder of the conformance tests comes from ``sandbox_helpers.shared_dir()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsgenie_integration.sandbox import Sandbox

from .sandbox_helpers import CLOCK, Api, make_api, small_dataset


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(alerts=300, seed=7, clock=CLOCK) as sb:
        yield sb


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[Api]:
    sandbox.faults.clear()
    sandbox.rate_limits.clear()
    sandbox.churn(0)
    sandbox.on_request = None
    with Api(sandbox.url, sandbox.api_key) as session:
        yield session
    sandbox.faults.clear()
    sandbox.rate_limits.clear()
    sandbox.churn(0)
    sandbox.on_request = None


@pytest.fixture(scope="module")
def small_data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import json

    path = tmp_path_factory.mktemp("sandbox-data") / "data.json"
    path.write_text(json.dumps(small_dataset()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small(small_data_file: Path) -> Iterator[Sandbox]:
    """A sandbox serving ``small_dataset()`` with the clock fixed at CLOCK."""
    with Sandbox(data_file=small_data_file, clock=CLOCK) as sb:
        yield sb


@pytest.fixture
def small_api(small: Sandbox) -> Iterator[Api]:
    with make_api(small) as session:
        yield session
