"""Shared by the CLI tests: drive ``main`` in-process and check what it printed."""

from __future__ import annotations

import io
import json

from conftest import API_KEY, REPO
from jsonschema import Draft202012Validator

from opsgenie_integration.cli import main

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``main(argv)`` with in-memory streams: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def one_envelope(stdout: str, command: str | None = None) -> dict:
    """The one envelope ``run`` printed: exactly one JSON document, valid, without the key."""
    envelope = json.loads(stdout)
    ENVELOPE.validate(envelope)
    assert API_KEY not in stdout
    if command is not None:
        assert envelope["command"] == command
    return envelope


BASE_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z
HOUR = 3_600_000


def make_alerts(updated: list[int]) -> list[dict]:
    """Open alerts for a sandbox store, the n-th updated at ``updated[n]`` (ms)."""
    return [
        {
            "id": f"00000000-0000-4000-8000-{index:012d}",
            "tinyId": str(index + 1),
            "alias": f"alias-{index}",
            "message": f"alert {index}",
            "status": "open",
            "createdAt": ms - 1000,
            "updatedAt": ms,
        }
        for index, ms in enumerate(updated)
    ]
