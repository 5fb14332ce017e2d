"""``run``: one envelope on stdout, logs on stderr, exit statuses 0/1/2/130."""

from __future__ import annotations

import logging
import signal

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, load_fixture

from opsgenie_integration.cli import ExitStatus
from opsgenie_integration.integration import Integration
from opsgenie_integration.redact import Redactor

from .cli_helpers import one_envelope, run_cli


def test_run_prints_one_envelope(conn_file):
    with rm.Mocker() as m:
        m.get(
            f"{BASE}/v2/schedules/Ops%20Team%2FEU%20%231/on-calls",
            json=load_fixture("oncalls_tree.json"),
        )
        status, out, err = run_cli(
            "run",
            "Get On-call User",
            "--param",
            "Schedule Name=Ops Team/EU #1",
            "--param",
            "date=2024-03-01 08:00",
            "--connection",
            conn_file,
        )
    assert status == ExitStatus.SUCCESSFUL
    envelope = one_envelope(out, "Get On-call User")
    assert envelope["return_data"] == "Successful" and envelope["error"] is None
    assert m.request_history[0].qs == {
        "scheduleidentifiertype": ["name"],
        "date": ["2024-03-01t08:00:00+00:00"],
    }
    assert API_KEY not in out + err


def test_run_exits_1_with_the_failed_envelope(conn_file):
    with rm.Mocker() as m:
        m.get(rm.ANY, status_code=401, json=load_fixture("error_401.json"))
        status, out, err = run_cli("run", "get_schedules", "-c", conn_file)
    assert status == ExitStatus.FAILED
    error = one_envelope(out, "Get Schedules")["error"]
    assert error["text"].startswith(
        "Get Schedules failed. Status Code: 401. Message: Could not authenticate."
    )
    assert error["status_code"] == 401 and error["retryable"] is False


def test_run_with_bad_inputs_exits_1_naming_every_input(conn_file):
    with rm.Mocker() as m:
        status, out, _ = run_cli(
            "run",
            "Fetch Event",
            "-p",
            "limit=1000",
            "-p",
            "Start Time=tomorrow-ish",
            "-c",
            conn_file,
        )
    assert status == ExitStatus.FAILED and m.request_history == []
    error = one_envelope(out, "Fetch Event")["error"]
    assert error["type"] == "validation"
    assert (
        "Number of Event(s) Fetched (limit)" in error["message"]
        and "Start Time (start_time)" in error["message"]
    )


def test_unknown_command_exits_2_with_one_failed_envelope(conn_file):
    with rm.Mocker() as m:
        status, out, err = run_cli("run", "Nope", "-c", conn_file)
    assert status == ExitStatus.USAGE and m.request_history == []
    envelope = one_envelope(out, "Nope")
    assert envelope["return_data"] == "Failed" and envelope["error"]["type"] == "validation"
    assert "Unknown command 'Nope'" in envelope["error"]["message"]
    assert "unknown command 'Nope'" in err and "'Get Schedules'" in err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["run", "Get Schedules", "--bogus"], "unrecognized arguments: --bogus"),
        (["run", "Get Schedules", "--param", "no-equals-sign"], "expected NAME=VALUE"),
        (["run", "Get Schedules", "--params", "{not json"], "--params is not valid JSON"),
        (["run", "Get Schedules", "--params", "[1]"], "--params must be a JSON object"),
    ],
)
def test_malformed_run_command_line_exits_2_with_one_envelope(argv, words):
    status, out, err = run_cli(*argv)
    assert status == ExitStatus.USAGE
    envelope = one_envelope(out, "Get Schedules")
    assert envelope["return_data"] == "Failed" and envelope["error"]["type"] == "validation"
    assert words in envelope["error"]["message"] and words in err


def test_run_installs_its_sigterm_handler_once_and_restores_it(conn_file, monkeypatch):
    installed = []
    real = signal.signal

    def spy(signum, handler):
        if signum == signal.SIGTERM:
            installed.append(handler)
        return real(signum, handler)

    monkeypatch.setattr(signal, "signal", spy)
    before = signal.getsignal(signal.SIGTERM)
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("schedules.json"))
        status, _, _ = run_cli("run", "Get Schedules", "-c", conn_file)
    assert status == ExitStatus.SUCCESSFUL
    assert len(installed) == 2 and installed[1] is before  # set once, then restored
    assert signal.getsignal(signal.SIGTERM) is before


def test_run_shares_one_redactor_between_the_log_filter_and_the_command(conn_file, monkeypatch):
    seen = {}
    real_run = Integration.run

    def spy(self, command, inputs=None, connection=None, *, redactor=None):
        seen["run"] = redactor
        seen["filters"] = [
            f.redactor
            for h in logging.getLogger().handlers
            if getattr(h, "_opsgenie_cli", False)
            for f in h.filters
            if hasattr(f, "redactor")
        ]
        return real_run(self, command, inputs, connection, redactor=redactor)

    monkeypatch.setattr(Integration, "run", spy)
    with rm.Mocker() as m:
        m.get(rm.ANY, json=load_fixture("schedules.json"))
        status, _, _ = run_cli("run", "Get Schedules", "-c", conn_file)
    assert status == ExitStatus.SUCCESSFUL
    assert isinstance(seen["run"], Redactor) and seen["filters"] == [seen["run"]]
    assert API_KEY in seen["run"].secrets
