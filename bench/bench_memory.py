"""Memory: peak resident set of a ``fetch`` run of 10,000 and of 100,000 alerts; it must be flat.

Two sandboxes run in this process, seeded with the small and the large count (10,000 and
100,000; ``--short``: 2,000 and 10,000), fixed clock. Each round runs, in turn, as subprocesses
``opsgenie-integration fetch --connection FILE --start A --end B --quiet`` against each, JSON Lines
to /dev/null. The child's peak RSS is its own ``ru_maxrss`` from ``os.wait4`` (forked from a small
launcher, so the benchmark's own memory does not leak into the figure). For scale: the peak RSS
of ``opsgenie-integration run "Get Schedules"`` (start-up alone) and of ``python -c "import
requests"``.

    python bench/bench_memory.py [--short] [--json] [--rounds R] [--variant DIR]...

``--variant DIR`` also measures the fetch runs with DIR first on PYTHONPATH (a scratch copy of the
project with a proposed change).

Target (issue 6): flat, read as: the large run's peak within 10% of the small run's.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DAY_MS,
    Report,
    console_script,
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

TARGET = 1.10


def main(argv: Sequence[str] | None = None) -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--rounds", type=int, help="interleaved rounds (default 2)")

    args = parse_args(__doc__.splitlines()[0], argv, extra, variants=True)
    sizes = (2_000, 10_000) if args.short else (10_000, 100_000)
    rounds = args.rounds or 2
    report = Report("memory", args.short)
    script = console_script()
    sandboxes = {}
    runs: dict[str, Any] = {}
    folders: list[str] = []
    try:
        for size in sizes:
            sandbox = start_sandbox(size)
            folder = tempfile.mkdtemp(prefix=f"opsgenie-bench-memory-{size}-")
            folders.append(folder)
            now = sandbox.clock.now_ms()
            argv_fetch = [
                script,
                "fetch",
                "--connection",
                write_connection(sandbox, folder),
                "--start",
                iso_ms(now - 8 * DAY_MS),
                "--end",
                iso_ms(now + 1000),
                "--quiet",
            ]
            sandboxes[size] = (sandbox, argv_fetch)
        small_sandbox, _ = sandboxes[sizes[0]]
        folder = tempfile.mkdtemp(prefix="opsgenie-bench-memory-")
        folders.append(folder)
        startup = [
            script,
            "run",
            "Get Schedules",
            "--connection",
            write_connection(small_sandbox, folder),
        ]
        floor = [sys.executable, "-c", "import requests"]
        contenders = {
            f"fetch {size:,} alerts": (lambda a=argv_fetch: run_child(a))
            for size, (_, argv_fetch) in sandboxes.items()
        }
        for variant in args.variant:
            for size, (_, argv_fetch) in sandboxes.items():
                contenders[f"{variant_name(variant)}: fetch {size:,} alerts"] = (
                    lambda a=argv_fetch, f=variant: run_child(a, pythonpath=f)
                )
        contenders['run "Get Schedules" (start-up)'] = lambda: run_child(startup)
        contenders['python -c "import requests"'] = lambda: run_child(floor)
        runs = interleave(contenders, rounds)
    finally:
        for sandbox, _ in sandboxes.values():
            sandbox.stop()
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    peaks: dict[str, float] = {}
    rows: list[Any] = []
    for name, children in runs.items():
        for child in children:
            if child.returncode != 0:
                report.problem(f"{name} exited {child.returncode}: {child.stderr.strip()[-300:]}")
        peaks[name] = median(c.max_rss_kib for c in children) / 1024
        rows.append(
            (
                name,
                peaks[name],
                median(c.seconds for c in children),
                median(c.cpu_seconds for c in children),
            )
        )
    for size, (sandbox, _) in sandboxes.items():
        expected = size // 100 + 1
        received = sandbox.counter.take() / rounds / (1 + len(args.variant))
        if received < expected:
            report.problem(
                f"fetch {size:,} alerts: {received:.0f} requests per run, expected at least {expected}"
            )
    small, large = (peaks[f"fetch {size:,} alerts"] for size in sizes)
    report.table(
        f"peak RSS, median of {rounds} interleaved rounds (subprocesses)",
        ("command", "peak RSS MiB", "wall s", "CPU s"),
        rows,
    )
    measured = ratio(large, small)
    report.note(
        f"growth: {large - small:+.1f} MiB for {sizes[1] - sizes[0]:,} more alerts "
        f"({(large - small) * 1024 * 1024 / (sizes[1] - sizes[0]):+.0f} bytes per alert)"
    )
    report.target(
        f"peak RSS {sizes[1]:,} vs {sizes[0]:,} alerts",
        f"<= {TARGET}x (flat)",
        measured,
        measured <= TARGET,
        f"{large:.1f} vs {small:.1f} MiB",
    )
    for variant in args.variant:
        name = variant_name(variant)
        v_small, v_large = (peaks[f"{name}: fetch {size:,} alerts"] for size in sizes)
        report.target(
            f"{name}: peak RSS {sizes[1]:,} vs {sizes[0]:,}",
            f"<= {TARGET}x (flat)",
            ratio(v_large, v_small),
            ratio(v_large, v_small) <= TARGET,
            f"{v_large:.1f} vs {v_small:.1f} MiB; variant {variant}",
        )
    report.figures = {
        "sizes": list(sizes),
        "rounds": rounds,
        "peak_rss_mib": {k: round(v, 1) for k, v in peaks.items()},
        "ratio_large_vs_small": round(measured, 3),
    }
    json.dumps(report.figures)  # fail here, not after the run, if a figure is not JSON
    return report.emit(args.json)


if __name__ == "__main__":
    sys.exit(main())
