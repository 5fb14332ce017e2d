"""Fuzzing: random inputs and random answers through ``Integration.run`` (the CLI's: tests/cli/).

Whatever comes in (wrong types, huge strings, control characters, unicode, nulls) and whatever
OpsGenie answers (any JSON, any status), the outcome is exactly one envelope that validates against
``schemas/envelope.schema.json``, never a traceback, and never the API key.
"""

from __future__ import annotations

import json

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from opsgenie_integration import Integration

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))
INTEGRATION = Integration.load(entry_points=False)
COMMANDS = [c.name for c in INTEGRATION.commands]
INPUT_NAMES = sorted({n for c in INTEGRATION.commands for p in c.inputs for n in (p.id, p.title)})

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
huge = st.integers(1000, 200_000).map(lambda n: "x" * n)
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), text, huge)
value = st.one_of(scalar, st.lists(scalar, max_size=3), st.dictionaries(text, scalar, max_size=3))
input_name = st.one_of(st.sampled_from(INPUT_NAMES), text)
inputs = st.one_of(st.dictionaries(input_name, value, max_size=6), value)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=20,
)
answers = st.one_of(
    st.builds(lambda d: {"json": {"data": d, "took": 0.1, "requestId": "r"}}, json_values),
    st.builds(lambda d: {"json": d}, json_values),
    st.builds(lambda t: {"text": t}, st.text(max_size=200)),
    st.just({"content": b"\xff\xfe\x00garbage"}),
)
statuses = st.sampled_from(
    [200, 200, 200, 201, 204, 301, 400, 401, 402, 403, 404, 409, 422, 429, 500, 502, 503, 504, 599]
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_one_envelope(envelope, command=None):
    ENVELOPE.validate(envelope)
    assert API_KEY not in json.dumps(envelope, default=str)
    if command:
        assert envelope["command"] in (command, str(command))


@pytest.mark.parametrize("command", COMMANDS)
@SETTINGS
@given(given_inputs=inputs, status=statuses, answer=answers)
def test_registry_always_returns_one_valid_envelope(command, given_inputs, status, answer):
    conn = {"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0, "request_wait": 0}
    with rm.Mocker() as m:
        m.register_uri(rm.ANY, rm.ANY, status_code=status, **answer)  # writes too
        envelope = INTEGRATION.run(command, given_inputs, conn)
    assert_one_envelope(envelope, command)
    if envelope["return_data"] == "Failed":
        assert envelope["error"]["message"].strip()


@SETTINGS
@given(
    settings_=st.dictionaries(
        st.sampled_from(
            [
                "server_url",
                "api_key",
                "api_version",
                "timeout",
                "max_retry_time",
                "Server URL",
                "API Key",
                "bogus",
            ]
        ),
        value,
        max_size=5,
    )
)
def test_random_connection_settings(settings_):
    with rm.Mocker() as m:
        m.get(rm.ANY, json={"data": [], "took": 0, "requestId": "r"})
        envelope = INTEGRATION.run("Get Schedules", {}, settings_)
    assert_one_envelope(envelope, "Get Schedules")
