"""Benchmark of the OpsGenie sandbox: start-up with 100,000 alerts, then alert-list throughput.

Seeds N alerts (default 100,000), starts the server, then reads every alert of an updatedAt window
(the whole seeded week) with ``GET /v2/alerts?limit=100&sort=updatedAt&order=asc`` over one
keep-alive ``requests.Session``, the way Fetch Event pages: after each page the window start moves
to the last updatedAt seen and the offset skips the alerts already read at that millisecond.
Three runs: ``(status:open) AND updatedAt >= A AND updatedAt < B``, ``updatedAt >= A AND
updatedAt < B`` and plain offset paging of that window up to the 20,000 cap. Each run checks that
it read every match exactly once.

    python bench/bench_sandbox.py [--short] [--json] [--alerts 100000] [--seed 1]

Client and server share one process (as ``run --sandbox`` does). Prints a table, then one JSON line
with the figures: seconds, requests per second, and the mean server-side ``took`` in ms.
``--short`` (CI) seeds 5,000 alerts; offset paging then stops at the last alert instead of the cap.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DAY_MS, SANDBOX_CLOCK, Report, parse_args

from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.sandbox.timefmt import parse_iso


def checkpoint_run(session: requests.Session, url: str, condition: str, lo: int, hi: int) -> dict:
    """Read every alert matching ``condition`` with lo <= updatedAt < hi, moving the window."""
    start, skip, ids, requests_made, took = lo, 0, set(), 0, 0.0
    started = time.perf_counter()
    while True:
        query = f"updatedAt >= {start} AND updatedAt < {hi}"
        if condition:
            query = f"({condition}) AND {query}"
        params = {"query": query, "limit": 100, "offset": skip, "sort": "updatedAt", "order": "asc"}
        body = session.get(url + "/v2/alerts", params=params, timeout=30).json()
        page = body["data"]
        took += body["took"]
        requests_made += 1
        for alert in page:
            ids.add(alert["id"])
        if len(page) < 100:
            break
        last = parse_iso(page[-1]["updatedAt"])[0]
        same = sum(1 for a in page if parse_iso(a["updatedAt"])[0] == last)
        skip = skip + same if last == start else same
        start = last
    elapsed = time.perf_counter() - started
    expected_query = f"updatedAt >= {lo} AND updatedAt < {hi}" + (
        f" AND ({condition})" if condition else ""
    )
    expected = session.get(
        url + "/v2/alerts/count", params={"query": expected_query}, timeout=30
    ).json()
    assert len(ids) == expected["data"]["count"], (len(ids), expected)
    return _figures(requests_made, len(ids), elapsed, took)


def _figures(requests_made: int, alerts: int, elapsed: float, took: float) -> dict:
    return {
        "requests": requests_made,
        "alerts": alerts,
        "seconds": elapsed,
        "rps": requests_made / elapsed,
        "server_ms": took * 1000 / requests_made,  # mean of the answers' `took`
    }


def offset_run(session: requests.Session, url: str, lo: int, hi: int, total: int) -> dict:
    """Page the window by offset until the 20,000 cap (200 requests of 100) or the last alert."""
    ids, requests_made, took = set(), 0, 0.0
    started = time.perf_counter()
    for offset in range(0, min(20_000, total), 100):
        params = {
            "query": f"updatedAt >= {lo} AND updatedAt < {hi}",
            "limit": 100,
            "offset": offset,
            "sort": "updatedAt",
            "order": "asc",
        }
        body = session.get(url + "/v2/alerts", params=params, timeout=30).json()
        took += body["took"]
        requests_made += 1
        ids.update(a["id"] for a in body["data"])
    elapsed = time.perf_counter() - started
    assert len(ids) == min(requests_made * 100, total), (len(ids), requests_made, total)
    return _figures(requests_made, len(ids), elapsed, took)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints a table and a JSON line on stdout."""

    def extra(parser) -> None:
        parser.add_argument(
            "--alerts", type=int, help="seeded alerts (default 100000; --short: 5000)"
        )
        parser.add_argument("--seed", type=int, default=1)

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    alerts = args.alerts or (5_000 if args.short else 100_000)
    report = Report("sandbox", args.short)

    started = time.perf_counter()
    sandbox = Sandbox(alerts=alerts, seed=args.seed, clock=SANDBOX_CLOCK, record_requests=False)
    seeded = time.perf_counter() - started
    sandbox.start()
    startup = time.perf_counter() - started
    now = sandbox.clock.now_ms()
    lo, hi = now - 8 * DAY_MS, now + 1
    try:
        with requests.Session() as session:
            session.headers["Authorization"] = f"GenieKey {sandbox.api_key}"
            runs = {
                "status_open_window": checkpoint_run(session, sandbox.url, "status:open", lo, hi),
                "window_only": checkpoint_run(session, sandbox.url, "", lo, hi),
                "offset_to_cap": offset_run(session, sandbox.url, lo, hi, len(sandbox.store)),
            }
    finally:
        sandbox.stop()

    report.note(
        f"sandbox benchmark: {alerts:,} alerts (seed {args.seed})\n"
        f"  seeding   {seeded:8.2f} s\n"
        f"  start-up  {startup:8.2f} s (seeding + indexes + server)"
    )
    report.table(
        "alert list, client and server in this process",
        ("run", "requests", "alerts", "seconds", "req/s", "server ms"),
        [
            (name, run["requests"], run["alerts"], run["seconds"], run["rps"], run["server_ms"])
            for name, run in runs.items()
        ],
    )
    report.figures = {
        "alerts": alerts,
        "seed_seconds": round(seeded, 3),
        "startup_seconds": round(startup, 3),
        **{
            f"{name}_{k}": round(v, 2) if isinstance(v, float) else v
            for name, run in runs.items()
            for k, v in run.items()
        },
    }
    return report.emit(args.json)


if __name__ == "__main__":
    sys.exit(main())
