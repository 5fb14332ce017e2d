"""The contract check of request bodies and required query parameters (tests/contract.py)."""

from __future__ import annotations

import json

import contract

URL = "https://api.opsgenie.com"


def test_bodies_are_checked_against_the_request_body_schema(shared_dir):
    spec = contract.load_spec(str(shared_dir / "opsgenie/openapi/opsgenie-v2-subset.openapi3.json"))

    def check(method, path, body=None):
        raw = json.dumps(body).encode() if body is not None else None
        return contract.check_request(spec, method, URL + path, raw)

    assert check("POST", "/v2/alerts", {"message": "m", "priority": "P1"}) == []
    assert check("POST", "/v2/alerts", {"alias": "a"})  # message is required
    assert check("POST", "/v2/alerts", {"message": "m", "priority": "P9"})
    assert check("POST", "/v2/alerts", {"message": "m", "responders": [{"name": "x"}]})
    assert check("POST", "/v2/alerts/a/escalate?identifierType=id", {"escalation": {"name": "e"}})
    assert check("POST", "/v2/alerts/a/close?identifierType=id", {}) == []
    assert check("POST", "/v2/alerts/a/close?identifierType=id") == []  # no body: {}
    assert check("POST", "/v2/alerts/a/notes?identifierType=id", {"user": "u"})  # note required
    assert check("DELETE", "/v2/alerts/a/tags?identifierType=id") == [
        "DELETE /v2/alerts/{identifier}/tags: required query parameter 'tags' missing"
    ]
    assert check("DELETE", "/v2/alerts/a/tags?identifierType=id&tags=x,y") == []
    assert check("DELETE", "/v2/alerts/a?identifierType=id", {"user": "u"})  # takes no body
    assert check("GET", "/v2/alerts/a?identifierType=tiny") == []
