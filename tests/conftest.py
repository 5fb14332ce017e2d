"""Shared fixtures.

- ``integration``: a fresh ``Integration`` per test with only the built-in plugins (installed
  third-party plugins never leak into the test run).
- Every request any test sends through ``requests`` is recorded and, where OpsGenie's OpenAPI
  description is available (``OPSGENIE_SHARED_DIR``, default ``<repo>/../shared``), checked
  against it at the end of the test (the contract check).
- ``shared_dir``: the path of the shared folder, or a skip (a failure when
  ``OPSGENIE_REQUIRE_SHARED=1``, as in ``.ci/run``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import contract
import pytest
import requests

from opsgenie_integration import Integration

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
API_KEY = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
BASE = "https://api.opsgenie.com"


def shared_path() -> Path:
    return Path(os.environ.get("OPSGENIE_SHARED_DIR") or (REPO.parent / "shared")).resolve()


def shared_available() -> bool:
    return (shared_path() / "opsgenie" / "openapi" / "opsgenie-v2-subset.openapi3.json").is_file()


def _missing_shared() -> None:
    reason = f"conformance layer skipped: the shared folder {shared_path()} is absent (set OPSGENIE_SHARED_DIR)"
    if os.environ.get("OPSGENIE_REQUIRE_SHARED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def shared_dir() -> Path:
    if not shared_available():
        _missing_shared()
    return shared_path()


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def fixture_body():
    return load_fixture


@pytest.fixture
def integration():
    return Integration.load(entry_points=False)


@pytest.fixture
def conn() -> dict[str, Any]:
    """Connection settings for requests-mock tests (US region, fake key, no retry waits)."""
    return {"server_url": BASE, "api_key": API_KEY, "api_version": "v2", "max_retry_time": 0}


# -- the API key never reaches a log record, at any level --------------------------------------


class _RecordTexts(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.texts.append(text)


@pytest.fixture(autouse=True)
def _api_key_never_logged():
    """Every test runs with every logger at DEBUG; no record may contain the test API key."""
    root = logging.getLogger()
    watcher = _RecordTexts()
    previous = root.level
    root.addHandler(watcher)
    root.setLevel(logging.DEBUG)
    yield watcher
    root.removeHandler(watcher)
    root.setLevel(previous)
    leaked = [t for t in watcher.texts if API_KEY in t]
    assert not leaked, (
        f"the API key appeared in {len(leaked)} log records, e.g. {leaked[0][:200]!r}"
    )


# -- contract check of every request ---------------------------------------------------------

_SENT: list[tuple] = []


@pytest.fixture(autouse=True)
def _record_requests(monkeypatch, request):
    original = requests.Session.send

    def send(self, prepared, **kwargs):
        if str(prepared.headers.get("User-Agent", "")).startswith("opsgenie-integration/"):
            _SENT.append((prepared.method, prepared.url, prepared.body))  # the integration's own
        return original(self, prepared, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    _SENT.clear()
    yield
    sent = list(_SENT)
    _SENT.clear()
    if request.node.get_closest_marker("no_contract") or not shared_available():
        return
    spec = contract.load_spec(
        str(shared_path() / "opsgenie" / "openapi" / "opsgenie-v2-subset.openapi3.json")
    )
    problems = []
    for method, url, body in sent:
        path = requests.utils.urlparse(url).path
        if path.startswith(("/v2/", "/v1/")):
            problems.extend(contract.check_request(spec, method, url, body))
    if problems:
        pytest.fail(
            "requests outside OpsGenie's OpenAPI description:\n" + "\n".join(sorted(set(problems)))
        )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "no_contract: requests of this test are not checked against the OpenAPI description",
    )
