"""Fuzzing JSM mode: random inputs and random JSM answers (any JSON, any status, JSM's error
shapes) through ``Integration.run`` with a JSM connection: always exactly one envelope valid
against ``schemas/envelope.schema.json``, never a traceback, never the API token."""

from __future__ import annotations

import json

import pytest
import requests_mock as rm
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from opsgenie_integration import Integration

TOKEN = "ATATT3x-fuzz-token-0123456789"
SITE = "https://example.atlassian.net"
CLOUD = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CONNECTION = {
    "platform": "jsm",
    "site": SITE,
    "email": "fuzz@example.com",
    "api_token": TOKEN,
    "max_retry_time": 0,
}

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))
INTEGRATION = Integration.load(entry_points=False)
COMMANDS = [c.name for c in INTEGRATION.commands]
INPUT_NAMES = sorted({n for c in INTEGRATION.commands for p in c.inputs for n in (p.id, p.title)})

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), text)
value = st.one_of(scalar, st.lists(scalar, max_size=3), st.dictionaries(text, scalar, max_size=3))
inputs = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(INPUT_NAMES), text), value, max_size=6), value
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=20,
)
answers = st.one_of(
    st.builds(lambda d: {"json": {"values": d, "count": 1, "links": {}}}, json_values),
    st.builds(lambda d: {"json": {"onCallParticipants": d}}, json_values),
    st.builds(lambda d: {"json": {"finalTimeline": {"rotations": d}}}, json_values),
    st.builds(lambda t: {"json": {"errors": [{"title": t, "code": "X"}]}}, text),
    st.builds(lambda t: {"json": {"code": 401, "message": t}}, text),
    st.builds(lambda t: {"json": {"errorMessages": [t], "errors": {}}}, text),
    st.builds(lambda d: {"json": d}, json_values),
    st.builds(lambda t: {"text": t}, st.text(max_size=200)),
)
statuses = st.sampled_from([200, 200, 200, 204, 400, 401, 403, 404, 422, 429, 500, 502])

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.no_contract
@pytest.mark.parametrize("command", COMMANDS)
@SETTINGS
@given(given_inputs=inputs, status=statuses, answer=answers)
def test_always_one_valid_envelope_in_jsm_mode(command, given_inputs, status, answer):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=status, **answer)
        m.get(f"{SITE}/_edge/tenant_info", json={"cloudId": CLOUD})  # registered last: wins
        envelope = INTEGRATION.run(command, given_inputs, CONNECTION)
    ENVELOPE.validate(envelope)
    assert TOKEN not in json.dumps(envelope, default=str)
    assert envelope["command"] == command
    if envelope["return_data"] == "Failed":
        assert envelope["error"]["message"].strip()
        assert envelope["error"]["type"] != "internal", envelope["error"]


@SETTINGS
@given(
    settings_=st.dictionaries(
        st.sampled_from(
            ["platform", "site", "cloud_id", "email", "api_token", "server_url", "api_key", "bogus"]
        ),
        value,
        max_size=6,
    )
)
def test_random_jsm_connection_settings(settings_):
    with rm.Mocker() as m:
        m.get(rm.ANY, json={"values": [], "links": {}})
        envelope = INTEGRATION.run("Get Schedules", {}, {"platform": "jsm", **settings_})
    ENVELOPE.validate(envelope)
    if envelope["return_data"] == "Failed":
        assert envelope["error"]["type"] != "internal", envelope["error"]
