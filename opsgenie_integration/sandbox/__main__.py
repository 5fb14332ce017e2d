"""``python -m opsgenie_integration.sandbox``: serve the OpsGenie sandbox until SIGINT/SIGTERM.

On start it prints one human line on stderr, then one JSON line per region on stdout, each a
ready connection that ``opsgenie-integration run --connection FILE`` accepts as it is:
``{"server_url": ..., "api_key": ..., "api_version": "v2"}`` (``--region both``: the US line first,
then the EU line with a key of its own; ``head -1`` / ``tail -1`` pick one). Exit status: 0 after a
signal, 2 for a usage error (an unknown option, a value of the wrong form: a key that is no UUID,
a negative count, a port out of range), 1 when the sandbox cannot start (port taken, a data
file, certificate or key that cannot be used, a --team-key naming no team of the data); each
message names the option and its file or port.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import ssl
import sys
import threading
import uuid
from typing import IO, Any

from .auth import is_key_format_valid
from .ratelimits import RATE_LIMIT_DOMAINS
from .sandbox import Sandbox
from .timefmt import TimeFormatError, to_ms
from .writes import DEFAULT_WRITE_DELAY


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


def _team_key(text: str) -> tuple[str, str]:
    key, sep, team = text.partition("=")
    if not sep or not key or not team:
        raise argparse.ArgumentTypeError("expected KEY=TEAM (a UUID key, a team name or id)")
    return _key(key), team


def _key(text: str) -> str:
    if not is_key_format_valid(text):
        raise argparse.ArgumentTypeError(
            "expected a UUID-shaped API key (8-4-4-4-12 hex digits); the value given is not shown"
        )
    return text


def _whole(low: int, high: int | None = None) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"expected a whole number {bound}, got {value}")
        return value

    return parse


def _milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of milliseconds, got {text!r}"
        ) from None
    if not 0.0 <= value <= 3_600_000.0:  # a latency: an hour at most
        raise argparse.ArgumentTypeError(
            f"expected a number of milliseconds from 0 to 3600000, got {text!r}"
        )
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0.0 <= value <= 3600.0:  # a delay, a latency: an hour at most
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds from 0 to 3600, got {text!r}"
        )
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction between 0 and 1, got {text!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("expected a fraction between 0 and 1")
    return value


def _tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server TLS context from ``--tls-cert`` and ``--tls-key``.

    Raises:
        ValueError: naming the option and file at fault.
    """
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not os.path.isfile(path):
            raise ValueError(f"{option} {path!r}: does not exist or is not a file")
        if not os.access(path, os.R_OK):
            raise ValueError(f"{option} {path!r}: cannot be read (permissions)")
    try:
        ssl.create_default_context(cafile=cert)
    except (ssl.SSLError, ValueError):
        raise ValueError(f"--tls-cert {cert!r}: holds no PEM certificate") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError):
        raise ValueError(
            f"--tls-key {key!r}: is not the PEM private key of the certificate in --tls-cert "
            f"{cert!r}"
        ) from None
    return context


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (also used by ``opsgenie-integration sandbox``)."""
    p = argparse.ArgumentParser(
        prog="opsgenie-integration sandbox",
        description="Serve an OpsGenie-compatible API on loopback with a seeded data set.",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)"
    )
    p.add_argument(
        "--port", type=_whole(0, 65535), default=0, help="TCP port (default 0: a free port)"
    )
    p.add_argument(
        "--alerts",
        type=_whole(0),
        default=500,
        metavar="N",
        help="number of seeded alerts (default 500)",
    )
    p.add_argument(
        "--seed", type=int, default=1, metavar="S", help="random seed of the data set (default 1)"
    )
    p.add_argument(
        "--api-key",
        type=_key,
        metavar="K",
        help="full-rights API key (UUID; default: a fresh one)",
    )
    p.add_argument(
        "--clock", type=_clock, metavar="ISO|MS", help="fix the sandbox clock at this instant (UTC)"
    )
    p.add_argument("--data", metavar="FILE", help="JSON/YAML data file replacing the seeded data")
    p.add_argument(
        "--region", choices=("us", "eu", "both"), default="us", help="region(s) to serve"
    )
    p.add_argument(
        "--latency", type=_seconds, metavar="SECONDS", help="add this delay to every answer"
    )
    p.add_argument(
        "--latency-ms",
        type=_milliseconds,
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
        type=_whole(0),
        default=0,
        metavar="N",
        help="update N alerts before each alert-list answer",
    )
    p.add_argument(
        "--read-only-key",
        type=_key,
        metavar="K",
        help="also accept key K with the Read right only",
    )
    p.add_argument(
        "--config-only-key",
        type=_key,
        metavar="K",
        help="also accept key K with Configuration access only",
    )
    p.add_argument(
        "--platform",
        choices=("opsgenie", "jsm"),
        default="opsgenie",
        help="serve OpsGenie's v2 API (default) or Jira Service Management Operations (Basic "
        "authentication; the JSON line then holds platform, site, server_url, email, api_token)",
    )
    p.add_argument(
        "--email",
        metavar="E",
        help="JSM mode: the account e-mail (default sandbox.admin@example.com)",
    )
    p.add_argument(
        "--write-delay",
        type=_seconds,
        default=DEFAULT_WRITE_DELAY,
        metavar="SECONDS",
        help="seconds before a write (202) is processed and its request status known "
        f"(default {DEFAULT_WRITE_DELAY}; 0 = at once)",
    )
    p.add_argument(
        "--team-key",
        type=_team_key,
        action="append",
        default=[],
        metavar="K=TEAM",
        help="also accept key K as a team integration's key (Read and Configuration access, "
        "limited to TEAM: 403 on /v2/account); repeatable",
    )
    p.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="serve HTTPS with this certificate chain (PEM; with --tls-key)",
    )
    p.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert (PEM)")
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
    if args.platform == "jsm" and (
        args.region != "us" or args.read_only_key or args.config_only_key or args.team_key
    ):
        stderr.write(
            "opsgenie sandbox: --region, --read-only-key, --config-only-key and --team-key are "
            "OpsGenie-mode options (JSM mode serves one site)\n"
        )
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        stderr.write("opsgenie sandbox: --tls-cert and --tls-key go together\n")
        return 2
    try:
        tls = _tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
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
            platform=args.platform,
            **({"email": args.email} if args.email else {}),
            latency_ms=args.latency_ms,
            write_delay=args.write_delay,
            tls=tls,
        )
        for key, rights in (
            (args.read_only_key, ("read",)),
            (args.config_only_key, ("configuration",)),
        ):
            if key:
                sandbox.add_key(key, rights)
        for key, team in args.team_key:
            sandbox.add_key(key, ("read", "configuration"), team=team)
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
    except (OSError, ValueError) as exc:
        stderr.write(f"opsgenie sandbox: cannot start: {exc}\n")
        return 1
    try:
        sandbox.start()
    except OSError as exc:
        port = f"--port {args.port}" if args.port else "a free port"
        stderr.write(
            f"opsgenie sandbox: cannot start: {port} on --host {args.host} cannot be used: "
            f"{exc.strerror or exc}"
            + (" (another server is using it?)" if args.port else "")
            + "\n"
        )
        return 1
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        connections = [dict(sandbox.connection)]
        for region in regions[1:]:
            key = sandbox.add_key(
                str(uuid.uuid4()), ("read", "create_update", "delete", "configuration"), region
            )
            connections.append(sandbox.connection_for(region, key))
        lines = " (one connection line per region on stdout: " + ", ".join(regions) + ")"
        what = "JSM Operations sandbox" if args.platform == "jsm" else "OpsGenie sandbox"
        stderr.write(
            f"{what} serving {len(sandbox.store)} alerts at "
            + ", ".join(f"{r}={sandbox.url_for(r)}" for r in regions)
            + (lines if len(regions) > 1 else "")
            + " (Ctrl-C to stop)\n"
        )
        stderr.flush()
        for connection in connections:
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
