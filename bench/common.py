"""Helpers shared by the benchmarks in ``bench/``.

- ``machine_info()``: cores, memory, CPU model, Python, platform and the date (UTC);
- ``parse_args()``: every script's ``--short`` (the small counts CI runs) and ``--json`` (only the
  JSON line on stdout, the table on stderr) flags;
- ``median()``, ``interleave()``: medians of repeated runs, the contenders run in turn;
- ``run_child()``: a subprocess's wall time, CPU time and peak resident memory (``os.wait4``);
- ``start_sandbox()`` / ``write_connection()``: the embedded OpsGenie sandbox on loopback, with
  a fixed clock so that every run sees the same data set;
- ``Report``: prints the table, the target verdicts ("target met" / "target missed") and one JSON
  line. Missed targets never change the exit status: a benchmark exits 1 only when a run is
  broken (a child failed, or read the wrong number of alerts).

The helpers import nothing of ``opsgenie_integration`` except, lazily, the sandbox.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, TypeVar

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

#: The sandbox clock of every benchmark: seeded alerts are created and updated over the 7 days
#: before it, so a window from 8 days before it to just after it holds all of them.
SANDBOX_CLOCK = "2024-03-06T12:00:00Z"
DAY_MS = 86_400_000

T = TypeVar("T")


# -- the machine --------------------------------------------------------------------------------


def _memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_info() -> dict[str, Any]:
    """``{cores, memory_gib, cpu, python, platform, date}`` of this machine, now (UTC)."""
    memory = _memory_bytes()
    return {
        "cores": _usable_cores(),
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(terse=True),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['date']}; {info['cores']} cores, {info['memory_gib']} GiB; {info['cpu']}; "
        f"{info['python']}; {info['platform']}"
    )


# -- command line ---------------------------------------------------------------------------------


def parse_args(
    description: str,
    argv: Sequence[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
    variants: bool = False,
) -> argparse.Namespace:
    """``--short`` (the small counts CI runs) and ``--json`` (stdout: the JSON line only); with
    ``variants``, ``--variant DIR`` (repeatable): also measure the project found in DIR (a
    scratch copy with a proposed change), through PYTHONPATH, interleaved with the installed one."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--short",
        action="store_true",
        help="small counts and fewer runs (what CI runs; finishes in seconds)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print only the JSON line on stdout (the table goes to stderr)",
    )
    if variants:
        parser.add_argument(
            "--variant",
            action="append",
            default=[],
            metavar="DIR",
            help="also run the CLI with DIR first on PYTHONPATH (a scratch copy of the "
            "project with a change to measure); repeatable",
        )
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    for folder in getattr(args, "variant", []):
        if not (Path(folder) / "opsgenie_integration" / "__init__.py").is_file():
            parser.error(f"--variant {folder}: no opsgenie_integration package there")
    return args


def variant_name(folder: str) -> str:
    """The row name of a ``--variant`` folder."""
    return f"ours @ {Path(folder).name}"


# -- statistics -----------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    """The median of ``values`` (at least one)."""
    return float(statistics.median(list(values)))


def interleave(contenders: dict[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Run each contender once per round, in turn, the starting one rotating each round, so slow
    drifts of a noisy machine fall on every contender alike. Returns ``{name: [result, ...]}``."""
    names = list(contenders)
    results: dict[str, list[T]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(contenders[name]())
    return results


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


# -- subprocesses ---------------------------------------------------------------------------------


def console_script(name: str = "opsgenie-integration") -> str:
    """The installed console script next to ``sys.executable`` (else the one on PATH)."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        sys.exit(f"{name} is not installed next to {sys.executable}: pip install -e '.[bench]'")
    return found


#: Where children keep their bytecode (``PYTHONPYCACHEPREFIX``): outside the work tree, kept
#: between runs, so every child starts with compiled modules as after a ``pip install``.
PYCACHE = Path(tempfile.gettempdir()) / "opsgenie-bench-pycache"


def child_env(bytecode_cache: bool = True, pythonpath: str | None = None) -> dict[str, str]:
    """The environment for children: no proxy settings (the sandbox is on loopback), no
    OPSGENIE_* settings that could change what the CLI connects to and, with ``bytecode_cache``,
    compiled modules cached under ``PYCACHE`` even where PYTHONDONTWRITEBYTECODE is set (an
    editable install with that variable would otherwise compile the project at every start,
    which an installed wheel never does). ``pythonpath``: a folder put first on the children's
    PYTHONPATH (``--variant``: a scratch copy of the project measured beside the installed one)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.lower().endswith("_proxy") and not k.startswith("OPSGENIE_")
    }
    env.setdefault("PYTHONIOENCODING", "utf-8")
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    else:  # read the caches there are, write none (nothing lands in the work tree)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH")) if p)
    return env


@dataclass
class ChildRun:
    """One finished subprocess: exit status, wall seconds, CPU seconds (user + system), peak
    resident set in KiB (``ru_maxrss``), and what it wrote on stderr (and stdout, when captured)."""

    returncode: int
    seconds: float
    cpu_seconds: float
    max_rss_kib: int
    stderr: str
    stdout: str = ""


#: A tiny launcher (``python -S``, about 9 MiB resident) that forks, execs the command and reports
#: the child's own ``os.wait4`` rusage. Linux counts the resident set a process had *before* its
#: exec in ``ru_maxrss`` (the forked copy of its parent): forked straight from a benchmark holding a
#: 100,000-alert sandbox, every child would report the benchmark's memory. Forked from this
#: launcher, that part is smaller than any Python child's own peak.
_LAUNCHER = """
import json, os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(result, "w") as out:
    json.dump({"status": os.waitstatus_to_exitcode(status), "seconds": seconds,
               "cpu": usage.ru_utime + usage.ru_stime, "maxrss": usage.ru_maxrss}, out)
"""


def run_child(
    argv: Sequence[str],
    *,
    stdout: IO[Any] | None = None,
    capture_stdout: bool = False,
    timeout: float = 900.0,
    bytecode_cache: bool = True,
    pythonpath: str | None = None,
) -> ChildRun:
    """Run ``argv`` (``argv[0]`` a path) through the launcher; wall time is measured around the
    child's fork and exit (the launcher's own start-up is not counted).

    ``stdout``: a file to write to (default /dev/null unless ``capture_stdout``). stderr is
    captured through a temporary file (no pipe to fill up). ``bytecode_cache``, ``pythonpath``: see ``child_env``.
    """
    with (
        tempfile.TemporaryFile("w+b") as err,
        tempfile.TemporaryFile("w+b") as out,
        tempfile.NamedTemporaryFile("r", suffix=".json") as result,
    ):
        target: Any = (
            out if capture_stdout else (stdout if stdout is not None else subprocess.DEVNULL)
        )
        launcher = [sys.executable, "-S", "-c", _LAUNCHER, result.name, *argv]
        process = subprocess.Popen(
            launcher,
            stdin=subprocess.DEVNULL,
            stdout=target,
            stderr=err,
            env=child_env(bytecode_cache, pythonpath),
            close_fds=True,
            start_new_session=True,
        )
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
            raise
        err.seek(0)
        out.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        try:
            figures = json.loads(Path(result.name).read_text(encoding="utf-8"))
        except ValueError:
            raise RuntimeError(
                f"the launcher failed ({process.returncode}): {stderr[-500:]}"
            ) from None
        return ChildRun(
            returncode=figures["status"],
            seconds=figures["seconds"],
            cpu_seconds=figures["cpu"],
            max_rss_kib=figures["maxrss"],  # KiB on Linux
            stderr=stderr,
            stdout=out.read().decode("utf-8", "replace") if capture_stdout else "",
        )


def fast_tempdir() -> str:
    """A folder for scratch output: /dev/shm (memory) where there is one, else the temp folder."""
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="opsgenie-bench-", dir=base)


# -- the sandbox ----------------------------------------------------------------------------------


class RequestCounter:
    """Counts the requests a sandbox received (its ``on_request`` hook, called on server threads)."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self.total = 0
        self._taken = 0

    def __call__(self, _info: Any) -> None:
        with self._lock:
            self.total += 1

    def take(self) -> int:
        """Requests received since the previous ``take``."""
        with self._lock:
            received, self._taken = self.total - self._taken, self.total
        return received


def start_sandbox(alerts: int, seed: int = 1) -> Any:
    """A started sandbox with ``alerts`` seeded alerts, the fixed ``SANDBOX_CLOCK``, no request
    log kept (memory) and a ``counter`` attribute counting the requests received."""
    from opsgenie_integration.sandbox import Sandbox

    sandbox = Sandbox(alerts=alerts, seed=seed, clock=SANDBOX_CLOCK, record_requests=False)
    sandbox.counter = RequestCounter()
    sandbox.on_request = sandbox.counter
    return sandbox.start()


def write_connection(sandbox: Any, folder: str) -> str:
    """Write the sandbox's connection settings as JSON in ``folder``; returns the file path."""
    path = Path(folder) / "connection.json"
    path.write_text(json.dumps(sandbox.connection), encoding="utf-8")
    return str(path)


def iso_ms(ms: int) -> str:
    """``2024-03-06T12:00:00.000Z`` of epoch ms."""
    moment = _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


# -- reporting ------------------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for number, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 0.01 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


@dataclass
class Report:
    """What one benchmark prints: a title, tables, notes, target verdicts and one JSON line."""

    benchmark: str
    short: bool
    machine: dict[str, Any] = field(default_factory=machine_info)
    sections: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.sections.append(f"{title}\n{format_table(headers, rows)}")

    def note(self, text: str) -> None:
        self.sections.append(text)

    def target(self, name: str, goal: str, measured: float, met: bool, detail: str = "") -> None:
        """Record one target: ``goal`` in words (``>= 0.8x``), the measured ratio, met or not."""
        self.targets.append(
            {
                "target": name,
                "goal": goal,
                "measured": round(measured, 3),
                "met": bool(met),
                "detail": detail,
            }
        )

    def problem(self, text: str) -> None:
        """A broken run (not a missed target): the script exits 1."""
        self.problems.append(text)

    def emit(self, as_json: bool) -> int:
        """Print everything; returns the exit status (1 only when a run was broken)."""
        text = sys.stderr if as_json else sys.stdout
        mode = "short" if self.short else "long"
        print(f"== bench {self.benchmark} ({mode} mode) ==", file=text)
        print(f"machine: {machine_line(self.machine)}", file=text)
        for section in self.sections:
            print(f"\n{section}", file=text)
        if self.targets:
            rows = [
                (
                    t["target"],
                    t["goal"],
                    f"{t['measured']:.2f}",
                    "target met" if t["met"] else "target missed",
                    t["detail"],
                )
                for t in self.targets
            ]
            print(
                "\n" + format_table(("target", "goal", "measured", "verdict", ""), rows), file=text
            )
        for problem in self.problems:
            print(f"BROKEN RUN: {problem}", file=text)
        text.flush()
        line = {
            "benchmark": self.benchmark,
            "mode": mode,
            "machine": self.machine,
            "figures": self.figures,
            "targets": self.targets,
            "problems": self.problems,
        }
        print(json.dumps(line, sort_keys=False), flush=True)
        return 1 if self.problems else 0
