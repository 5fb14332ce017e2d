"""The loop: changes of state, notify-each-failure, scheduling in minutes, stopping, failing
notifiers and checks (scripted checks on a fake clock; nothing sleeps).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest

from opsgenie_integration.healthcheck import (
    HealthCheck,
)

from .helpers import (
    KEY,
    T0,
    FakeTime,
    Recorder,
    Scripted,
    envelope_for,
    run_scripted,
)


def test_notifies_on_every_change_of_state_only():
    # Given checks that pass, pass, fail, fail, pass, fail
    summary, recorder, log, _ = run_scripted([True, True, False, False, True, False])
    # Then one notification per change of state, none for a repeated state
    assert [(n.check, n.event, n.previous_state, n.state) for n in recorder.got] == [
        (3, "failed", "passed", "failed"),
        (5, "recovered", "failed", "passed"),
        (6, "failed", "passed", "failed"),
    ]
    assert summary.as_dict() == {
        "checks": 6,
        "passed": 3,
        "failed": 3,
        "state_changes": 3,
        "notifications_sent": 3,
        "notifications_failed": 0,
        "last_result": "failed",
        "stopped_by": "count",
    }
    # and one line per result on the log
    lines = [line for line in log.splitlines() if " check " in line]
    assert len(lines) == 6
    assert lines[0] == "health-check: 2024-03-01T08:00:00Z check 1: passed (0.00 s)"
    assert lines[2].startswith(
        "health-check: 2024-03-01T08:02:00Z check 3: FAILED (0.00 s): Test Connection failed. "
        "Failed to check the connector. Status Code: 403. Message: This API key cannot run"
    )


@pytest.mark.parametrize("first, expected", [(True, []), (False, [("failed", None)])])
def test_the_first_result_is_a_change_only_when_it_fails(first, expected):
    summary, recorder, _, _ = run_scripted([first])
    assert [(n.event, n.previous_state) for n in recorder.got] == expected
    assert summary.state_changes == len(expected)


def test_notify_each_failure_notifies_every_further_failed_check():
    # Given --notify-each-failure and checks that fail, fail, fail, pass, pass
    summary, recorder, _, _ = run_scripted(
        [False, False, False, True, True], notify_each_failure=True
    )
    # Then every failure is notified (still_failing counts the run), then the recovery once
    assert [(n.event, n.consecutive_failures) for n in recorder.got] == [
        ("failed", 1),
        ("still_failing", 2),
        ("still_failing", 3),
        ("recovered", 0),
    ]
    assert summary.state_changes == 2 and summary.notifications_sent == 4
    assert (
        recorder.got[1].subject()
        == "OpsGenie connection still failing (api.eu.opsgenie.com): 2 failed checks in a row"
    )


def test_interval_is_in_minutes_between_starts():
    # Given a 0.5-minute interval and checks that take 10 s
    summary, _, _, fake = run_scripted([True] * 3, interval=0.5, seconds=10.0)
    # Then it sleeps the rest of each 30 s, and not after the last check
    assert fake.sleeps == [20.0, 20.0]
    assert [r.checked_at for r in summary.results] == [
        T0,
        T0 + dt.timedelta(seconds=30),
        T0 + dt.timedelta(seconds=60),
    ]


def test_a_check_longer_than_the_interval_is_followed_at_once():
    summary, _, _, fake = run_scripted([True] * 3, interval=0.1, seconds=9.0)  # 6 s interval
    assert fake.sleeps == [] and summary.checks == 3


@pytest.mark.parametrize("interval, count", [(0, None), (-1, None), (1, 0)])
def test_zero_or_negative_interval_or_zero_count_is_refused(interval, count):
    refused = "count" if interval == 1 else "interval"
    with pytest.raises(ValueError, match=f"^{refused} must be"):
        HealthCheck(lambda: envelope_for(True), interval=interval, count=count)


@pytest.mark.parametrize(
    "interval, count", [(float("inf"), None), (1e308, None), (1, float("inf")), (1, 1.5), (1, True)]
)
def test_health_check_refuses_unusable_interval_or_count(interval, count):
    refused = "count" if interval == 1 else "interval"
    with pytest.raises(ValueError, match=f"^{refused} must be"):
        HealthCheck(lambda: envelope_for(True), interval=interval, count=count)


def test_stop_ends_the_loop_after_the_current_check():
    # Given an endless health check (no count) that is asked to stop while it waits
    fake = FakeTime()
    health: HealthCheck

    def sleep(seconds):
        fake.sleep(seconds)
        if len(fake.sleeps) == 2:
            health.stop()  # what the SIGINT/SIGTERM handler calls

    health = HealthCheck(
        Scripted([True, False, True], fake),
        interval=1,
        clock=fake.clock,
        now=fake.wall,
        sleep=sleep,
    )
    summary = health.run()
    assert (
        summary.checks == 2 and summary.stopped_by == "signal" and summary.last_result == "failed"
    )


def test_the_default_sleep_wakes_up_on_stop():
    # Given the real wait between checks (an event) and a stop from another thread
    health = HealthCheck(lambda: envelope_for(True), interval=10)  # 600 s between checks
    threading.Timer(0.1, health.stop).start()
    started = time.monotonic()
    summary = health.run()
    assert time.monotonic() - started < 5 and summary.checks == 1


def test_a_failing_notifier_does_not_stop_the_others_nor_the_loop():
    # Given a broken notifier before a working one
    broken, working = Recorder("broken thing", fail=True), Recorder("working thing")
    summary, _, log, _ = run_scripted([False, True], notifiers=[broken, working])
    # Then the working one got both notifications, and each failure is one line naming the notifier
    assert [n.event for n in working.got] == ["failed", "recovered"]
    assert (
        summary.notifications_sent == 2
        and summary.notifications_failed == 2
        and summary.checks == 2
    )
    assert "notifying failed by broken thing failed: NotificationError: the line is down" in log
    assert "notified recovered by working thing" in log


def test_a_check_that_raises_is_a_failed_check():
    def check():
        raise RuntimeError(f"boom {KEY}")

    recorder = Recorder()
    summary = HealthCheck(
        check, interval=1, count=1, notifiers=[recorder], sleep=lambda s: None
    ).run()
    assert summary.failed == 1 and recorder.got[0].envelope["error"]["type"] == "internal"
    assert KEY not in json.dumps(recorder.got[0].payload())
