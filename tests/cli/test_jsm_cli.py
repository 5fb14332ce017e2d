"""The CLI in JSM mode: every command with ``--sandbox --sandbox-platform jsm``, a JSM connection
file, the JSM environment variables, and ``fetch``; the token never printed."""

from __future__ import annotations

import json

import pytest

from opsgenie_integration.sandbox import Sandbox

from .cli_helpers import run_cli

COMMANDS = [
    ("Get Schedules", []),
    ("Get On-call User", ["--param", "Schedule Name=Ops Team/EU #1"]),
    (
        "Get Schedule Timeline",
        ["--param", "Schedule Name=Ops Team/EU #1", "--param", "Interval Unit=days"],
    ),
    ("Get Single User", ["--param", "User=john.doe@example.com"]),
    ("Fetch Event", ["--param", "Start Time=2020-01-01 00:00", "--param", "limit=7"]),
    ("Test Connection", []),
]


@pytest.mark.parametrize("command, params", COMMANDS)
def test_every_command_against_the_jsm_sandbox(command, params):
    status, out, err = run_cli("run", command, *params, "--sandbox", "--sandbox-platform", "jsm")
    envelope = json.loads(out)
    assert status == 0, envelope["error"]
    assert envelope["return_data"] == "Successful" and envelope["command"] == command
    assert "Jira Service Management mode" in err


@pytest.fixture(scope="module")
def jsm():
    with Sandbox(alerts=20, seed=2, platform="jsm") as sb:
        yield sb


def test_connection_file_and_environment(jsm, tmp_path, monkeypatch):
    conn = tmp_path / "jsm.yaml"
    conn.write_text(json.dumps({**jsm.connection, "api_token": "env:MY_JSM_TOKEN"}))
    monkeypatch.setenv("MY_JSM_TOKEN", jsm.api_key)
    status, out, err = run_cli("run", "Get Schedules", "-c", str(conn))
    assert status == 0, out
    assert jsm.api_key not in out + err
    for key in ("OPSGENIE_API_KEY", "OPSGENIE_SERVER_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OPSGENIE_PLATFORM", "jsm")
    monkeypatch.setenv("OPSGENIE_SERVER_URL", jsm.url)
    monkeypatch.setenv("JSM_SITE", jsm.url)
    monkeypatch.setenv("JSM_EMAIL", jsm.email)
    monkeypatch.setenv("JSM_API_TOKEN", jsm.api_key)
    status, out, err = run_cli("run", "Test Connection")
    assert status == 0, out
    assert jsm.api_key not in out + err


def test_missing_token_names_the_setting(jsm, tmp_path):
    conn = tmp_path / "jsm.yaml"
    conn.write_text(json.dumps({"platform": "jsm", "site": jsm.url, "email": jsm.email}))
    status, out, _ = run_cli("run", "Get Schedules", "-c", str(conn))
    envelope = json.loads(out)
    assert status == 1 and envelope["error"]["type"] == "configuration"
    assert "API Token (api_token): is required" in envelope["error"]["message"]
    conn.write_text(json.dumps({"platform": "jsm", "email": jsm.email, "api_token": "x"}))
    status, out, _ = run_cli("run", "Get Schedules", "-c", str(conn))
    assert status == 1 and "Site (site)" in json.loads(out)["error"]["message"]


def test_fetch_action_in_jsm_mode(tmp_path):
    checkpoint = tmp_path / "checkpoint.txt"
    status, out, err = run_cli(
        "fetch", "--sandbox", "--sandbox-platform", "jsm", "--start", "2020-01-01 00:00",
        "--checkpoint-file", str(checkpoint), "--quiet", "--sandbox-alerts", "150",
    )  # fmt: skip
    assert status == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 150 and len({e["Unique Event Key"] for e in events}) == 150
    assert checkpoint.read_text().startswith("cj1.")
