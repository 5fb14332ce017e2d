"""Shared helpers of the command tests: the request that went out, and the envelope's shape."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from conftest import API_KEY, REPO
from jsonschema import Draft202012Validator

ENVELOPE = Draft202012Validator(
    json.loads((REPO / "schemas" / "envelope.schema.json").read_text(encoding="utf-8"))
)


def sent(mocker: Any, index: int = -1) -> tuple[str, dict[str, str], str]:
    """(raw path, query dict of single values, raw query) of a recorded request."""
    request = mocker.request_history[index]
    parts = urlsplit(request.url)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    return parts.path, query, parts.query


def check_envelope(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope, after checking it against its schema and that the API key is not in it."""
    ENVELOPE.validate(envelope)
    assert API_KEY not in json.dumps(envelope)
    return envelope
