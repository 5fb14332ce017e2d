"""``fetch`` against a mocked OpsGenie: the backoff waits and their cap, how many failures in a row
end a backfill, the exit statuses and the last progress line, and the requests that went out."""

from __future__ import annotations

import io
import json
import signal

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, load_fixture

from opsgenie_integration.cli import ExitStatus, main
from opsgenie_integration.cli import fetch as fetch_cli

from .cli_helpers import BASE_MS, HOUR, make_alerts

pytestmark = pytest.mark.no_contract  # the answers here are deliberately broken ones

TWO_ALERTS = [
    {**alert, "createdAt": "2023-11-14T22:13:20.000Z", "updatedAt": stamp}
    for alert, stamp in zip(
        make_alerts([BASE_MS + 1000, BASE_MS + 2000]),
        ["2023-11-14T22:13:21.000Z", "2023-11-14T22:13:22.000Z"],
    )
]
PAGE = {"json": {"data": TWO_ALERTS, "took": 0.01, "requestId": "r-ok"}}
BUSY = {"status_code": 503, "text": "<html>busy</html>"}
EMPTY = {"json": {"data": [], "took": 0.0, "requestId": "r-empty"}}


def fetch(tmp_path, monkeypatch, answers, *extra, stop_after_waits=None):
    """Run ``fetch`` of one hour against ``answers``; the waits are recorded, not slept (with
    ``stop_after_waits``, a SIGINT-like stop is requested after that many waits)."""
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0}))
    waits = []

    def fake_sleep(seconds, stop):
        waits.append(seconds)
        if stop_after_waits is not None and len(waits) >= stop_after_waits:
            stop.requested = True

    monkeypatch.setattr(fetch_cli, "_sleep", fake_sleep)
    out, err = io.StringIO(), io.StringIO()
    argv = ["fetch", "--workers", "1", "--start", str(BASE_MS), "--end", str(BASE_MS + HOUR)]
    if "--follow" in extra:
        argv = ["fetch", "--workers", "1", "--start", str(BASE_MS)]
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", answers)
        status = main([*argv, *extra, "--connection", str(conn)], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue(), m.request_history, waits


def last_line(err: str) -> tuple[str, dict]:
    word, _, summary = err.splitlines()[-1].removeprefix("fetch: ").partition(" ")
    return word, json.loads(summary)


def test_a_backfill_gives_up_after_five_retryable_failures_in_a_row(tmp_path, monkeypatch):
    status, out, err, requests, waits = fetch(tmp_path, monkeypatch, [BUSY] * 6)
    assert status == ExitStatus.FAILED == 1
    assert len(requests) == 5 and waits == [2.0, 4.0, 8.0, 16.0]  # 2 ** failures, four waits
    assert "(attempt 5); the checkpoint has not moved" in err
    assert "(attempt 6)" not in err
    assert err.splitlines()[-2].startswith("fetch: Fetch Event failed. Status Code: 503.")
    word, summary = last_line(err)
    assert word == "failed" and summary["events"] == 0 and summary["pages"] == 0
    assert out == ""


def test_four_failures_then_a_page_succeeds(tmp_path, monkeypatch):
    status, out, err, requests, waits = fetch(tmp_path, monkeypatch, [BUSY] * 4 + [PAGE, EMPTY])
    assert status == ExitStatus.SUCCESSFUL == 0
    assert waits == [2.0, 4.0, 8.0, 16.0] and len(requests) == 6
    assert len({r.url for r in requests[:5]}) == 1  # the same page every time
    assert len(out.splitlines()) == 2
    assert last_line(err)[0] == "done"


def test_a_page_that_succeeds_starts_the_backoff_again(tmp_path, monkeypatch):
    answers = [BUSY, BUSY, PAGE, BUSY, EMPTY]
    status, out, err, requests, waits = fetch(tmp_path, monkeypatch, answers)
    assert status == ExitStatus.SUCCESSFUL and len(requests) == 5
    assert waits == [2.0, 4.0, 2.0]  # 2 s again after the page in between
    assert "waiting 2 s, then the same page again (attempt 2)" in err.splitlines()[-2]


def test_the_backoff_is_capped_at_60_seconds_when_following(tmp_path, monkeypatch):
    status, out, err, requests, waits = fetch(
        tmp_path, monkeypatch, [BUSY] * 7, "--follow", stop_after_waits=7
    )
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]  # no give-up while following
    assert "waiting 60 s, then the same page again (attempt 7)" in err
    assert status == ExitStatus.SUCCESSFUL  # stopped by a signal while following
    assert last_line(err)[0] == "stopped"


@pytest.mark.parametrize("retry_after, wait", [("30", 30.0), ("1", 2.0), ("600", 60.0)])
def test_a_429_waits_what_opsgenie_asks_between_the_backoff_and_60_s(
    tmp_path, monkeypatch, retry_after, wait
):
    limited = {
        "status_code": 429,
        "headers": {"Retry-After": retry_after},
        "json": {"message": "Too many requests", "took": 0.0, "requestId": "r-429"},
    }
    status, out, err, requests, waits = fetch(tmp_path, monkeypatch, [limited, PAGE])
    assert status == ExitStatus.SUCCESSFUL
    assert waits == [wait]
    assert f"fetch: rate_limited (status 429): waiting {wait:g} s, then the same page again" in err


def test_a_fatal_error_ends_at_once_with_its_text(tmp_path, monkeypatch):
    answers = [{"status_code": 403, "json": load_fixture("error_403_40301.json")}]
    status, out, err, requests, waits = fetch(tmp_path, monkeypatch, answers)
    assert status == ExitStatus.FAILED and waits == [] and len(requests) == 1
    assert "fetch: Fetch Event failed. Status Code: 403." in err
    assert last_line(err)[0] == "failed" and out == ""


def test_a_page_asks_for_100_alerts_and_the_events_go_to_stdout(tmp_path, monkeypatch):
    status, out, err, requests, waits = fetch(tmp_path, monkeypatch, [PAGE, EMPTY])
    assert status == ExitStatus.SUCCESSFUL and waits == []
    assert requests[0].qs["limit"] == ["100"] and requests[0].qs["offset"] == ["0"]
    assert requests[0].headers["Authorization"] == f"GenieKey {API_KEY}"
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["Unique Event Key"] for e in events] == [a["id"] for a in TWO_ALERTS]
    word, summary = last_line(err)
    assert word == "done"
    # a page with events is followed by another call; the empty one ends the window
    assert len(requests) == 2 and requests[1].qs["limit"] == ["100"]
    assert (summary["events"], summary["pages"], summary["requests"]) == (2, 2, 2)
    assert set(summary) == {
        "events",
        "pages",
        "requests",
        "seconds",
        "events_per_second",
        "requests_per_second",  # issue 14: the rates, workers and the limit in force
        "workers",
        "limit",
        "throttled",
    }


def test_quiet_prints_no_progress_but_keeps_the_last_line(tmp_path, monkeypatch):
    status, out, err, requests, waits = fetch(tmp_path, monkeypatch, [PAGE, EMPTY], "--quiet")
    assert status == ExitStatus.SUCCESSFUL and len(out.splitlines()) == 2
    assert len(err.splitlines()) == 1 and last_line(err)[0] == "done"


def test_a_stop_during_a_backfill_exits_130_saying_interrupted(tmp_path, monkeypatch):
    status, out, err, requests, waits = fetch(
        tmp_path, monkeypatch, [BUSY, PAGE], stop_after_waits=1
    )
    assert status == ExitStatus.INTERRUPTED == 130
    assert len(requests) == 1 and out == ""
    assert last_line(err)[0] == "interrupted"


def test_max_events_stops_after_the_page_that_reaches_it(tmp_path, monkeypatch):
    status, out, err, requests, waits = fetch(
        tmp_path, monkeypatch, [PAGE], "--follow", "--max-events", "2"
    )
    assert status == ExitStatus.SUCCESSFUL and len(requests) == 1 and waits == []
    assert len(out.splitlines()) == 2 and last_line(err)[0] == "done"


def test_max_events_above_the_page_keeps_following(tmp_path, monkeypatch):
    status, out, err, requests, waits = fetch(
        tmp_path,
        monkeypatch,
        [PAGE, EMPTY],
        "--follow",
        "--interval",
        "7",
        "--max-events",
        "3",
        stop_after_waits=1,
    )
    assert waits == [7.0]  # the poll interval, after the window ran dry
    assert len(out.splitlines()) == 2 and last_line(err)[0] == "stopped"


def test_signal_handlers_are_given_back_after_a_run(tmp_path, monkeypatch):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    status, *_ = fetch(tmp_path, monkeypatch, [PAGE])
    assert status == ExitStatus.SUCCESSFUL
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--follow", "--interval", "0"], "fetch: --interval must be a finite number of seconds"),
        (["--follow", "--interval", "-1"], "fetch: --interval must be a finite number of seconds"),
        (["--follow", "--interval", "inf"], "fetch: --interval must be a finite number of seconds"),
        (
            ["--interval", "5"],
            "fetch: --interval only applies with --follow (seconds between polls)",
        ),
        (["--max-events", "0"], "fetch: --max-events must be at least 1"),
        (["--follow", "--end", "now"], "fetch: --end and --follow cannot be used together"),
    ],
)
def test_usage_errors_exit_2_with_their_message(tmp_path, argv, message):
    out, err = io.StringIO(), io.StringIO()
    status = main(
        ["fetch", *argv, "--connection", str(tmp_path / "none.yaml")], stdout=out, stderr=err
    )
    assert status == ExitStatus.USAGE == 2 and out.getvalue() == ""
    assert message in err.getvalue()


def test_the_smallest_interval_and_max_events_are_accepted(tmp_path, monkeypatch):
    status, out, err, requests, waits = fetch(
        tmp_path, monkeypatch, [PAGE], "--follow", "--interval", "0.001", "--max-events", "1"
    )
    assert status == ExitStatus.SUCCESSFUL and len(out.splitlines()) == 2


def test_a_connection_that_cannot_be_made_exits_1_without_a_request(tmp_path):
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({"server_url": "ftp://example.com", "api_key": API_KEY}))
    out, err = io.StringIO(), io.StringIO()
    with rm.Mocker() as m:
        status = main(
            ["fetch", "--workers", "1", "--connection", str(conn)], stdout=out, stderr=err
        )
    assert status == ExitStatus.FAILED and m.request_history == [] and out.getvalue() == ""
    assert err.getvalue().startswith("fetch: Fetch Event failed.")
    assert API_KEY not in err.getvalue()


def test_a_closed_stdout_exits_1_saying_the_checkpoint_is_kept(tmp_path, monkeypatch):
    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0}))
    err = io.StringIO()
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", [PAGE])
        status = main(
            ["fetch", "--workers", "1", "--start", str(BASE_MS), "--end", str(BASE_MS + HOUR)]
            + ["--connection", str(conn)],
            stdout=Closed(),
            stderr=err,
        )
    assert status == ExitStatus.FAILED
    assert err.getvalue().endswith(
        "fetch: stdout was closed; the checkpoint of the last page written is kept\n"
    )
