"""``fetch``'s progress lines (at most one a second), its pacing on ``X-RateLimit-*`` headers (the
wait clamped to 0.1 .. 60 s) and its interruptible sleep, on a fake clock."""

from __future__ import annotations

import io
import threading
import time
from types import SimpleNamespace

import pytest

from opsgenie_integration.cli import fetch as fetch_cli
from opsgenie_integration.cli.fetch import Progress, _pace, _sleep, _Stop


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock(1000.0)  # the fetch module's clock only, not the process's
    monkeypatch.setattr(fetch_cli, "time", SimpleNamespace(monotonic=fake, sleep=time.sleep))
    return fake


def test_progress_prints_at_most_once_a_second(clock):
    stream = io.StringIO()
    progress = Progress(stream, quiet=False)
    clock.now = 1002.0
    progress.page(100)
    assert stream.getvalue() == "fetch: 100 events, 1 pages, 50 events/s\n"
    clock.now = 1002.999
    progress.page(50)  # 0.999 s after the last line: nothing
    assert stream.getvalue().count("\n") == 1
    clock.now = 1003.0
    progress.page(50)  # exactly one second after it: a line
    assert stream.getvalue().splitlines()[-1] == "fetch: 200 events, 3 pages, 67 events/s"
    assert (progress.events, progress.pages) == (200, 3)


def test_quiet_progress_counts_but_prints_nothing(clock):
    stream = io.StringIO()
    progress = Progress(stream, quiet=True)
    clock.now = 1010.0
    progress.page(7)
    assert stream.getvalue() == "" and (progress.events, progress.pages) == (7, 1)


def test_the_summary_and_the_rate(clock):
    progress = Progress(io.StringIO(), quiet=True)
    assert progress.rate() == 0.0  # no time has passed: no division by zero
    progress.page(3)
    clock.now = 1000.5
    assert progress.rate() == 6.0  # under a second counts too
    clock.now = 1004.0
    assert progress.rate() == 0.75
    assert progress.summary(requests=5) == {
        "events": 3,
        "pages": 1,
        "requests": 5,
        "seconds": 4.0,
        "events_per_second": 0.8,  # 0.75 rounded to one digit
    }


def paced(monkeypatch, headers: dict[str, str]) -> list[float]:
    slept = []
    monkeypatch.setattr(fetch_cli, "_sleep", lambda seconds, stop: slept.append(seconds))
    _pace(SimpleNamespace(last_rate_limit=headers), _Stop())
    return slept


@pytest.mark.parametrize(
    "period, wait",
    [("5", 5.0), ("0.1", 0.1), ("0.05", 0.1), ("0", 0.1), ("60", 60.0), ("61", 60.0), ("x", 1.0)],
)
def test_a_throttled_key_waits_the_period_within_bounds(monkeypatch, period, wait):
    headers = {"X-RateLimit-State": "THROTTLED", "X-RateLimit-Period-In-Sec": period}
    assert paced(monkeypatch, headers) == [wait]


def test_a_throttled_key_without_a_period_waits_one_second(monkeypatch):
    assert paced(monkeypatch, {"x-ratelimit-state": "throttled"}) == [1.0]


@pytest.mark.parametrize("state", ["OK", "", None])
def test_a_key_that_is_not_throttled_does_not_wait(monkeypatch, state):
    headers = {} if state is None else {"X-RateLimit-State": state}
    assert paced(monkeypatch, {**headers, "X-RateLimit-Period-In-Sec": "5"}) == []


def test_sleep_waits_the_time_given():
    started = time.monotonic()
    _sleep(0.3, _Stop())
    assert 0.3 <= time.monotonic() - started < 10.0  # generous: the machine may be busy


def test_sleep_returns_at_once_when_a_stop_was_requested():
    stop = _Stop()
    stop(15, None)  # what the SIGTERM handler does
    assert stop.requested is True
    started = time.monotonic()
    _sleep(30.0, stop)
    assert time.monotonic() - started < 5.0  # far from the 30 s asked for


def test_a_stop_mid_sleep_ends_it_well_before_the_time_asked_for():
    stop = _Stop()
    started = time.monotonic()
    threading.Timer(0.1, stop, args=(2, None)).start()
    _sleep(30.0, stop)
    assert time.monotonic() - started < 10.0  # it checks every 0.2 s; 30 s were asked for
