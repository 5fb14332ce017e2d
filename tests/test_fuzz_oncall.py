"""Fuzzing the who-is-on-call, team and escalation commands with valid inputs and random answers.

test_fuzz.py sends random inputs (rarely valid ones); here the inputs are valid, so every handler
runs to the end on whatever OpsGenie answers: any JSON, near-valid participant trees, timelines
and rules with wrong types in any field. The outcome is always exactly one envelope that
validates against ``schemas/envelope.schema.json``, with a readable part, never a traceback.
"""

from __future__ import annotations

import io
import json

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from opsgenie_integration import Integration
from opsgenie_integration.cli import main

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))
INTEGRATION = Integration.load(entry_points=False)

CASES = [
    (
        "Get Next On-call User",
        {"Schedule Name": "Ops Team/EU #1", "Datetime": "2026-10-25T07:30:00Z"},
    ),
    ("Get Next On-call User", {"Schedule Name": "s-1", "Schedule Identifier Type": "id"}),
    ("Get On-call Users Across Schedules", {}),
    ("Get On-call Users Across Schedules", {"Team": "ops", "Datetime": "2026-10-20"}),
    ("Is User On Call", {"Username or ID": "jane.smith@example.com"}),
    ("Is User On Call", {"user": "jane.smith@example.com", "Schedule Name": "Ops Team/EU #1"}),
    ("Get Team", {"Team": "ops"}),
    ("List Teams", {}),
    ("Get Escalation", {"Escalation": "Ops escalation", "Identifier Type": "name"}),
    ("List Escalations", {}),
    ("Get Schedule Timeline", {"Schedule Name": "Ops Team/EU #1", "Picture": "svg"}),
]

text = st.text(max_size=12)
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
json_values = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=12,
)
stamp = st.one_of(
    st.sampled_from(
        ["2026-10-20T06:00:00Z", "2026-10-20T07:00:00.5Z", "2026-10-21T00:00:00+02:00"]
    ),
    scalar,
)
maybe = lambda s: st.one_of(s, scalar)  # noqa: E731 - a field of the right shape, or anything
participant = st.recursive(
    st.fixed_dictionaries(
        {"id": maybe(text), "name": maybe(text), "type": maybe(st.sampled_from(["user", "team", "escalation", "none"]))}
    ),
    lambda inner: st.fixed_dictionaries(
        {"type": maybe(st.sampled_from(["team", "escalation"])), "name": maybe(text),
         "onCallParticipants": maybe(st.lists(inner, max_size=3))}
    ),
    max_leaves=6,
)  # fmt: skip
period = st.fixed_dictionaries(
    {"startDate": stamp, "endDate": stamp, "type": maybe(text), "recipient": maybe(participant)},
    optional={"fromUser": maybe(text)},
)
timeline = st.fixed_dictionaries(
    {
        "_parent": maybe(st.fixed_dictionaries({"id": maybe(text), "name": maybe(text)})),
        "startDate": stamp,
        "endDate": stamp,
        "finalTimeline": maybe(
            st.fixed_dictionaries(
                {
                    "rotations": maybe(
                        st.lists(
                            st.fixed_dictionaries(
                                {"id": maybe(text), "name": maybe(text), "periods": maybe(st.lists(period, max_size=4))}
                            ),
                            max_size=3,
                        )
                    )
                }
            )
        ),
    }
)  # fmt: skip
on_call = st.fixed_dictionaries(
    {
        "_parent": maybe(st.fixed_dictionaries({"id": maybe(text), "name": maybe(text)})),
        "onCallParticipants": maybe(st.lists(participant, max_size=3)),
        "onCallRecipients": maybe(st.lists(maybe(text), max_size=3)),
        "nextOnCallRecipients": maybe(st.lists(participant, max_size=3)),
        "exactNextOnCallRecipients": maybe(st.lists(participant, max_size=3)),
        "exactNextOnCallParticipants": maybe(st.lists(maybe(text), max_size=3)),
    }
)
rule = st.fixed_dictionaries(
    {
        "delay": maybe(st.fixed_dictionaries({"timeAmount": maybe(st.integers()), "timeUnit": maybe(text)})),
        "recipient": maybe(participant),
        "notifyType": maybe(text),
    }
)  # fmt: skip
data = st.one_of(
    json_values,
    timeline,
    on_call,
    st.lists(on_call, max_size=3),
    st.fixed_dictionaries({"id": maybe(text), "username": maybe(text), "fullName": maybe(text)}),
    st.fixed_dictionaries({"name": maybe(text), "rules": maybe(st.lists(rule, max_size=3)),
                           "members": maybe(st.lists(json_values, max_size=3))}),
)  # fmt: skip
status = st.sampled_from([200, 200, 200, 200, 404, 429, 500])
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize(("command", "inputs"), CASES)
@SETTINGS
@given(bodies=st.lists(st.tuples(status, data), min_size=1, max_size=4))
def test_valid_inputs_and_any_answer_give_one_envelope(command, inputs, bodies):
    conn = {"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0}
    responses = [
        {"status_code": code, "json": {"data": body, "took": 0.1, "requestId": "r"}}
        for code, body in bodies
    ]
    with rm.Mocker() as m:
        m.get(rm.ANY, responses)
        envelope = INTEGRATION.run(command, inputs, conn)
    ENVELOPE.validate(envelope)
    assert envelope["command"] == command
    assert isinstance(envelope["readable"], str) and envelope["readable"].strip()
    assert API_KEY not in json.dumps(envelope, default=str)
    if envelope["return_data"] == "Failed":
        assert envelope["error"]["message"].strip()


@SETTINGS
@given(
    command=st.sampled_from([c.name for c in INTEGRATION.commands]),
    params=st.lists(st.tuples(st.sampled_from(["Schedule Name", "Team", "user", "Picture", "Datetime"]), text), max_size=3),
    answer=data,
)  # fmt: skip
def test_cli_table_output_always_prints_text_and_never_a_traceback(
    tmp_path_factory, command, params, answer
):
    folder = tmp_path_factory.getbasetemp()
    conn = folder / "fuzz-oncall-conn.json"
    conn.write_text(json.dumps({"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0}))
    argv = ["run", command, "--connection", str(conn), "--output", "table"]
    argv += ["--save-picture", str(folder / "fuzz-picture.svg")] if len(params) % 2 else []
    for name, value in params:
        argv += ["--param", f"{name}={value}"]
    out, err = io.StringIO(), io.StringIO()
    with rm.Mocker() as m:
        m.get(rm.ANY, json={"data": answer, "took": 0, "requestId": "r"})
        status = main(argv, stdout=out, stderr=err)
    assert status in (0, 1, 2)
    assert out.getvalue().strip() and "Traceback" not in out.getvalue() + err.getvalue()
    assert API_KEY not in out.getvalue() + err.getvalue()
