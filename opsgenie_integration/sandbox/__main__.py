"""``python -m opsgenie_integration.sandbox``: serve the OpsGenie sandbox until SIGINT/SIGTERM.

On start it prints one human line on stderr, then one JSON line on stdout with a ready
connection: ``{"server_url": ..., "api_key": ..., "api_version": "v2"}`` (with ``--region both``
also ``"regions": {"us": {"server_url", "api_key"}, "eu": {...}}``). Exit status: 0 after a signal,
2 for a usage error, 1 when the sandbox cannot start (port taken, bad data file).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import uuid
from typing import IO

from .ratelimits import RATE_LIMIT_DOMAINS
from .sandbox import Sandbox
from .timefmt import TimeFormatError, to_ms


def _rate_limit(text: str) -> tuple[str, float | None, float | None]:
    domain, sep, rates = text.partition("=")
    if not sep or domain not in RATE_LIMIT_DOMAINS:
        raise argparse.ArgumentTypeError(
            f"expected DOMAIN=PER_SEC[/PER_MIN] with DOMAIN one of {', '.join(RATE_LIMIT_DOMAINS)}"
        )
    per_sec, _, per_min = rates.partition("/")
    try:
        return domain, float(per_sec) if per_sec else None, float(per_min) if per_min else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad rates in {text!r}: numbers expected") from None


def _clock(text: str) -> int:
    try:
        return to_ms(text)[0]
    except TimeFormatError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 date-time or epoch ms, got {text!r}"
        ) from None


def _latency(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("expected a finite delay, 0 or more")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("expected a fraction between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (also used by ``opsgenie-integration sandbox``)."""
    p = argparse.ArgumentParser(
        prog="opsgenie-integration sandbox",
        description="Serve an OpsGenie-compatible API on loopback with a seeded data set.",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)"
    )
    p.add_argument("--port", type=int, default=0, help="TCP port (default 0: a free port)")
    p.add_argument(
        "--alerts", type=int, default=500, metavar="N", help="number of seeded alerts (default 500)"
    )
    p.add_argument(
        "--seed", type=int, default=1, metavar="S", help="random seed of the data set (default 1)"
    )
    p.add_argument(
        "--api-key", metavar="K", help="full-rights API key (UUID; default: a fresh one)"
    )
    p.add_argument(
        "--clock", type=_clock, metavar="ISO|MS", help="fix the sandbox clock at this instant (UTC)"
    )
    p.add_argument("--data", metavar="FILE", help="JSON/YAML data file replacing the seeded data")
    p.add_argument(
        "--region", choices=("us", "eu", "both"), default="us", help="region(s) to serve"
    )
    p.add_argument(
        "--latency", type=_latency, metavar="SECONDS", help="add this delay to every answer"
    )
    p.add_argument(
        "--latency-ms",
        type=_latency,
        metavar="MS",
        help="add this delay, in milliseconds, to every answer (adds up with --latency)",
    )
    p.add_argument(
        "--error-rate",
        type=_fraction,
        metavar="FRACTION",
        help="answer this fraction of requests with an HTML 502/503/504",
    )
    p.add_argument(
        "--rate-limit",
        type=_rate_limit,
        action="append",
        default=[],
        metavar="DOMAIN=PER_SEC[/PER_MIN]",
        help=f"throttle a domain ({', '.join(RATE_LIMIT_DOMAINS)}); repeatable",
    )
    p.add_argument(
        "--churn",
        type=int,
        default=0,
        metavar="N",
        help="update N alerts before each alert-list answer",
    )
    p.add_argument(
        "--read-only-key", metavar="K", help="also accept key K with the Read right only"
    )
    p.add_argument(
        "--config-only-key", metavar="K", help="also accept key K with Configuration access only"
    )
    p.add_argument("--quiet", action="store_true", help="do not log each request on stderr")
    return p


def main(
    argv: list[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None
) -> int:
    """Run the sandbox CLI; returns the exit status (blocks until SIGINT/SIGTERM)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    regions = ("us", "eu") if args.region == "both" else (args.region,)
    try:
        sandbox = Sandbox(
            alerts=args.alerts,
            seed=args.seed,
            clock=args.clock,
            api_key=args.api_key,
            data_file=args.data,
            host=args.host,
            port=args.port,
            regions=regions,
            log=None if args.quiet else stderr,
            latency_ms=args.latency_ms,
        )
        for key, rights in (
            (args.read_only_key, ("read",)),
            (args.config_only_key, ("configuration",)),
        ):
            if key:
                sandbox.add_key(key, rights)
        if args.latency:
            sandbox.faults.add("latency", seconds=args.latency)
        if args.error_rate:
            share = args.error_rate / 3
            for status in (502, 503, 504):  # probabilities chained so the total is the fraction
                sandbox.faults.add("html_5xx", probability=min(1.0, share), status=status)
                share = share / (1 - share) if share < 1 else 1.0
        for domain, per_sec, per_min in args.rate_limit:
            sandbox.rate_limits.set(domain, per_second=per_sec, per_minute=per_min)
        if args.churn:
            sandbox.churn(args.churn)
        sandbox.start()
    except (OSError, ValueError) as exc:
        stderr.write(f"opsgenie sandbox: cannot start: {exc}\n")
        return 1
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        connection: dict[str, object] = dict(sandbox.connection)
        if len(regions) > 1:
            eu_key = sandbox.add_key(
                str(uuid.uuid4()), ("read", "create_update", "delete", "configuration"), "eu"
            )
            connection["regions"] = {
                "us": {"server_url": sandbox.url_for("us"), "api_key": sandbox.api_key},
                "eu": {"server_url": sandbox.url_for("eu"), "api_key": eu_key},
            }
        stderr.write(
            f"OpsGenie sandbox serving {len(sandbox.store)} alerts at "
            + ", ".join(f"{r}={sandbox.url_for(r)}" for r in regions)
            + " (Ctrl-C to stop)\n"
        )
        stderr.flush()
        stdout.write(json.dumps(connection) + "\n")
        stdout.flush()
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stderr.write("OpsGenie sandbox stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
