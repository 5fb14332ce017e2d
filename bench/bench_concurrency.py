"""Concurrent backfill: ``fetch --workers`` against latency, a rate limit, kills, and memory.

A sandbox seeded with N alerts (100,000; ``--short``: 3,000) runs in this process with a fixed
clock; every client is an ``opsgenie-integration fetch`` subprocess reading the seeded week as
JSON Lines, each run checked to hold every alert exactly once.

- **latency-bound**: the sandbox answers every request after ``--latency-ms`` (100 ms) and has no
  rate limit. ``--workers 1`` against the default workers (8 when no Search limit is published).
  Floor: ``requests x latency / workers`` (the minimum number of requests: one per 100 alerts plus
  one short page per slice). Goals: default >= 6x faster than one worker, within 1.3x of the floor.
- **rate-bound**: no latency, a Search limit of ``--rate`` (10) requests per second, published at
  ``GET /v2/request-limits/``. Floor: ``requests / limit``. Goals: within 1.15x of the floor,
  at most 3 answers of 429 in the run.
- **exactness**: ``--workers`` 1, 4 and 16, with 5xx (10 %) and a tight rate limit: every alert
  exactly once; **kill and resume**: 8 workers and a checkpoint file, stopped with SIGTERM
  ``--kill-after`` seconds after its first page (the 3rd time with SIGKILL) and resumed until it
  finishes: every
  alert at least once, and exactly once across the SIGTERM stops (a SIGKILL may repeat the pages
  in flight, never lose one).
- **memory**: peak RSS of ``--workers 8`` against ``--workers 1`` (no latency). Goal: <= 1.5x.

    python bench/bench_concurrency.py [--short] [--json] [--alerts N] [--latency-ms MS]
                                      [--rate R] [--skip NAME]...
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DAY_MS,
    Report,
    child_env,
    console_script,
    fast_tempdir,
    iso_ms,
    parse_args,
    ratio,
    run_child,
    start_sandbox,
    write_connection,
)

PAGE = 100
SPEEDUP_GOAL = 6.0
LATENCY_FLOOR_GOAL = 1.3
RATE_FLOOR_GOAL = 1.15
MAX_429 = 3
MEMORY_GOAL = 1.5
PARTS = ("latency", "rate", "exactness", "kill", "memory")


def _arguments(parser: Any) -> None:
    parser.add_argument("--alerts", type=int, help="alerts seeded (default 100000; --short: 3000)")
    parser.add_argument(
        "--latency-ms", type=float, default=100.0, help="latency of the latency-bound runs"
    )
    parser.add_argument(
        "--rate", type=float, default=10.0, help="Search limit of the rate-bound run, per second"
    )
    parser.add_argument(
        "--kill-after", type=float, help="seconds between stops of the kill test (default 1.5)"
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=PARTS, help="leave a part out"
    )


class StatusLog:
    """The sandbox's ``on_request`` hook: keeps the alert-list requests, to count their answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.infos: list[Any] = []
        self.total = 0

    def __call__(self, info: Any) -> None:
        with self._lock:
            self.total += 1
            if info.path == "/v2/alerts":
                self.infos.append(info)

    def take(self) -> tuple[int, Counter]:
        """(requests received, Counter of alert-list answer statuses) since the last take."""
        with self._lock:
            infos, self.infos = self.infos, []
            total, self.total = self.total, 0
        return total, Counter(i.status for i in infos)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv, _arguments)
    alerts = args.alerts or (3_000 if args.short else 100_000)
    kill_after = args.kill_after or (0.3 if args.short else 1.5)
    report = Report("concurrency", args.short)
    script = console_script()
    folder = fast_tempdir()
    sandbox = start_sandbox(alerts)
    log = StatusLog()
    sandbox.on_request = log
    now = sandbox.clock.now_ms()
    start, end = now - 8 * DAY_MS, now + 1000
    expected_ids = {a.id for a in sandbox.store.alert_objects() if start <= a.updatedAt < end}
    expected = len(expected_ids)
    minimum = expected // PAGE + 1
    connection = write_connection(sandbox, folder)
    output = Path(folder) / "events.jsonl"
    figures: dict[str, Any] = {"alerts": expected, "minimum_requests": minimum}

    def fetch(workers: int | None, *extra: str, check: bool = True) -> dict[str, Any]:
        command = [script, "fetch", "--connection", connection, "--quiet"]
        command += ["--start", iso_ms(start), "--end", iso_ms(end)]
        if workers is not None:
            command += ["--workers", str(workers)]
        command += list(extra)
        log.take()
        with open(output, "w", encoding="utf-8") as out:
            child = run_child(command, stdout=out)
        received, statuses = log.take()
        run = {
            "seconds": child.seconds,
            "cpu_seconds": child.cpu_seconds,
            "peak_rss_mib": round(child.max_rss_kib / 1024, 1),
            "requests": received,
            "alert_requests": sum(statuses.values()),
            "answers_429": statuses.get(429, 0),
            "returncode": child.returncode,
        }
        ids = Counter(_ids(output))
        run["events"], run["unique"] = sum(ids.values()), len(ids)
        if check and (
            child.returncode != 0 or run["unique"] != expected or run["events"] != expected
        ):
            report.problem(
                f"fetch --workers {workers} {' '.join(extra)}: exit {child.returncode}, "
                f"{run['events']} events ({run['unique']} unique), expected {expected}: "
                f"{child.stderr[-400:]}"
            )
        return run

    try:
        fetch(1)  # warm-up: the sandbox renders and caches every alert once
        if "latency" not in args.skip:
            _latency(report, sandbox, fetch, args.latency_ms, minimum, figures)
        if "rate" not in args.skip:
            _rate(report, sandbox, fetch, args.rate, minimum, figures)
        if "exactness" not in args.skip:
            _exactness(report, sandbox, fetch, figures)
        if "kill" not in args.skip:
            _kill(
                report,
                sandbox,
                script,
                connection,
                folder,
                start,
                end,
                expected_ids,
                kill_after,
                args.short,
                figures,
            )
        if "memory" not in args.skip:
            _memory(report, fetch, figures)
    finally:
        sandbox.stop()
        shutil.rmtree(folder, ignore_errors=True)
    report.figures = figures
    return report.emit(args.json)


def _ids(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line)["Unique Event Key"] for line in lines if line.strip()]


def _latency(report, sandbox, fetch, latency_ms, minimum, figures) -> None:
    sandbox.latency_ms = latency_ms
    try:
        one = fetch(1)
        default = fetch(None)
    finally:
        sandbox.latency_ms = None
    workers = default.get("workers") or 8
    speedup = ratio(one["seconds"], default["seconds"])
    floor = default["alert_requests"] * latency_ms / 1000 / workers
    floor_min = minimum * latency_ms / 1000 / workers
    vs_floor = ratio(default["seconds"], floor)
    report.table(
        f"latency-bound: {latency_ms:g} ms a request, no rate limit",
        (
            "workers",
            "wall s",
            "events/s",
            "alert requests",
            "x min",
            "client CPU s",
            "peak RSS MiB",
        ),
        [
            (
                label,
                r["seconds"],
                r["events"] / r["seconds"],
                r["alert_requests"],
                r["alert_requests"] / minimum,
                r["cpu_seconds"],
                r["peak_rss_mib"],
            )
            for label, r in (("1", one), ("default (8)", default))
        ],
    )
    report.target(
        "latency-bound: default workers vs 1",
        f">= {SPEEDUP_GOAL:g}x faster",
        speedup,
        speedup >= SPEEDUP_GOAL,
        f"{one['seconds']:.1f} s vs {default['seconds']:.1f} s",
    )
    report.target(
        "latency-bound: vs requests x latency / workers",
        f"<= {LATENCY_FLOOR_GOAL:g}x",
        vs_floor,
        vs_floor <= LATENCY_FLOOR_GOAL,
        f"{default['seconds']:.2f} s vs {floor:.2f} s ({default['alert_requests']} requests; "
        f"{floor_min:.2f} s with the minimum {minimum})",
    )
    figures["latency_bound"] = {
        "latency_ms": latency_ms,
        "workers_1": one,
        "workers_default": default,
        "speedup": round(speedup, 3),
        "floor_seconds": round(floor, 3),
        "vs_floor": round(vs_floor, 3),
    }


def _rate(report, sandbox, fetch, rate, minimum, figures) -> None:
    sandbox.rate_limits.set("search", per_second=rate, period_seconds=1)
    time.sleep(1.0)  # the sandbox's bucket full again
    try:
        run = fetch(None)
    finally:
        sandbox.rate_limits.set("search")
    floor = run["alert_requests"] / rate
    vs_floor = ratio(run["seconds"], floor)
    report.table(
        f"rate-bound: Search limit {rate:g}/s published, no latency",
        ("wall s", "events/s", "alert requests", "x min", "429 answers", "client CPU s"),
        [
            (
                run["seconds"],
                run["events"] / run["seconds"],
                run["alert_requests"],
                run["alert_requests"] / minimum,
                run["answers_429"],
                run["cpu_seconds"],
            )
        ],
    )
    report.target(
        "rate-bound: vs requests / limit",
        f"<= {RATE_FLOOR_GOAL:g}x",
        vs_floor,
        vs_floor <= RATE_FLOOR_GOAL,
        f"{run['seconds']:.1f} s vs {floor:.1f} s ({run['alert_requests']} requests)",
    )
    report.target(
        "rate-bound: 429 answers",
        f"<= {MAX_429}",
        run["answers_429"],
        run["answers_429"] <= MAX_429,
        "",
    )
    figures["rate_bound"] = {
        "rate": rate,
        "run": run,
        "floor_seconds": round(floor, 3),
        "vs_floor": round(vs_floor, 3),
    }


def _exactness(report, sandbox, fetch, figures) -> None:
    rows = []
    results = {}
    for workers in (1, 4, 16):
        fault = sandbox.faults.add("html_5xx", paths="/v2/alerts", probability=0.1, status=503)
        sandbox.rate_limits.set("search", per_second=200, period_seconds=1)
        try:
            run = fetch(workers)
        finally:
            sandbox.faults.remove(fault)
            sandbox.rate_limits.set("search")
        results[workers] = run
        rows.append(
            (
                workers,
                run["events"],
                run["unique"],
                run["alert_requests"],
                run["answers_429"],
                run["seconds"],
            )
        )
    report.table(
        "exactness: 10 % of alert-list answers are HTML 503, Search limit 200/s",
        ("workers", "events", "unique", "alert requests", "429 answers", "wall s"),
        rows,
    )
    figures["exactness"] = results


def _kill(
    report,
    sandbox,
    script,
    connection,
    folder,
    start,
    end,
    expected_ids,
    kill_after,
    short,
    figures,
) -> None:
    checkpoint = Path(folder) / "kill-checkpoint.txt"
    checkpoint.unlink(missing_ok=True)
    sandbox.latency_ms = 20
    got: Counter = Counter()
    stops = {"SIGTERM": 0, "SIGKILL": 0}
    runs = 0
    exit_codes = []
    try:
        while runs < 200:
            runs += 1
            part = Path(folder) / f"kill-{runs}.jsonl"
            command = [
                script,
                "fetch",
                "--connection",
                connection,
                "--quiet",
                "--workers",
                "8",
                "--start",
                iso_ms(start),
                "--end",
                iso_ms(end),
                "--checkpoint-file",
                str(checkpoint),
            ]
            with open(part, "w", encoding="utf-8") as out:
                process = subprocess.Popen(
                    command,
                    stdout=out,
                    stderr=subprocess.DEVNULL,
                    env=child_env(),
                    start_new_session=True,
                )
                # stop it once it has written pages for kill_after seconds (start-up not counted)
                deadline = time.monotonic() + 120
                while process.poll() is None and time.monotonic() < deadline:
                    if part.stat().st_size:
                        break
                    time.sleep(0.02)
                try:
                    process.wait(kill_after)
                except subprocess.TimeoutExpired:
                    sig = signal.SIGKILL if runs == 3 else signal.SIGTERM
                    stops[sig.name] += 1
                    os.kill(process.pid, sig)
                    process.wait(60)
            exit_codes.append(process.returncode)
            got.update(_ids(part))
            if process.returncode == 0:
                break
    finally:
        sandbox.latency_ms = None
    missing = expected_ids - set(got)
    repeated = sum(n - 1 for n in got.values() if n > 1)
    if missing or set(got) - expected_ids or exit_codes[-1] != 0:
        report.problem(f"kill and resume: {len(missing)} alerts missing, exit codes {exit_codes}")
    report.table(
        "kill and resume: 8 workers, 20 ms latency, checkpoint file, "
        f"a stop every {kill_after:g} s (the 3rd one SIGKILL)",
        ("runs", "SIGTERM stops", "SIGKILL stops", "alerts", "missing", "repeated"),
        [(runs, stops["SIGTERM"], stops["SIGKILL"], len(set(got)), len(missing), repeated)],
    )
    figures["kill_and_resume"] = {
        "runs": runs,
        "stops": stops,
        "missing": len(missing),
        "repeated": repeated,
        "exit_codes": exit_codes,
    }


def _memory(report, fetch, figures) -> None:
    one = fetch(1)
    eight = fetch(8)
    growth = ratio(eight["peak_rss_mib"], one["peak_rss_mib"])
    report.table(
        "memory: peak RSS, no latency",
        ("workers", "peak RSS MiB", "wall s", "client CPU s"),
        [
            (w, r["peak_rss_mib"], r["seconds"], r["cpu_seconds"])
            for w, r in (("1", one), ("8", eight))
        ],
    )
    report.target(
        "memory: 8 workers vs 1",
        f"<= {MEMORY_GOAL:g}x peak RSS",
        growth,
        growth <= MEMORY_GOAL,
        f"{eight['peak_rss_mib']} vs {one['peak_rss_mib']} MiB",
    )
    figures["memory"] = {"workers_1": one, "workers_8": eight, "ratio": round(growth, 3)}


if __name__ == "__main__":
    sys.exit(main())
