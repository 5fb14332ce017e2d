"""Start-up: ``opsgenie-integration run "Get Schedules"`` against the floor of a bare requests GET.

A sandbox runs in this process (on loopback, already started). Each round runs, in turn, as
subprocesses:

- ``ours``: the installed console script ``opsgenie-integration run "Get Schedules" --connection
  FILE`` (the one next to ``sys.executable``);
- ``floor``: ``python -c`` importing requests and making the same ``GET /v2/schedules`` with the
  same ``Authorization: GenieKey ...`` header;
- two references that explain the floor: ``python -c "import requests"`` and ``python -c pass``;
- ``ours, PYTHONDONTWRITEBYTECODE=1``: ours again where the project's modules have no bytecode
  cache (an editable install in an environment that sets that variable, as some dev machines and
  CI do): every start compiles them. The other commands run with bytecode cached (under
  ``PYTHONPYCACHEPREFIX``, outside the work tree), as after ``pip install``.

Figures: median wall time of each (N rounds, interleaved) and ours / floor. Then ``python -X
importtime`` of our CLI doing the same command (and of the floor): the top ten imports by
cumulative time, and self time summed per top-level package.

    python bench/bench_startup.py [--short] [--json] [--rounds N] [--variant DIR]...

``--variant DIR`` also runs ours with DIR first on PYTHONPATH (a scratch copy of the project with
a proposed change), interleaved with the others.

Target (issue 6): ours <= 1.3x the floor.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ChildRun,
    Report,
    console_script,
    interleave,
    median,
    parse_args,
    ratio,
    run_child,
    start_sandbox,
    variant_name,
    write_connection,
)

TARGET = 1.3
FLOOR_CODE = (
    "import sys, requests\n"
    "r = requests.get(sys.argv[1] + '/v2/schedules', headers={'Authorization': 'GenieKey ' + sys.argv[2]}, timeout=30)\n"
    "r.raise_for_status()\n"
    "sys.stdout.write(r.text)\n"
)
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def parse_importtime(stderr: str) -> list[tuple[str, int, float, float]]:
    """``[(module, depth, self ms, cumulative ms)]`` from ``-X importtime`` output."""
    rows = []
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            rows.append(
                (
                    name,
                    max(0, (len(indent) - 1) // 2),
                    int(self_us) / 1000,
                    int(cumulative_us) / 1000,
                )
            )
    return rows


def importtime_runs(argv: Sequence[str], runs: int) -> dict[str, tuple[int, float, float]]:
    """Median self / cumulative ms per module over ``runs`` runs: ``{module: (depth, self, cum)}``."""
    samples: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for _ in range(runs):
        child = run_child(argv)
        for name, depth, self_ms, cumulative_ms in parse_importtime(child.stderr):
            samples[name].append((depth, self_ms, cumulative_ms))
    return {
        name: (values[0][0], median(v[1] for v in values), median(v[2] for v in values))
        for name, values in samples.items()
    }


def by_package(modules: dict[str, tuple[int, float, float]]) -> list[tuple[str, float, int]]:
    """Self time summed per top-level package, largest first: ``[(package, ms, modules)]``."""
    totals: dict[str, list[float]] = defaultdict(list)
    for name, (_depth, self_ms, _cum) in modules.items():
        totals[name.split(".")[0]].append(self_ms)
    return sorted(((p, sum(v), len(v)) for p, v in totals.items()), key=lambda r: -r[1])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(
        __doc__.splitlines()[0],
        argv,
        lambda p: p.add_argument("--rounds", type=int, help="rounds (default 30; --short: 8)"),
        variants=True,
    )
    rounds = args.rounds or (8 if args.short else 30)
    report = Report("startup", args.short)
    script = console_script()
    sandbox = start_sandbox(alerts=50)
    folder = tempfile.mkdtemp(prefix="opsgenie-bench-startup-")
    connection = write_connection(sandbox, folder)
    ours_argv = [script, "run", "Get Schedules", "--connection", connection]
    floor_argv = [sys.executable, "-c", FLOOR_CODE, sandbox.url, sandbox.api_key]
    commands = {
        "ours": ours_argv,
        "floor": floor_argv,
        "import requests only": [sys.executable, "-c", "import requests"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    no_cache = "ours, PYTHONDONTWRITEBYTECODE=1"
    try:
        for name, command in commands.items():  # warm-up: page cache, .pyc files; checks each works
            for _ in range(2):
                child = run_child(command, capture_stdout=True)
            if child.returncode != 0:
                report.problem(f"{name} exited {child.returncode}: {child.stderr.strip()[-300:]}")
        for variant in args.variant:  # warm-up: compile the variant's modules
            child = run_child(ours_argv, pythonpath=variant)
            if child.returncode != 0:
                report.problem(
                    f"{variant_name(variant)} exited {child.returncode}: {child.stderr.strip()[-300:]}"
                )
        envelope = run_child(ours_argv, capture_stdout=True).stdout
        try:
            if json.loads(envelope).get("return_data") != "Successful":
                report.problem(f"ours did not succeed: {envelope[:300]}")
        except ValueError:
            report.problem(f"ours printed no JSON envelope: {envelope[:300]!r}")
        sandbox.counter.take()
        runners = {name: (lambda c=command: run_child(c)) for name, command in commands.items()}
        runners[no_cache] = lambda: run_child(ours_argv, bytecode_cache=False)
        for variant in args.variant:
            runners[variant_name(variant)] = lambda f=variant: run_child(ours_argv, pythonpath=f)
        results: dict[str, list[ChildRun]] = interleave(runners, rounds)
        received = sandbox.counter.take()
        imports_rounds = 1 if args.short else 5
        ours_imports = importtime_runs(
            [sys.executable, "-X", "importtime", *ours_argv], imports_rounds
        )
        floor_imports = importtime_runs(
            [sys.executable, "-X", "importtime", *floor_argv[1:]], imports_rounds
        )
    finally:
        sandbox.stop()
        shutil.rmtree(folder, ignore_errors=True)

    for name, runs in results.items():
        bad = [r for r in runs if r.returncode != 0]
        if bad:
            report.problem(
                f"{name}: {len(bad)} of {len(runs)} runs failed ({bad[0].stderr.strip()[-200:]})"
            )
    expected_gets = (3 + len(args.variant)) * rounds
    if received != expected_gets:
        report.problem(f"the sandbox received {received} requests for {expected_gets} GETs")

    wall = {name: median(r.seconds for r in runs) for name, runs in results.items()}
    cpu = {name: median(r.cpu_seconds for r in runs) for name, runs in results.items()}
    rss = {name: median(r.max_rss_kib for r in runs) / 1024 for name, runs in results.items()}
    floor = wall["floor"]
    report.table(
        f"wall time of one command, median of {rounds} interleaved runs (subprocesses; sandbox already running)",
        ("command", "wall ms", "CPU ms", "peak RSS MiB", "x floor"),
        [
            (name, wall[name] * 1000, cpu[name] * 1000, rss[name], ratio(wall[name], floor))
            for name in results
        ],
    )
    top = sorted(ours_imports.items(), key=lambda kv: -kv[1][2])[:10]
    report.table(
        f"python -X importtime of ours: top ten imports by cumulative time (median of {imports_rounds})",
        ("module (indent = imported by the one above)", "self ms", "cumulative ms"),
        [("  " * depth + name, self_ms, cum) for name, (depth, self_ms, cum) in top],
    )
    ours_total = sum(v[1] for v in ours_imports.values())
    floor_total = sum(v[1] for v in floor_imports.values())
    floor_packages = {p: ms for p, ms, _ in by_package(floor_imports)}
    packages = by_package(ours_imports)[:10]
    report.table(
        "import self time summed per top-level package (-X importtime inflates every figure)",
        ("package", "ours ms", "modules", "floor ms"),
        [(p, ms, n, floor_packages.get(p, 0.0)) for p, ms, n in packages]
        + [("all imports", ours_total, len(ours_imports), floor_total)],
    )
    measured = ratio(wall["ours"], floor)
    report.target(
        "start-up vs floor",
        f"<= {TARGET}x",
        measured,
        measured <= TARGET,
        f"ours {wall['ours'] * 1000:.0f} ms, floor {floor * 1000:.0f} ms",
    )
    for variant in args.variant:
        name = variant_name(variant)
        report.target(
            f"{name} vs floor",
            f"<= {TARGET}x",
            ratio(wall[name], floor),
            ratio(wall[name], floor) <= TARGET,
            f"variant {variant} (not the installed project)",
        )
    report.figures = {
        "rounds": rounds,
        "wall_ms": {k: round(v * 1000, 1) for k, v in wall.items()},
        "cpu_ms": {k: round(v * 1000, 1) for k, v in cpu.items()},
        "peak_rss_mib": {k: round(v, 1) for k, v in rss.items()},
        "ratio_vs_floor": round(measured, 3),
        "importtime_top10": [
            {"module": n, "self_ms": round(s, 2), "cumulative_ms": round(c, 2)}
            for n, (_, s, c) in top
        ],
        "import_total_ms": {"ours": round(ours_total, 1), "floor": round(floor_total, 1)},
        "import_by_package_ms": {p: round(ms, 1) for p, ms, _ in packages},
    }
    return report.emit(args.json)


if __name__ == "__main__":
    sys.exit(main())
