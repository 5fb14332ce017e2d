"""``run`` given hostile command lines: still exactly one valid envelope, a bounded time, no key."""

from __future__ import annotations

import io
import json

import requests_mock as rm
from conftest import API_KEY, BASE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsgenie_integration import Integration
from opsgenie_integration.cli import main

from .cli_helpers import one_envelope

INTEGRATION = Integration.load(entry_points=False)
COMMANDS = [c.name for c in INTEGRATION.commands]
INPUT_NAMES = sorted({n for c in INTEGRATION.commands for p in c.inputs for n in (p.id, p.title)})
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
huge = st.integers(1000, 200_000).map(lambda n: "x" * n)
input_name = st.one_of(st.sampled_from(INPUT_NAMES), text)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_deeply_nested_and_non_unicode_arguments_still_print_one_envelope(tmp_path):
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({"server_url": BASE, "api_key": API_KEY}))
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", "Get Schedules", "--params", "[" * 100000], stdout=out, stderr=err) == 2
    envelope = one_envelope(out.getvalue(), "Get Schedules")
    assert (
        envelope["error"]["type"] == "validation"
        and "--params is not valid JSON" in envelope["error"]["message"]
    )
    out = io.StringIO()
    main(
        ["run", "Get Single User", "--param", "user=\udcff\ud800", "-c", str(conn)],
        stdout=out,
        stderr=io.StringIO(),
    )
    envelope = json.loads(out.getvalue())
    assert (
        envelope["error"]["type"] == "validation"
        and "not valid Unicode" in envelope["error"]["message"]
    )


@SETTINGS
@given(
    command=st.one_of(st.sampled_from(COMMANDS), text),
    params=st.lists(st.tuples(input_name, st.one_of(text, huge)), max_size=5),
)
def test_run_always_prints_one_valid_envelope(tmp_path_factory, command, params):
    conn = tmp_path_factory.getbasetemp() / "fuzz-conn.json"
    conn.write_text(json.dumps({"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0}))
    argv = ["run", command, "--connection", str(conn)]
    for name, val in params:
        argv += ["--param", f"{name}={val}"]
    out, err = io.StringIO(), io.StringIO()
    with rm.Mocker() as m:
        m.get(rm.ANY, json={"data": [], "took": 0, "requestId": "r"})
        status = main(argv, stdout=out, stderr=err)
    one_envelope(out.getvalue())  # exactly one JSON document
    assert status in (0, 1, 2)
    assert "Traceback" not in err.getvalue() and API_KEY not in out.getvalue() + err.getvalue()
