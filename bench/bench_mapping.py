"""Field mapping: the default event source mapping against a hand-written dict comprehension.

N alert objects (100,000; ``--short``: 20,000) are taken from a seeded sandbox store (no HTTP,
no server), in the list shape ``GET /v2/alerts`` serves them, decoded from JSON as a client gets
them. Each round maps all of them, in turn, with:

- ``map_answer``: ``opsgenie_integration.mapping.default_field_mapping().map_answer({"data": alerts})``,
  what Fetch Event calls once per page;
- ``map_event loop``: ``[mapping.map_event(a) for a in alerts]``;
- ``hand-written``: ``[{"Unique Event Key": a.get("id"), ... nine fields ...} for a in alerts]``,
  the fields of ``field_mappings/default_event_source.yaml``;
- for scale, ``jsonpath-ng find``: each field through jsonpath-ng's ``find`` (what a path that is
  not simple costs), on the first 2,000 alerts only.

Figures: events per second (median of the rounds) and the ratio to the hand-written comprehension;
also the time to load and compile the default mapping once.

    python bench/bench_mapping.py [--short] [--json] [--alerts N] [--rounds R]

Target (issue 6): map_answer >= 0.3x the hand-written comprehension.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SANDBOX_CLOCK, Report, interleave, median, parse_args, ratio

TARGET = 0.3
JSONPATH_SAMPLE = 2_000


def hand_written(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The nine fields of the default event source, by hand (a missing field gives None)."""
    return [
        {
            "Unique Event Key": a.get("id"),
            "Original event ID": a.get("tinyId"),
            "Event name": a.get("alias"),
            "Status": a.get("status"),
            "Message": a.get("message"),
            "Aggregated / Correlated Event count": a.get("count"),
            "Priority": a.get("priority"),
            "Start Time": a.get("createdAt"),
            "Acknowledged": a.get("acknowledged"),
        }
        for a in alerts
    ]


def alerts_from_sandbox(count: int) -> list[dict[str, Any]]:
    """``count`` seeded alerts as the alert list serves them, decoded afresh from JSON."""
    from opsgenie_integration.sandbox import Sandbox

    sandbox = Sandbox(
        alerts=count, seed=1, clock=SANDBOX_CLOCK, record_requests=False
    )  # not started
    return json.loads(json.dumps([alert.render() for alert in sandbox.store.alert_objects()]))


def timed(function: Callable[[], Any]) -> Callable[[], float]:
    def run() -> float:
        gc.collect()
        started = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - started
        del result
        return seconds

    return run


def main(argv: Sequence[str] | None = None) -> int:
    def extra(parser: Any) -> None:
        parser.add_argument(
            "--alerts", type=int, help="alerts mapped per round (default 100000; --short: 20000)"
        )
        parser.add_argument("--rounds", type=int, help="interleaved rounds (default 9; --short: 5)")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    count = args.alerts or (20_000 if args.short else 100_000)
    rounds = args.rounds or (5 if args.short else 9)
    report = Report("mapping", args.short)

    from opsgenie_integration import mapping as mapping_module

    started = time.perf_counter()
    mapping = mapping_module.default_field_mapping()
    load_ms = (time.perf_counter() - started) * 1000
    alerts = alerts_from_sandbox(count)
    answer = {"data": alerts}
    sample = alerts[:JSONPATH_SAMPLE]

    from jsonpath_ng.ext import parse as parse_jsonpath

    paths = [
        (name, parse_jsonpath("$." + key))
        for name, key in (
            ("Unique Event Key", "id"),
            ("Original event ID", "tinyId"),
            ("Event name", "alias"),
            ("Status", "status"),
            ("Message", "message"),
            ("Aggregated / Correlated Event count", "count"),
            ("Priority", "priority"),
            ("Start Time", "createdAt"),
            ("Acknowledged", "acknowledged"),
        )
    ]

    def jsonpath_find() -> list[dict[str, Any]]:
        out = []
        for alert in sample:
            event = {}
            for name, path in paths:
                found = [m.value for m in path.find(alert)]
                event[name] = found[0] if len(found) == 1 else (found or None)
            out.append(event)
        return out

    map_event = mapping.map_event
    # the same events, or the comparison means nothing
    if mapping.map_answer(answer) != hand_written(alerts) or jsonpath_find() != hand_written(
        sample
    ):
        report.problem(
            "the default mapping and the hand-written comprehension give different events"
        )
    contenders = {
        "map_answer": timed(lambda: mapping.map_answer(answer)),
        "map_event loop": timed(lambda: [map_event(a) for a in alerts]),
        "hand-written comprehension": timed(lambda: hand_written(alerts)),
        "jsonpath-ng find (2,000 alerts)": timed(jsonpath_find),
    }
    results = interleave(contenders, rounds)
    sizes = {name: (JSONPATH_SAMPLE if name.startswith("jsonpath") else count) for name in results}
    rate = {name: sizes[name] / median(runs) for name, runs in results.items()}
    hand = rate["hand-written comprehension"]
    report.table(
        f"{count:,} alerts, median of {rounds} interleaved rounds",
        ("mapping", "ms per round", "events/s", "x hand-written"),
        [
            (name, median(runs) * 1000, rate[name], ratio(rate[name], hand))
            for name, runs in results.items()
        ],
    )
    report.note(f"loading and compiling the default mapping once: {load_ms:.1f} ms")
    measured = ratio(rate["map_answer"], hand)
    report.target(
        "mapping vs hand-written",
        f">= {TARGET}x events/s",
        measured,
        measured >= TARGET,
        f"{rate['map_answer']:,.0f} vs {hand:,.0f} events/s",
    )
    report.figures = {
        "alerts": count,
        "rounds": rounds,
        "events_per_second": {k: round(v) for k, v in rate.items()},
        "ratio_vs_hand_written": {k: round(ratio(v, hand), 3) for k, v in rate.items()},
        "load_ms": round(load_ms, 2),
    }
    return report.emit(args.json)


if __name__ == "__main__":
    sys.exit(main())
