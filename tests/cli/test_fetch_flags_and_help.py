"""``fetch`` speaks in its flags, keeps its last line under --quiet, removes its lock file, and
refuses --interval without --follow; --connection's help lists the manifest's settings; usage
errors point at the action's own --help."""

from __future__ import annotations

import json
import os

import pytest
from conftest import API_KEY

from opsgenie_integration.cli import ExitStatus
from opsgenie_integration.manifest import load_manifest
from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.times import parse_user_time

from .cli_helpers import BASE_MS, HOUR, make_alerts, run_cli

pytestmark = pytest.mark.no_contract


@pytest.fixture
def conn(tmp_path):
    with Sandbox(alerts=0, seed=2, api_key=API_KEY, clock=BASE_MS + 5 * HOUR) as sb:
        sb.store.replace_alerts(make_alerts([BASE_MS + i for i in range(3)]))
        path = tmp_path / "conn.json"
        path.write_text(json.dumps(sb.connection))
        yield str(path)


@pytest.mark.parametrize("action", ["run", "fetch", "health-check"])
def test_connection_help_lists_every_manifest_setting(action, capsys):
    status, _, _ = run_cli(action, "--help")
    out = capsys.readouterr().out  # argparse prints --help on sys.stdout
    ids = ", ".join(p.id for p in load_manifest().connection_parameters)
    assert status == 0
    assert f"connection settings, YAML or JSON ({ids}); default:" in " ".join(out.split())


def test_fetch_start_help_names_the_time_zone_setting(capsys):
    run_cli("fetch", "--help")
    out = capsys.readouterr().out
    assert (
        "--start TIME window start; a time without an offset is in the connection's Time Zone "
        "(time_zone), else UTC; default 24 hours ago;" in " ".join(out.split())
    )


def test_interval_without_follow_is_a_usage_error(conn):
    status, out, err = run_cli("fetch", "--interval", "5", "--connection", conn)
    assert (status, out) == (ExitStatus.USAGE, "")
    assert err == (
        "fetch: --interval only applies with --follow (seconds between polls)\n"
        "Try 'opsgenie-integration fetch --help'.\n"
    )


@pytest.mark.parametrize("action", ["fetch", "health-check", "commands"])
def test_usage_error_points_at_the_actions_help(action):
    status, _, err = run_cli(action, "--no-such-flag")
    assert status == ExitStatus.USAGE
    assert err.splitlines()[-1] == f"Try 'opsgenie-integration {action} --help'."


def test_quiet_keeps_the_last_line_and_the_lock_file_goes(conn, tmp_path):
    ck = tmp_path / "f.ck"
    argv = ["fetch", "--start", str(BASE_MS), "--end", str(BASE_MS + HOUR), "-q"]
    status, out, err = run_cli(*argv, "--checkpoint-file", str(ck), "--connection", conn)
    assert status == 0 and len(out.splitlines()) == 3
    assert len(err.splitlines()) == 1 and err.startswith("fetch: done {")
    assert sorted(os.listdir(tmp_path)) == ["conn.json", "f.ck"]


def test_a_lock_file_left_by_a_hard_kill_does_not_block(conn, tmp_path):
    ck = tmp_path / "f.ck"
    (tmp_path / "f.ck.lock").write_text("")
    status, _, err = run_cli(
        "fetch", "--start", str(BASE_MS), "--end", str(BASE_MS + HOUR),
        "--checkpoint-file", str(ck), "--connection", conn,
    )  # fmt: skip
    assert status == 0 and err.splitlines()[-1].startswith("fetch: done {")
    assert not (tmp_path / "f.ck.lock").exists()


def test_garbage_checkpoint_file_is_named(conn, tmp_path):
    ck = tmp_path / "bad.ck"
    ck.write_text("garbage\n")
    status, out, err = run_cli("fetch", "--checkpoint-file", str(ck), "--connection", conn)
    assert (status, out) == (ExitStatus.FAILED, "")
    assert err == (
        f"fetch: --checkpoint-file {str(ck)!r}: holds no checkpoint of an earlier fetch (ck1..., "
        "written by fetch itself); give another file, or remove this one to start again from "
        "--start\n"
    )
    assert ck.read_text() == "garbage\n" and not (tmp_path / "bad.ck.lock").exists()


def test_errors_name_the_flags(conn):
    with pytest.raises(ValueError) as caught:
        parse_user_time("03/04/2026 10:00")
    status, out, err = run_cli("fetch", "--start", "03/04/2026 10:00", "--query", "(", "--connection", conn)  # fmt: skip
    assert (status, out) == (ExitStatus.FAILED, "")
    assert err.splitlines()[0] == (
        f"fetch: Fetch Event failed. Message: --start: {caught.value}; --query: expected an "
        "OpsGenie search query whose parentheses and double quotes are balanced, without \\( \\) "
        "outside quotes or a trailing \\ (it is sent as (<query>) AND <time window>), got '('."
    )
    assert err.splitlines()[-1].startswith("fetch: failed {")


def test_start_now_without_end_names_start(conn):
    status, _, err = run_cli("fetch", "--start", "now", "--connection", conn)
    assert status == ExitStatus.FAILED
    assert err.splitlines()[0] == (
        "fetch: Fetch Event failed. Message: --start: must be before the default --end: the time "
        "of the call minus 5 s (alerts still being indexed are left to the next call); give an "
        "earlier --start."
    )


def test_follow_from_now_waits_until_start_can_be_read(conn, monkeypatch):
    from opsgenie_integration.cli import fetch as fetch_cli

    waits: list[float] = []

    def fake_sleep(seconds, stop):
        waits.append(seconds)
        stop.requested = True  # stop the follow loop before its first call

    monkeypatch.setattr(fetch_cli, "_sleep", fake_sleep)
    status, out, err = run_cli("fetch", "--follow", "--start", "now", "--connection", conn)
    assert (status, out) == (0, "")
    assert len(waits) == 1 and 5.0 < waits[0] <= 5.5
    assert err.splitlines()[0] == (
        f"fetch: waiting {waits[0]:.1f} s until --start is 5 s in the past (the newest updates "
        "are read 5 s late)"
    )
    assert err.splitlines()[-1].startswith("fetch: stopped {")


def test_run_names_bad_inputs_and_the_missing_key_together(monkeypatch):
    from .cli_helpers import one_envelope

    for name in ("OPSGENIE_API_KEY", "OPSGENIE_SERVER_URL", "OPSGENIE_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    status, out, _ = run_cli("run", "Fetch Event", "--param", "limit=500")
    error = one_envelope(out, "Fetch Event")["error"]
    assert status == ExitStatus.FAILED and error["type"] == "validation"
    assert error["message"] == (
        "Number of Event(s) Fetched (limit): expected a number at least 1 and at most 100, got "
        "500; API Key (api_key): is required"
    )
    assert error["hint"] == (
        "Give the connection with --connection FILE (YAML or JSON: server_url, api_key), or with "
        "the OPSGENIE_API_KEY and OPSGENIE_SERVER_URL environment variables; or try --sandbox."
    )
