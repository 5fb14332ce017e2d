"""Fuzzing the alert actions: plausible and hostile inputs, any answer to the write and to each
request status poll, through ``Integration.run``: always exactly one valid envelope, never a
traceback, never the API key."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from opsgenie_integration import Integration
from opsgenie_integration.commands import alert_actions, alert_reads, request_tracking

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))
INTEGRATION = Integration.load(entry_points=False)
IDS = [spec.id for spec in alert_actions.COMMANDS + alert_reads.COMMANDS]
INPUTS = {c.id: [p.id for p in c.inputs] for c in INTEGRATION.commands if c.id in IDS}

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
plausible = st.sampled_from(
    [
        "team:Ops, user:jane@example.com", '[{"type": "team", "name": "Ops"}]', '{"type": "user"}',
        "k=v\nk2=v2", '{"k": "v"}', '{"k": {"x": 1}}', "a, b, c", '["a", "b"]', "P1", "P9", "alias",
        "tiny", "id", "2999-01-01T00:00:00Z", "2001-01-01", "now", "..", "a/b #1", "x" * 600, "",
        "asc", "next", "prev", "8743a1b2-11da-480e-8493-744660987bef", "[", "{", "=", ":",
    ]
)  # fmt: skip
scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), text, plausible
)
value = st.one_of(scalar, st.lists(scalar, max_size=3), st.dictionaries(text, scalar, max_size=3))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=12,
)
status_data = st.fixed_dictionaries(
    {},
    optional={
        "isSuccess": st.one_of(st.booleans(), json_values),
        "status": st.one_of(text, st.just("Request not processed yet")),
        "alertId": json_values,
        "alias": json_values,
    },
)
answer = st.one_of(
    st.builds(lambda d: {"json": {"data": d, "took": 0.1, "requestId": "r"}}, st.one_of(status_data, json_values)),
    st.builds(lambda d: {"json": {"result": "Request will be processed", "took": 0.1, "requestId": d}}, json_values),
    st.builds(lambda d: {"json": d}, json_values),
    st.builds(lambda t: {"text": t}, st.text(max_size=100)),
    st.just({"json": {"message": "n", "took": 1, "requestId": "r"}, "headers": {"X-Opsgenie-Errortype": "RequestNotProcessed"}}),
)  # fmt: skip
statuses = st.sampled_from([200, 202, 202, 400, 401, 403, 404, 404, 422, 429, 500, 503])


@pytest.mark.parametrize("command", IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.data(),
    write=answer,
    write_status=statuses,
    polls=st.lists(st.tuples(answer, statuses), min_size=1, max_size=3),
)
def test_alert_actions_always_return_one_valid_envelope(command, data, write, write_status, polls):
    names = INPUTS[command]
    inputs = data.draw(st.dictionaries(st.sampled_from(names), value, max_size=len(names)))
    conn = {"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0, "request_wait": 0.3}
    with rm.Mocker() as m, mock.patch.object(request_tracking, "_sleep", lambda s: None):
        m.post(rm.ANY, status_code=write_status, **write)
        m.delete(rm.ANY, status_code=write_status, **write)
        m.get(rm.ANY, [{"status_code": s, **a} for a, s in polls])
        envelope = INTEGRATION.run(command, inputs, conn)
    ENVELOPE.validate(envelope)
    assert API_KEY not in json.dumps(envelope, default=str)
    if envelope["return_data"] == "Failed":
        assert envelope["error"]["message"].strip()
