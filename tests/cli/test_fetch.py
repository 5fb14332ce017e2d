"""``opsgenie-integration fetch``: JSON Lines, an atomic checkpoint file, resume after a kill."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, load_fixture

from opsgenie_integration.cli import ExitStatus, main
from opsgenie_integration.cli import fetch as fetch_cli
from opsgenie_integration.cli.fetch import _lock, write_events
from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.times import parse_server_timestamp

from .cli_helpers import BASE_MS, HOUR, make_alerts

pytestmark = pytest.mark.no_contract  # the requests here go through the same client as above


@pytest.fixture
def sandbox_2000():
    updated = [BASE_MS + (i // 3) * 7 for i in range(2000)]  # groups of 3 alerts per millisecond
    with Sandbox(alerts=0, seed=4, clock=BASE_MS + 5 * HOUR) as sb:
        sb.store.replace_alerts(make_alerts(updated))
        yield sb, {(a["id"], a["updatedAt"]) for a in make_alerts(updated)}


def write_connection(tmp_path, sb):
    path = tmp_path / "conn.json"
    path.write_text(json.dumps(sb.connection))
    return str(path)


def keys_of(lines):
    out = []
    for line in lines:
        event = json.loads(line)
        out.append((event["Unique Event Key"], event["updatedAt"]))
    return out


@pytest.fixture
def mapping(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "main_event_json_path: $.data\nfields:\n  - {field_name: Unique Event Key, source_field: .id}\n"
        "  - {field_name: updatedAt, source_field: .updatedAt}\n"
    )
    return str(path)


def to_ms(stamp):
    return parse_server_timestamp(stamp)


def test_fetch_writes_json_lines_and_checkpoint(sandbox_2000, tmp_path, mapping):
    sb, expected = sandbox_2000
    checkpoint = tmp_path / "state" / "ck.txt"
    checkpoint.parent.mkdir()
    out, err = io.StringIO(), io.StringIO()
    status = main(
        [
            "fetch",
            "--workers",
            "1",  # one cursor: the request count below is the sequential one
            "--start",
            str(BASE_MS),
            "--end",
            str(BASE_MS + HOUR),
            "--checkpoint-file",
            str(checkpoint),
            "--field-mapping",
            mapping,
            "--connection",
            write_connection(tmp_path, sb),
        ],
        stdout=out,
        stderr=err,
    )
    assert status == 0, err.getvalue()
    got = [(k, to_ms(t)) for k, t in keys_of(out.getvalue().splitlines())]
    assert len(got) == len(set(got)) and set(got) == expected
    assert checkpoint.read_text().startswith("ck1.")
    assert sorted(os.listdir(checkpoint.parent)) == [
        "ck.txt"
    ]  # no temporary files left behind, and the lock file is removed when the run ends
    summary = json.loads(err.getvalue().split("fetch: done ", 1)[1])
    assert (
        summary["events"] == 2000 and summary["requests"] <= 2000 / 97 + 3
    )  # + GET /v2/request-limits/
    # a second run with the same checkpoint file finds nothing new
    out2 = io.StringIO()
    assert (
        main(
            [
                "fetch",
                "--checkpoint-file",
                str(checkpoint),
                "--end",
                str(BASE_MS + HOUR),
                "--field-mapping",
                mapping,
                "--connection",
                write_connection(tmp_path, sb),
                "-q",
            ],
            stdout=out2,
            stderr=io.StringIO(),
        )
        == 0
    )
    assert out2.getvalue() == ""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_fetch_resumes_exactly(sandbox_2000, tmp_path, mapping, sig):
    sb, expected = sandbox_2000
    sb.faults.add("latency", paths="/v2/alerts", seconds=0.05)
    checkpoint = tmp_path / "ck.txt"
    argv = [
        sys.executable,
        "-m",
        "opsgenie_integration",
        "fetch",
        "--start",
        str(BASE_MS),
        "--end",
        str(BASE_MS + HOUR),
        "--checkpoint-file",
        str(checkpoint),
        "--field-mapping",
        mapping,
        "--connection",
        write_connection(tmp_path, sb),
        "-q",
    ]
    first = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    lines = []
    while len(lines) < 500:
        line = first.stdout.readline()
        assert line, first.stderr.read()
        lines.append(line)
    first.send_signal(sig)
    lines.extend(first.stdout.read().splitlines())  # the same buffered reader, so no line is cut
    first.wait(timeout=30)
    err = first.stderr.read()
    first.stdout.close()
    first.stderr.close()
    if sig == signal.SIGTERM:
        assert first.returncode == 130, err  # it finished its page and stopped cleanly, saying so
    assert 500 <= len(lines) < 2000
    second = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    got = [(k, to_ms(t)) for k, t in keys_of(lines + second.stdout.splitlines())]
    assert set(got) == expected  # nothing lost
    if sig == signal.SIGTERM:
        assert len(got) == len(expected)  # and nothing repeated
    else:
        assert len(got) - len(expected) <= 100  # a hard kill may replay at most the page it cut


def test_fetch_usage_errors():
    err = io.StringIO()
    assert main(["fetch", "--follow", "--end", "2024-01-01"], stdout=io.StringIO(), stderr=err) == 2
    assert "--end and --follow" in err.getvalue()


def test_fetch_follow_picks_up_new_updates(tmp_path, mapping):
    with Sandbox(alerts=0, seed=4) as sb:
        now = sb.clock.now_ms()
        sb.store.replace_alerts(make_alerts([now - 60_000 - i for i in range(30)]))
        out, err = io.StringIO(), io.StringIO()
        conn = write_connection(tmp_path, sb)

        def later():
            # update only once the first page (30 events) is out: an update that lands before it
            # would leave 30 distinct events, and --follow would wait for a 31st for ever
            deadline = time.monotonic() + 60
            while out.getvalue().count("\n") < 30 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)
            sb.store.update_alert(
                "00000000-0000-4000-8000-000000000003", updated_at=sb.clock.now_ms() - 10_000
            )

        threading.Thread(target=later, daemon=True).start()
        status = main(
            [
                "fetch",
                "--workers",
                "1",  # the update lands behind the backfill's end: only one cursor sees it
                "--start",
                str(now - 3_600_000),
                "--follow",
                "--interval",
                "0.3",
                "--max-events",
                "31",
                "--field-mapping",
                mapping,
                "--connection",
                conn,
                "-q",
            ],
            stdout=out,
            stderr=err,
        )
    assert status == 0, err.getvalue()
    keys = [k for k, _ in keys_of(out.getvalue().splitlines())]
    assert len(keys) == 31 and keys[-1] == "00000000-0000-4000-8000-000000000003"


def test_two_fetches_cannot_share_a_checkpoint_file(tmp_path):
    checkpoint = tmp_path / "ck"
    held = _lock(checkpoint)
    try:
        err = io.StringIO()
        status = main(
            [
                "fetch",
                "--checkpoint-file",
                str(checkpoint),
                "--connection",
                str(tmp_path / "none.yaml"),
            ],
            stdout=io.StringIO(),
            stderr=err,
        )
        assert status == 1 and "another fetch is using" in err.getvalue()
    finally:
        held.close()


def test_events_that_are_not_valid_unicode_are_written_escaped():
    class Latin1(io.StringIO):
        def write(self, text):
            text.encode("latin-1")  # raises like a non-UTF-8 stdout would
            return super().write(text)

    out = Latin1()
    write_events(out, [{"Message": "bad \ud800 surrogate", "Name": "Équipe ✓"}])
    assert json.loads(out.getvalue()) == {"Message": "bad \ud800 surrogate", "Name": "Équipe ✓"}


@pytest.mark.parametrize(
    "argv, words, expected",
    [
        (["--interval", "nan", "--follow"], "--interval", 2),
        (["--checkpoint-file", "/nonexistent/dir/ck"], "does not exist", 1),
    ],
)
def test_fetch_refuses_bad_options_before_fetching(argv, words, expected, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    status = main(
        ["fetch", *argv, "--connection", str(tmp_path / "none.yaml")], stdout=out, stderr=err
    )
    assert status == expected and out.getvalue() == "" and words in err.getvalue()


def test_fetch_refuses_a_checkpoint_file_that_is_not_text(tmp_path):
    ck = tmp_path / "bin.ck"
    ck.write_bytes(b"\xff\xfe\x00\x01")
    err = io.StringIO()
    assert (
        main(
            ["fetch", "--checkpoint-file", str(ck), "--connection", str(tmp_path / "none.yaml")],
            stdout=io.StringIO(),
            stderr=err,
        )
        == 1
    )
    assert err.getvalue() == (
        f"fetch: --checkpoint-file {str(ck)!r}: cannot be read: is not UTF-8 text\n"
    )


def mocked_fetch(tmp_path, monkeypatch, answers):
    """``fetch`` of one hour against a mocked OpsGenie giving ``answers`` in turn; the waits
    between attempts are recorded (with whether the checkpoint file existed then), not slept."""
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0}))
    checkpoint = tmp_path / "ck"
    waits = []
    monkeypatch.setattr(fetch_cli, "_sleep", lambda s, stop: waits.append((s, checkpoint.exists())))
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "fetch",
        "--workers",
        "1",
        "--start",
        str(BASE_MS),
        "--end",
        str(BASE_MS + HOUR),
        "--quiet",
        "--checkpoint-file",
        str(checkpoint),
        "--connection",
        str(conn),
    ]
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/request-limits/", status_code=404, json={"message": "no"})
        m.get(f"{BASE}/v2/alerts", answers)
        status = main(argv, stdout=out, stderr=err)
    sent = [r for r in m.request_history if r.path == "/v2/alerts"]
    return status, out.getvalue(), err.getvalue(), sent, checkpoint, waits


def test_fetch_waits_after_a_5xx_then_asks_for_the_same_page_with_the_checkpoint_unmoved(
    tmp_path, monkeypatch
):
    alerts = [
        {**alert, "createdAt": "2023-11-14T22:13:20.000Z", "updatedAt": stamp}
        for alert, stamp in zip(
            make_alerts([BASE_MS + 1000, BASE_MS + 2000]),
            ["2023-11-14T22:13:21.000Z", "2023-11-14T22:13:22.000Z"],
        )
    ]
    answers = [
        {"status_code": 503, "text": "<html>busy</html>"},
        {"json": {"data": alerts, "took": 0.01, "requestId": "r-2"}},
    ]
    status, out, err, requests, checkpoint, waits = mocked_fetch(tmp_path, monkeypatch, answers)
    assert status == ExitStatus.SUCCESSFUL
    assert waits[0] == (2.0, False)  # 2 ** 1 s after the first failure; no checkpoint written yet
    assert "waiting 2 s, then the same page again (attempt 2); the checkpoint has not moved" in err
    assert "(status 503)" in err
    assert requests[0].qs == requests[1].qs  # the same page again
    assert len(out.splitlines()) == 2 and checkpoint.read_text().startswith("ck1.")


def test_fetch_stops_on_a_401_with_exit_status_1_and_the_error_text(tmp_path, monkeypatch):
    answers = [{"status_code": 401, "json": load_fixture("error_401.json")}]
    status, out, err, requests, checkpoint, waits = mocked_fetch(tmp_path, monkeypatch, answers)
    assert status == ExitStatus.FAILED
    assert "fetch: Fetch Event failed. Status Code: 401. Message: Could not authenticate." in err
    assert out == "" and waits == [] and len(requests) == 1  # never retried
    assert not checkpoint.exists() and API_KEY not in err
