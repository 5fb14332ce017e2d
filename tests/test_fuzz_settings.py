"""Fuzzing the connection settings issue 11 added (proxy, ca_bundle, verify_tls, date_format,
time_zone) and the new inputs (Saved Search, Enrich, Schedule Identifier Type): whatever they
hold, one envelope that validates, never a traceback, never the API key or a proxy password."""

from __future__ import annotations

import json

import requests_mock as rm
from conftest import API_KEY, BASE, REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from opsgenie_integration import Integration

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))
INTEGRATION = Integration.load(entry_points=False)
PASSWORD = "Pr0xy-Passw0rd"

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), text)
proxies = st.one_of(
    scalar,
    st.builds(
        lambda scheme, host, port: f"{scheme}://user:{PASSWORD}@{host}:{port}",
        st.sampled_from(["http", "https", "socks5", "ftp", ""]),
        st.one_of(st.just("127.0.0.1"), text),
        st.integers(-5, 70000),
    ),
)
time_inputs = st.one_of(
    scalar,
    st.builds(
        lambda a, b, y, sep: f"{a:02d}{sep}{b:02d}{sep}{y} 10:00",
        st.integers(0, 40),
        st.integers(0, 40),
        st.integers(1960, 2100),
        st.sampled_from(["/", ".", "-"]),
    ),
)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    proxy=proxies,
    ca_bundle=scalar,
    verify_tls=scalar,
    date_format=st.one_of(scalar, st.sampled_from(["DD/MM/YYYY HH:mm", "MM/DD/YYYY HH:mm"])),
    time_zone=st.one_of(scalar, st.sampled_from(["Europe/Berlin", "UTC", "Nowhere/Land"])),
    when=time_inputs,
    kind=st.one_of(scalar, st.sampled_from(["id", "name"])),
    command=st.sampled_from(["Get On-call User", "Get Schedule Timeline", "Fetch Event"]),
    saved=st.one_of(scalar, st.just("Open P1 alerts")),
    enrich=scalar,
)
def test_settings_and_new_inputs_always_give_one_valid_envelope(
    proxy, ca_bundle, verify_tls, date_format, time_zone, when, kind, command, saved, enrich
):
    conn = {"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0}
    for name, value in (
        ("proxy", proxy),
        ("ca_bundle", ca_bundle),
        ("verify_tls", verify_tls),
        ("date_format", date_format),
        ("time_zone", time_zone),
    ):
        if value is not None:
            conn[name] = value
    if command == "Fetch Event":
        inputs = {"Start Time": when, "Saved Search": saved, "Enrich": enrich}
    else:
        inputs = {"Schedule Name": "Ops", "Schedule Identifier Type": kind}
        inputs["Datetime" if command == "Get On-call User" else "Date"] = when
    with rm.Mocker() as m:
        m.get(rm.ANY, json={"data": {"query": "status:open"}, "took": 0, "requestId": "r"})
        envelope = INTEGRATION.run(command, inputs, conn)
    ENVELOPE.validate(envelope)
    text_out = json.dumps(envelope, default=str)
    assert API_KEY not in text_out and PASSWORD not in text_out
    if envelope["return_data"] == "Failed":
        assert envelope["error"]["message"].strip()
