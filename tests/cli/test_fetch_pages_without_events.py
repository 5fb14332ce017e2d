"""``fetch``'s page loop on scripted Fetch Event results: pages that say more is coming but carry no
event are followed at most ten in a row, a page with events resets that count, and each page
passes the checkpoint of the one before."""

from __future__ import annotations

import argparse
import io
from types import SimpleNamespace

from opsgenie_integration.cli import ExitStatus
from opsgenie_integration.cli import fetch as fetch_cli
from opsgenie_integration.cli.fetch import Progress, _loop, _Stop


class ScriptedFetch:
    """Answers Fetch Event with ``pages`` in turn (the last one again when they run out)."""

    def __init__(self, pages: list[dict]) -> None:
        self.pages = pages
        self.calls: list[dict] = []

    def run(self, command, inputs, connection):
        assert command == "Fetch Event"
        self.calls.append(dict(inputs))
        page = self.pages[min(len(self.calls) - 1, len(self.pages) - 1)]
        return {"return_data": "Successful", "error": None, **page}


def page(n: int, events: int, has_more: bool) -> dict:
    return {"events": [{"n": n}] * events, "checkpoint": f"ck1.{n}", "has_more": has_more}


def run_loop(monkeypatch, pages, follow=False):
    paced, slept = [], []
    monkeypatch.setattr(fetch_cli, "_pace", lambda client, stop: paced.append(1))
    monkeypatch.setattr(fetch_cli, "_sleep", lambda seconds, stop: slept.append(seconds))
    fetch = ScriptedFetch(pages)
    args = argparse.Namespace(follow=follow, checkpoint_file=None, max_events=None, interval=9.0)
    out = io.StringIO()
    stop = _Stop()
    if follow:  # stop at the first poll interval
        monkeypatch.setattr(fetch_cli, "_sleep", lambda s, st: (slept.append(s), stop(2, None)))
    status = _loop(
        fetch,
        SimpleNamespace(client=SimpleNamespace(last_rate_limit={})),
        {"limit": 100},
        "ck1.start",
        args,
        out,
        io.StringIO(),
        stop,
        Progress(io.StringIO(), quiet=True),
    )
    return status, fetch.calls, paced, slept, out.getvalue()


def test_ten_pages_in_a_row_without_events_end_the_window(monkeypatch):
    pages = [page(n, 0, True) for n in range(20)]
    status, calls, paced, slept, out = run_loop(monkeypatch, pages)
    assert status == ExitStatus.SUCCESSFUL and out == ""
    assert len(calls) == 10 and len(paced) == 9 and slept == []


def test_a_page_with_events_resets_the_count(monkeypatch):
    pages = [page(n, 0, True) for n in range(9)] + [page(9, 1, True)]
    pages += [page(n, 0, True) for n in range(10, 30)]
    status, calls, paced, slept, out = run_loop(monkeypatch, pages)
    assert len(calls) == 20 and len(out.splitlines()) == 1


def test_each_call_passes_the_checkpoint_of_the_page_before(monkeypatch):
    pages = [page(0, 2, True), page(1, 1, False), page(2, 0, False)]
    status, calls, paced, slept, out = run_loop(monkeypatch, pages)
    assert [c["checkpoint"] for c in calls] == ["ck1.start", "ck1.0", "ck1.1"]
    assert all(c["limit"] == 100 for c in calls)
    assert len(out.splitlines()) == 3 and len(paced) == 2


def test_a_window_that_ran_dry_waits_the_interval_when_following(monkeypatch):
    status, calls, paced, slept, out = run_loop(monkeypatch, [page(0, 0, False)], follow=True)
    assert status == ExitStatus.SUCCESSFUL and len(calls) == 1 and slept == [9.0] and paced == []
