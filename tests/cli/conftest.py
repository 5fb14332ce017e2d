"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest
from conftest import API_KEY, BASE


@pytest.fixture
def conn_file(tmp_path):
    """A ``--connection`` file for the mocked OpsGenie at ``BASE`` (no retries)."""
    path = tmp_path / "conn.yaml"
    path.write_text(f"server_url: {BASE}\napi_key: {API_KEY}\nmax_retry_time: 0\n")
    return str(path)
