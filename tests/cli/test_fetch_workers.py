"""``fetch --workers``: a concurrent backfill paced to the published limits, then one cursor."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time

import pytest

from opsgenie_integration.cli import main
from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.slices import SliceBoard, is_slice_state
from opsgenie_integration.times import parse_server_timestamp

BASE_MS = 1_700_000_000_000
HOUR = 3_600_000

pytestmark = pytest.mark.no_contract  # the fetch requests are checked in tests/commands


def make_alerts(updated: list[int]) -> list[dict]:
    return [
        {
            "id": f"00000000-0000-4000-8000-{index:012d}",
            "tinyId": str(index + 1),
            "alias": f"alias-{index}",
            "message": f"alert {index}",
            "status": "open",
            "createdAt": ms - 1000,
            "updatedAt": ms,
        }
        for index, ms in enumerate(updated)
    ]


@pytest.fixture
def mapping(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "main_event_json_path: $.data\nfields:\n"
        "  - {field_name: Unique Event Key, source_field: .id}\n"
        "  - {field_name: updatedAt, source_field: .updatedAt}\n"
    )
    return str(path)


@pytest.fixture
def sandbox_3000():
    """3,000 alerts over 50 minutes, with groups sharing one millisecond."""
    updated = sorted([BASE_MS + (i // 4) * 4000 for i in range(3000)])
    with Sandbox(alerts=0, seed=4, clock=BASE_MS + 5 * HOUR) as sb:
        sb.store.replace_alerts(make_alerts(updated))
        yield sb, {(a["id"], a["updatedAt"]) for a in make_alerts(updated)}


def connection_file(tmp_path, sb):
    path = tmp_path / "conn.json"
    path.write_text(json.dumps(sb.connection))
    return str(path)


def keys(text: str) -> list[tuple[str, int]]:
    out = []
    for line in text.splitlines():
        event = json.loads(line)
        out.append((event["Unique Event Key"], parse_server_timestamp(event["updatedAt"])))
    return out


def summary_of(err: str) -> dict:
    return json.loads(err.rsplit("fetch: done ", 1)[1].splitlines()[0])


def fetch(tmp_path, sb, mapping, *extra, end=BASE_MS + HOUR):
    out, err = io.StringIO(), io.StringIO()
    argv = ["fetch", "--start", str(BASE_MS), "--field-mapping", mapping]
    argv += ["--connection", connection_file(tmp_path, sb), *extra]
    if end is not None:
        argv += ["--end", str(end)]
    status = main(argv, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("workers", [1, 4, 16])
def test_every_alert_exactly_once_with_any_worker_count(sandbox_3000, tmp_path, mapping, workers):
    sb, expected = sandbox_3000
    checkpoint = tmp_path / "ck.txt"
    status, out, err = fetch(
        tmp_path, sb, mapping, "--workers", str(workers), "--checkpoint-file", str(checkpoint)
    )
    assert status == 0, err
    got = keys(out)
    assert len(got) == len(set(got)) and set(got) == expected
    summary = summary_of(err)
    assert summary["workers"] == workers and summary["events"] == 3000
    # the backfill is complete: the file holds one cursor from its end
    assert checkpoint.read_text().startswith("ck1.")


def test_default_workers_follow_the_published_search_limit(sandbox_3000, tmp_path, mapping):
    sb, expected = sandbox_3000
    status, out, err = fetch(tmp_path, sb, mapping)
    assert status == 0, err
    assert summary_of(err)["workers"] == 8  # nothing published: the safe default
    assert summary_of(err)["limit"].startswith("search no limit known")
    sb.rate_limits.set("search", per_second=20, per_minute=1200)
    time.sleep(0.5)
    status, out, err = fetch(tmp_path, sb, mapping)
    assert status == 0, err
    summary = summary_of(err)
    assert summary["workers"] == 7  # ceil(20 x 0.3) + 1
    assert summary["limit"] == "search 20/s, 1200/min (request-limits)"
    assert summary["throttled"] == 0
    assert set(keys(out)) == expected
    paths = [r.path for r in sb.requests]
    assert paths.count("/v2/request-limits/") == 2  # once per run


def test_progress_shows_rates_workers_and_limit(sandbox_3000, tmp_path, mapping):
    sb, _ = sandbox_3000
    sb.rate_limits.set("search", per_second=15)
    status, _, err = fetch(tmp_path, sb, mapping, "--workers", "3")
    assert status == 0, err
    lines = [line for line in err.splitlines() if "events/s" in line and "done" not in line]
    assert lines, err
    assert "requests/s" in lines[-1] and "3 workers" in lines[-1]
    assert "limit: search 15/s (request-limits)" in lines[-1]


def test_a_429_storm_is_paced_out_without_published_limits(tmp_path, mapping):
    updated = [BASE_MS + i * 500 for i in range(2000)]
    with Sandbox(alerts=0, seed=4, clock=BASE_MS + 5 * HOUR) as sb:
        sb.store.replace_alerts(make_alerts(updated))
        sb.rate_limits.set("search", per_second=20)
        real = sb.rate_limits.published
        sb.rate_limits.published = lambda: []  # limits in force, but not published
        try:
            status, out, err = fetch(tmp_path, sb, mapping, "--workers", "8")
        finally:
            sb.rate_limits.published = real
        throttled = sum(1 for r in sb.requests if r.status == 429)
    assert status == 0, err
    assert len(set(keys(out))) == 2000 == len(keys(out))
    summary = summary_of(err)
    assert "adapted" in summary["limit"] and summary["throttled"] >= 1
    assert throttled <= 40  # adapted after the first ones, not a storm


def test_stopped_backfill_resumes_every_slice(sandbox_3000, tmp_path, mapping):
    sb, expected = sandbox_3000
    sb.latency_ms = 300
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
        "--workers",
        "8",
        "--checkpoint-file",
        str(checkpoint),
        "--field-mapping",
        mapping,
        "--connection",
        connection_file(tmp_path, sb),
        "-q",
    ]
    got: list = []
    codes = []
    for run in range(30):
        part = tmp_path / f"out-{run}.jsonl"
        with open(part, "w") as out_file:
            process = subprocess.Popen(argv, stdout=out_file, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            while process.poll() is None and not part.stat().st_size:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            try:  # stopped 0.4 s after its first page
                _, err = process.communicate(timeout=0.4)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGTERM)
                _, err = process.communicate(timeout=30)
        out = part.read_bytes()
        codes.append(process.returncode)
        got += keys(out.decode())
        if process.returncode == 0:
            break
        # 130: stopped after its pages in flight; -15: stopped while starting, before any page
        assert process.returncode in (130, -signal.SIGTERM), err.decode()
        text = checkpoint.read_text() if checkpoint.exists() else ""
        if is_slice_state(text):
            SliceBoard.decode(text)  # a readable state after every stop
    assert codes[-1] == 0 and len(codes) > 1, codes
    assert len(got) == len(set(got)), "repeated"
    assert set(got) == expected


def test_a_state_for_another_query_is_refused(sandbox_3000, tmp_path, mapping):
    sb, _ = sandbox_3000
    checkpoint = tmp_path / "ck.txt"
    state = SliceBoard.new(BASE_MS, BASE_MS + HOUR, "0" * 16, None, 2).encode()
    checkpoint.write_text(state + "\n")
    status, out, err = fetch(
        tmp_path, sb, mapping, "--workers", "2", "--checkpoint-file", str(checkpoint)
    )
    assert status == 1 and out == ""
    assert "--checkpoint-file" in err and "another Search Condition" in err
    assert checkpoint.read_text() == state + "\n"  # untouched


def test_follow_continues_with_one_cursor(tmp_path, mapping):
    with Sandbox(alerts=300, seed=9) as sb:
        now = sb.clock.now_ms()
        checkpoint = tmp_path / "ck.txt"
        argv = [
            sys.executable,
            "-m",
            "opsgenie_integration",
            "fetch",
            "--start",
            str(now - 9 * 24 * HOUR),
            "--workers",
            "4",
            "--follow",
            "--interval",
            "0.3",
            "--checkpoint-file",
            str(checkpoint),
            "--field-mapping",
            mapping,
            "--connection",
            connection_file(tmp_path, sb),
        ]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                text = checkpoint.read_text() if checkpoint.exists() else ""
                if text.startswith("ck1."):
                    break
                time.sleep(0.1)
            assert checkpoint.read_text().startswith("ck1.")  # the backfill is done
            sb.churn(2)  # two alerts updated by the next list request
            time.sleep(1.0)
            sb.churn(0)
            time.sleep(6.0)  # past the 5 s settling time of the last updates
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        final = {(a["id"], parse_server_timestamp(a["updatedAt"])) for a in sb.store.alerts}
    assert process.returncode == 0, err.decode()
    got = keys(out.decode())
    assert len(got) == len(set(got))
    assert final <= set(got)


def test_max_events_with_workers(sandbox_3000, tmp_path, mapping):
    sb, _ = sandbox_3000
    status, out, err = fetch(tmp_path, sb, mapping, "--workers", "4", "--max-events", "500")
    assert status == 0, err
    got = keys(out)
    assert 500 <= len(got) <= 900 and len(got) == len(set(got))


@pytest.mark.parametrize("bad", ["0", "-1", "65", "many"])
def test_bad_worker_counts_are_usage_errors(sandbox_3000, tmp_path, mapping, bad):
    sb, _ = sandbox_3000
    status, out, err = fetch(tmp_path, sb, mapping, "--workers", bad)
    assert status == 2 and out == "" and "--workers" in err
