"""Fetch throughput: N alerts through our ``fetch`` command vs a bare requests loop and the SDK.

A sandbox seeded with N alerts (100,000; ``--short``: 3,000) runs in this process with a fixed
clock. Each round runs, in turn, as subprocesses reading every alert of the same updatedAt window
(the seeded week):

- ``ours``: ``opsgenie-integration fetch --connection FILE --start A --end B`` writing JSON Lines
  to a file (in /dev/shm where there is one); the events are counted and checked unique;
- ``ours, --checkpoint-file``: the same, also writing the checkpoint file (on disk, atomically,
  fsynced) after every page, as a resumable backfill does;
- ``ours, --workers 1``: one cursor, no concurrency (``ours`` uses the default workers: 8, as
  the sandbox publishes no Search limit);
- ``bare requests loop``: ``bench/fetch_clients.py bare``, keyset paging with one requests
  Session and no validation, mapping or output: the practical floor;
- ``opsgenie-sdk``: ``bench/fetch_clients.py sdk``, the official SDK's ``list_alerts`` with the
  same paging, when ``opsgenie_sdk`` imports (``--sdk-python`` may name another virtualenv's
  python that has it).

Figures (medians of the rounds): wall time of the process (start-up included), events per second,
the requests the sandbox received against the minimum (one per 100 alerts, plus the last short
page), the loop's own time (from the first request to the last answer, as each reports it), the
client's CPU time and peak RSS, and the sandbox's CPU time while serving (this process).

    python bench/bench_fetch.py [--short] [--json] [--alerts N] [--rounds R] [--sdk-python PATH]
                                [--no-sdk] [--variant DIR]...

``--variant DIR`` also runs ``fetch`` with DIR first on PYTHONPATH (a scratch copy of the project
with a proposed change), interleaved with the others: the effect of a change, measured in one run.

Targets (issue 6): ours >= 0.8x the bare loop's events/s, and ahead of the SDK.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_DIR,
    DAY_MS,
    Report,
    console_script,
    fast_tempdir,
    interleave,
    iso_ms,
    median,
    parse_args,
    ratio,
    run_child,
    start_sandbox,
    variant_name,
    write_connection,
)

TARGET_VS_BARE = 0.8
PAGE = 100


def _arguments(parser: Any) -> None:
    parser.add_argument(
        "--alerts", type=int, help="alerts seeded and fetched (default 100000; --short: 3000)"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3; --short: 2)")
    parser.add_argument(
        "--sdk-python",
        metavar="PATH",
        help="a python that has opsgenie-sdk (default: this one, if it has it)",
    )
    parser.add_argument(
        "--no-sdk", action="store_true", help="leave the SDK out (quicker experiments)"
    )


def _sdk_python(given: str | None) -> str | None:
    if given:
        return given
    return sys.executable if importlib.util.find_spec("opsgenie_sdk") is not None else None


def _server_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv, _arguments, variants=True)
    alerts = args.alerts or (3_000 if args.short else 100_000)
    rounds = args.rounds or (2 if args.short else 3)
    report = Report("fetch", args.short)
    sdk_python = None if args.no_sdk else _sdk_python(args.sdk_python)
    script = console_script()
    folder = fast_tempdir()
    sandbox = start_sandbox(alerts)
    now = sandbox.clock.now_ms()
    start, end = now - 8 * DAY_MS, now + 1000
    expected = sum(1 for a in sandbox.store.alert_objects() if start <= a.updatedAt < end)
    minimum = expected // PAGE + 1  # full pages, then one short (or empty) page that ends the run
    connection = write_connection(sandbox, folder)
    output = Path(folder) / "events.jsonl"
    disk_folder = tempfile.mkdtemp(prefix="opsgenie-bench-fetch-")
    checkpoint_path = Path(disk_folder) / "checkpoint.txt"
    clients = str(BENCH_DIR / "fetch_clients.py")
    window = [str(start), str(end)]

    def ours(
        pythonpath: str | None = None, checkpoint_file: bool = False, workers: int | None = None
    ) -> dict[str, Any]:
        command = [script, "fetch", "--connection", connection]
        command += ["--start", iso_ms(start), "--end", iso_ms(end)]
        if workers is not None:
            command += ["--workers", str(workers)]
        if checkpoint_file:  # on disk (not /dev/shm): written and fsynced after every page
            checkpoint_path.unlink(missing_ok=True)  # else the run resumes at the end
            command += ["--checkpoint-file", str(checkpoint_path)]
        server_cpu = _server_cpu()
        with open(output, "w", encoding="utf-8") as out:
            child = run_child(command, stdout=out, pythonpath=pythonpath)
        figures = _figures(child, sandbox.counter.take(), _server_cpu() - server_cpu)
        summary = [line for line in child.stderr.splitlines() if line.startswith("fetch: done ")]
        figures["loop_seconds"] = (
            json.loads(summary[-1][len("fetch: done ") :])["seconds"] if summary else None
        )
        keys = set()
        events = 0
        with open(output, encoding="utf-8") as lines:
            for line in lines:
                events += 1
                keys.add(json.loads(line)["Unique Event Key"])
        figures.update(events=events, unique=len(keys))
        return figures

    def baseline(kind: str, python: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            server_cpu = _server_cpu()
            child = run_child(
                [python, clients, kind, sandbox.url, sandbox.api_key, *window], capture_stdout=True
            )
            figures = _figures(child, sandbox.counter.take(), _server_cpu() - server_cpu)
            try:
                said = json.loads(child.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                said = {}
            figures.update(
                events=said.get("events"),
                unique=said.get("unique"),
                loop_seconds=said.get("seconds"),
            )
            return figures

        return run

    contenders: dict[str, Callable[[], dict[str, Any]]] = {
        "ours (fetch command)": ours,
        "bare requests loop": baseline("bare", sys.executable),
        "ours, --checkpoint-file": lambda: ours(checkpoint_file=True),
        "ours, --workers 1": lambda: ours(workers=1),
    }
    if sdk_python:
        contenders["opsgenie-sdk"] = baseline("sdk", sdk_python)
    for variant in args.variant:
        contenders[variant_name(variant)] = lambda f=variant: ours(f)
    try:
        baseline("bare", sys.executable)()  # warm-up: the sandbox renders and caches every alert
        results = interleave(contenders, rounds)
    finally:
        sandbox.stop()
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(disk_folder, ignore_errors=True)

    rows = []
    summary: dict[str, dict[str, Any]] = {}
    for name, runs in results.items():
        for run in runs:
            if run["returncode"] != 0:
                report.problem(f"{name} exited {run['returncode']}: {run['stderr'][-300:]}")
            elif run["events"] != expected or run["unique"] != expected:
                report.problem(
                    f"{name} read {run['events']} events ({run['unique']} unique), expected {expected}"
                )
        wall = median(r["seconds"] for r in runs)
        loop = [r["loop_seconds"] for r in runs if r["loop_seconds"]]
        loop_seconds = median(loop) if loop else None
        requests_made = int(median(r["requests"] for r in runs))
        summary[name] = {
            "wall_seconds": round(wall, 3),
            "events_per_second": round(expected / wall, 1),
            "loop_seconds": round(loop_seconds, 3) if loop_seconds else None,
            "loop_events_per_second": round(expected / loop_seconds, 1) if loop_seconds else None,
            "requests": requests_made,
            "requests_vs_minimum": round(requests_made / minimum, 3),
            "client_cpu_seconds": round(median(r["cpu_seconds"] for r in runs), 3),
            "client_peak_rss_mib": round(median(r["max_rss_kib"] for r in runs) / 1024, 1),
            "server_cpu_seconds": round(median(r["server_cpu"] for r in runs), 3),
        }
        s = summary[name]
        rows.append(
            (
                name,
                wall,
                s["events_per_second"],
                loop_seconds,
                s["loop_events_per_second"],
                requests_made,
                s["requests_vs_minimum"],
                s["client_cpu_seconds"],
                s["client_peak_rss_mib"],
                s["server_cpu_seconds"],
            )
        )
    report.table(
        f"{expected:,} alerts, median of {rounds} interleaved rounds (minimum {minimum:,} requests)",
        (
            "client",
            "wall s",
            "events/s",
            "loop s",
            "loop ev/s",
            "requests",
            "x min",
            "client CPU s",
            "peak RSS MiB",
            "server CPU s",
        ),
        rows,
    )
    ours_s, bare_s = summary["ours (fetch command)"], summary["bare requests loop"]
    vs_bare = ratio(ours_s["events_per_second"], bare_s["events_per_second"])
    ratios = {
        "ours_vs_bare_events_per_second": round(vs_bare, 3),
        "ours_vs_bare_loop_events_per_second": round(
            ratio(ours_s["loop_events_per_second"] or 0, bare_s["loop_events_per_second"] or 1), 3
        ),
        "ours_vs_bare_client_cpu": round(
            ratio(ours_s["client_cpu_seconds"], bare_s["client_cpu_seconds"]), 3
        ),
    }
    report.target(
        "fetch vs bare requests loop",
        f">= {TARGET_VS_BARE}x events/s",
        vs_bare,
        vs_bare >= TARGET_VS_BARE,
        f"{ours_s['events_per_second']:,.0f} vs {bare_s['events_per_second']:,.0f} events/s (wall)",
    )
    one_s = summary["ours, --workers 1"]
    one_vs_bare = ratio(one_s["events_per_second"], bare_s["events_per_second"])
    ratios["ours_workers_1_vs_bare_events_per_second"] = round(one_vs_bare, 3)
    report.target(
        "fetch --workers 1 vs bare requests loop",
        f">= {TARGET_VS_BARE}x events/s",
        one_vs_bare,
        one_vs_bare >= TARGET_VS_BARE,
        f"{one_s['events_per_second']:,.0f} vs {bare_s['events_per_second']:,.0f} events/s (wall)",
    )
    if "opsgenie-sdk" in summary:
        sdk_s = summary["opsgenie-sdk"]
        vs_sdk = ratio(ours_s["events_per_second"], sdk_s["events_per_second"])
        ratios["ours_vs_sdk_events_per_second"] = round(vs_sdk, 3)
        report.target(
            "fetch vs opsgenie-sdk",
            "> 1x events/s",
            vs_sdk,
            vs_sdk > 1,
            f"{ours_s['events_per_second']:,.0f} vs {sdk_s['events_per_second']:,.0f} events/s (wall)",
        )
    for variant in args.variant:
        name = variant_name(variant)
        variant_vs_bare = ratio(summary[name]["events_per_second"], bare_s["events_per_second"])
        ratios[f"{name}_vs_bare_events_per_second"] = round(variant_vs_bare, 3)
        report.target(
            f"{name} vs bare loop",
            f">= {TARGET_VS_BARE}x events/s",
            variant_vs_bare,
            variant_vs_bare >= TARGET_VS_BARE,
            f"variant {variant} (not the installed project)",
        )
    if "opsgenie-sdk" not in summary:
        report.note(
            "opsgenie-sdk: not measured ("
            + (
                "--no-sdk"
                if args.no_sdk
                else "opsgenie_sdk does not import here; pip install opsgenie-sdk, or give --sdk-python PATH"
            )
            + ")"
        )
    report.note("ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    report.figures = {
        "alerts": expected,
        "rounds": rounds,
        "minimum_requests": minimum,
        "clients": summary,
        **ratios,
    }
    return report.emit(args.json)


def _figures(child: Any, requests_received: int, server_cpu: float) -> dict[str, Any]:
    return {
        "returncode": child.returncode,
        "seconds": child.seconds,
        "cpu_seconds": child.cpu_seconds,
        "max_rss_kib": child.max_rss_kib,
        "stderr": child.stderr,
        "requests": requests_received,
        "server_cpu": server_cpu,
    }


if __name__ == "__main__":
    sys.exit(main())
