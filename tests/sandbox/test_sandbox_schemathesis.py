"""Schemathesis against the sandbox over loopback, with the shared contract, in a short mode.

Every operation of the contract is generated from (examples, coverage and fuzzing phases, a few
cases each, a fixed seed) and every check runs, except where the sandbox deviates on purpose
(DEVIATIONS: each also listed in the README):

- schema-valid input refused with 422 where OpsGenie documents a limit its OpenAPI description
  lacks (an empty message or note, lengths, counts, offset + limit over 20,000, a malformed search
  query, a snooze end in the past, a recipient type OpsGenie does not take for that field);
- operations the sandbox does not serve (heartbeats, schedule rotations, incidents)
  answer 404 for every method after authentication, so "undeclared method -> 405" is not asked of
  them; authentication still comes first there (a missing key is 401 on every path).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsgenie_integration.sandbox import Sandbox

from .sandbox_helpers import shared_dir

pytest.importorskip("schemathesis", reason="schemathesis is in the `test` extra")

CONFIG = """
[checks.positive_data_acceptance]
# 422: OpsGenie's documented limits, absent from its OpenAPI description (see DEVIATIONS)
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

[[operations]]
include-path-regex = "^/v1/|^/v2/heartbeats|/rotations$"
checks.unsupported_method.enabled = false
"""

DEVIATIONS = (
    "422 for schema-valid input beyond OpsGenie's documented limits",
    "404 for every method on operations the sandbox does not serve",
)


def test_schemathesis_finds_nothing_in_short_mode(tmp_path: Path) -> None:
    contract = shared_dir() / "opsgenie" / "openapi" / "opsgenie-v2-subset.openapi3.json"
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    with Sandbox(alerts=40, seed=3, write_delay=0) as sb:
        command = [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
            "run", str(contract), "--url", sb.url,
            "--header", f"Authorization: GenieKey {sb.api_key}",
            "--phases", "examples,coverage,fuzzing",  # every check: all are on by default
            "--max-examples", "4", "--seed", "12", "--workers", "1", "--no-shrink",
            "--request-timeout", "10", "--warnings", "off", "--max-failures", "20",
        ]  # fmt: skip
        started = time.monotonic()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
        done = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=150, env=env
        )
        took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert sb.api_key not in output  # schemathesis filters the Authorization header
    assert done.returncode == 0, output[-12000:]
    assert "Tested: 43" in output, output[-3000:]
    assert took < 60, f"the short mode took {took:.0f} s"
