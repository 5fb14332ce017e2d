"""Where ``run``'s connection comes from: ``--connection FILE``, the environment, references."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, load_fixture

from opsgenie_integration.cli import main
from opsgenie_integration.cli.connection import NO_CONNECTION_HINT

from .cli_helpers import one_envelope, run_cli

BOMB = """a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def failed_on_the_reference(envelope: dict) -> dict:
    """The error of a Failed Test Connection caused by a secret reference."""
    assert envelope["return_data"] == "Failed" and envelope["raw_data"] is None
    error = envelope["error"]
    assert error["failure_indicator"] == "Test Connection failed. Failed to check the connector."
    assert error["type"] == "configuration" and error["status_code"] is None
    assert error["retryable"] is False
    return error


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


def test_missing_connection_is_a_failed_envelope_saying_where_one_comes_from(monkeypatch):
    for var in ("OPSGENIE_SERVER_URL", "OPSGENIE_API_KEY", "OPSGENIE_API_VERSION"):
        monkeypatch.delenv(var, raising=False)
    status, out, _ = run_cli("run", "Get Schedules")
    error = json.loads(out)["error"]
    assert (
        status == 1
        and error["type"] == "configuration"
        and "API Key (api_key): is required" in error["message"]
    )
    assert error["hint"] == NO_CONNECTION_HINT and error["text"].endswith(NO_CONNECTION_HINT)


def test_connection_without_a_key_under_any_spelling_gets_no_hint_when_the_key_is_given(tmp_path):
    path = tmp_path / "conn.yaml"
    path.write_text(f"server_url: not a url\nAPI Key: {API_KEY}\n")
    status, out, _ = run_cli("run", "Get Schedules", "-c", str(path))
    error = one_envelope(out, "Get Schedules")["error"]
    assert status == 1 and error["type"] == "configuration" and error["hint"] != NO_CONNECTION_HINT


@pytest.mark.parametrize(
    "content, words",
    [(None, "does not exist"), ("- a\n- b\n", "must be a mapping"), ("a: [", "not valid")],
)
def test_unusable_connection_file_is_a_failed_envelope_naming_the_problem(tmp_path, content, words):
    path = tmp_path / "conn.yaml"
    if content is not None:
        path.write_text(content)
    status, out, _ = run_cli("run", "Get Schedules", "-c", str(path))
    error = one_envelope(out, "Get Schedules")["error"]
    assert status == 1 and error["type"] == "configuration" and words in error["message"]


def test_yaml_bomb_connection_file_is_refused_quickly(tmp_path):
    connection = tmp_path / "conn.yaml"
    connection.write_text(BOMB + f"api_key: *g\nserver_url: {BASE}\n")
    started = time.monotonic()
    out = io.StringIO()
    assert (
        main(["run", "Get Schedules", "-c", str(connection)], stdout=out, stderr=io.StringIO()) == 1
    )
    assert "anchors/aliases" in one_envelope(out.getvalue())["error"]["message"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("make", ["fifo", "dev_zero", "directory"])
def test_unreadable_connection_files_are_refused_without_reading(tmp_path, make):
    path = {"fifo": tmp_path / "m.fifo", "dev_zero": "/dev/zero", "directory": tmp_path}[make]
    if make == "fifo":
        os.mkfifo(path)
    started = time.monotonic()
    out = io.StringIO()
    assert main(["run", "Get Schedules", "-c", str(path)], stdout=out, stderr=io.StringIO()) == 1
    assert "not a regular file" in one_envelope(out.getvalue())["error"]["message"]
    assert time.monotonic() - started < 2


def test_unset_env_reference_is_a_failed_envelope_naming_the_variable(tmp_path, monkeypatch):
    # Given a --connection file whose api_key names an unset variable
    monkeypatch.delenv("OG_NOT_SET", raising=False)
    path = tmp_path / "conn.yaml"
    path.write_text(f"server_url: {BASE}\napi_key: env:OG_NOT_SET\n")
    out, err = io.StringIO(), io.StringIO()
    # When
    status = main(["run", "Test Connection", "--connection", str(path)], stdout=out, stderr=err)
    # Then one Failed envelope on stdout, exit status 1
    assert status == 1
    error = failed_on_the_reference(one_envelope(out.getvalue(), "Test Connection"))
    assert "'OG_NOT_SET'" in error["message"]


def test_unset_env_reference_is_named_whole_in_the_error_text(tmp_path, monkeypatch):
    monkeypatch.delenv("OG_NOT_SET", raising=False)
    path = tmp_path / "conn.yaml"
    path.write_text(f"server_url: {BASE}\napi_key: env:OG_NOT_SET\n")
    out = io.StringIO()
    main(["run", "Test Connection", "--connection", str(path)], stdout=out, stderr=io.StringIO())
    assert "'env:OG_NOT_SET'" in json.loads(out.getvalue())["error"]["text"]
