"""The test-command runner: one envelope on stdout, logs on stderr, exit statuses 0/1/2."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import requests_mock as rm

from opsgenie_integration.cli import ExitStatus, main

from conftest import API_KEY, BASE, load_fixture


def run_cli(*argv, env=None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def conn_file(tmp_path):
    path = tmp_path / "conn.yaml"
    path.write_text(f"server_url: {BASE}\napi_key: {API_KEY}\nmax_retry_time: 0\n")
    return str(path)


def test_commands_lists_six_commands_with_inputs():
    status, out, _ = run_cli("commands")
    assert status == ExitStatus.SUCCESSFUL
    for name in ("Fetch Event", "Get On-call User", "Get Schedules", "Get Schedule Timeline", "Get Single User",
                 "Test Connection", "Start Time", "Number of Event(s) Fetched", "Schedule Name", "Username or ID"):
        assert name in out
    status, out, _ = run_cli("commands", "--json")
    listed = json.loads(out)
    assert [c["id"] for c in listed][0] == "fetch_event" and len(listed) == 6
    assert listed[0]["inputs"][2] == {"title": "Number of Event(s) Fetched", "id": "limit", "required": False,
                                      "default": 20, "example": 100, "description": "Most events returned by one call, 1 to 100."}


def test_run_prints_one_envelope(conn_file):
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/schedules/Ops%20Team%2FEU%20%231/on-calls", json=load_fixture("oncalls_tree.json"))
        status, out, err = run_cli("run", "Get On-call User", "--param", "Schedule Name=Ops Team/EU #1",
                                   "--param", "date=2024-03-01 08:00", "--connection", conn_file)
    assert status == ExitStatus.SUCCESSFUL
    envelope = json.loads(out)
    assert envelope["return_data"] == "Successful" and envelope["command"] == "Get On-call User"
    assert m.request_history[0].qs == {"scheduleidentifiertype": ["name"], "date": ["2024-03-01t08:00:00+00:00"]}
    assert API_KEY not in out + err


def test_run_failed_exit_1(conn_file):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=401, json=load_fixture("error_401.json"))
        status, out, err = run_cli("run", "get_schedules", "-c", conn_file)
    assert status == ExitStatus.FAILED
    assert json.loads(out)["error"]["text"].startswith("Get Schedules failed. Status Code: 401. Message: Could not authenticate.")


def test_run_bad_input_exit_1_with_envelope(conn_file):
    status, out, _ = run_cli("run", "Fetch Event", "-p", "limit=1000", "-p", "Start Time=tomorrow-ish", "-c", conn_file)
    assert status == ExitStatus.FAILED
    error = json.loads(out)["error"]
    assert "Number of Event(s) Fetched (limit)" in error["message"] and "Start Time (start_time)" in error["message"]


def test_unknown_command_is_usage_error_with_envelope(conn_file):
    status, out, err = run_cli("run", "Nope", "-c", conn_file)
    assert status == ExitStatus.USAGE
    assert json.loads(out)["return_data"] == "Failed" and "unknown command" in err


@pytest.mark.parametrize("argv", [
    ["run", "Get Schedules", "--bogus"],
    ["run", "Get Schedules", "--param", "no-equals-sign"],
    ["run", "Get Schedules", "--params", "{not json"],
])
def test_malformed_run_is_usage_error_with_one_envelope(argv):
    status, out, err = run_cli(*argv)
    assert status == ExitStatus.USAGE
    assert json.loads(out)["return_data"] == "Failed"
    assert err


def test_unknown_action_is_usage_error():
    status, out, err = run_cli("explode")
    assert status == ExitStatus.USAGE and out == "" and "invalid choice" in err


def test_connection_from_environment(monkeypatch):
    monkeypatch.setenv("OPSGENIE_SERVER_URL", "https://api.eu.opsgenie.com")
    monkeypatch.setenv("OPSGENIE_API_KEY", API_KEY)
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("schedules.json"))
        status, out, _ = run_cli("run", "Get Schedules")
    assert status == 0 and m.request_history[0].url == "https://api.eu.opsgenie.com/v2/schedules"


def test_api_key_reference_in_connection(monkeypatch, tmp_path):
    monkeypatch.setenv("MY_OPSGENIE_KEY", API_KEY)
    path = tmp_path / "conn.json"
    path.write_text(json.dumps({"server_url": BASE, "api_key": "env:MY_OPSGENIE_KEY"}))
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("schedules.json"))
        status, out, err = run_cli("run", "Get Schedules", "-c", str(path), "-vv")
    assert status == 0 and m.request_history[0].headers["Authorization"] == f"GenieKey {API_KEY}"
    assert API_KEY not in out + err


def test_missing_connection_is_a_failed_envelope(monkeypatch):
    for var in ("OPSGENIE_SERVER_URL", "OPSGENIE_API_KEY", "OPSGENIE_API_VERSION"):
        monkeypatch.delenv(var, raising=False)
    status, out, _ = run_cli("run", "Get Schedules")
    error = json.loads(out)["error"]
    assert status == 1 and error["type"] == "configuration" and "API Key (api_key): is required" in error["message"]


@pytest.mark.parametrize("content, words", [(None, "does not exist"), ("- a\n- b\n", "must be a mapping"), ("a: [", "not valid")])
def test_bad_connection_file(tmp_path, content, words):
    path = tmp_path / "conn.yaml"
    if content is not None:
        path.write_text(content)
    status, out, _ = run_cli("run", "Get Schedules", "-c", str(path))
    assert status == 1 and words in json.loads(out)["error"]["message"]


def test_python_dash_m_from_another_folder(tmp_path):
    """Runs the installed package (in CI: the wheel, non-editable) away from the source tree."""
    done = subprocess.run([sys.executable, "-m", "opsgenie_integration", "commands"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Get Schedule Timeline (get_schedule_timeline)" in done.stdout
