"""``opsgenie-integration fetch``: backfill and follow alerts as JSON Lines.

Runs Fetch Event page after page (100 alerts a page) from a start time or a checkpoint file,
writes each mapped event as one JSON line on stdout, progress on stderr, and the checkpoint file
atomically after every page, so a stopped run resumes exactly where it stopped. SIGINT/SIGTERM
finish the current page (events and checkpoint) and stop; a hard kill between writing a page and
its checkpoint replays that page on resume (at least once, never lost). With ``--follow`` it
keeps polling every ``--interval`` seconds.

A fresh window is read by ``--workers`` threads over time slices (see ``parallel.py``: the
default number comes from the Search limit published at ``GET /v2/request-limits/``), the
checkpoint file then holding every slice's cursor; once the backfill reaches the present, one
cursor continues. Every request is paced by the connection's token bucket for its rate-limit
domain (published limits, else adapted from 429s); a 429 whose retries ran out is waited out
(the checkpoint does not move on failure, so retrying is safe). Events of one slice come oldest
update first; pages of different slices interleave.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from .. import envelope as env
from ..checkpoint import is_checkpoint
from ..commands.fetch_window import DEFAULT_LOOKBACK
from ..connecting import Connection
from ..errors import OpsGenieIntegrationError
from ..files import read_user_text
from ..integration import Integration
from ..logs import configure_cli_logging
from ..pacing import Pacer
from ..redact import Redactor
from ..slices import SliceStateError, is_slice_state
from ..times import parse_user_time, to_epoch_ms, utc_now
from ..validation import DEFAULT_END_LAG_S
from .connection import SandboxConnection, add_connection_arguments, add_connection_hint
from .output import ExitStatus, UsageError
from .parallel import (
    MAX_WORKERS,
    FetchProgress,
    default_workers,
    discover_pacer,
    plan_board,
    resume_board,
)
from .signals import in_main_thread

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

FETCH_COMMAND = "Fetch Event"
PAGE_LIMIT = 100
DEFAULT_INTERVAL = 60.0
#: How ``fetch`` names what ``run`` calls Fetch Event's inputs (its error texts use the flags).
FLAG_NAMES = (
    ("Start Time (start_time)", "--start"),
    ("End Time (end_time)", "--end"),
    ("Search Condition (query)", "--query"),
    ("Saved Search (saved_search)", "--saved-search"),
    ("Field Mapping File (field_mapping)", "--field-mapping"),
    ("Field Mapping File", "--field-mapping"),
    ("Enrich (enrich)", "--enrich"),
    ("Turn Enrich on", "Give --enrich"),
    ("Search Condition", "--query"),
    ("Saved Search", "--saved-search"),
    ("Start Time", "--start"),
    ("End Time", "--end"),
)
MAX_FAILURES_IN_A_ROW = 5
#: One encoder for every event line (json.dumps with options builds a new encoder per call).
_ENCODE_EVENT = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
_ENCODE_ASCII = json.JSONEncoder(ensure_ascii=True, allow_nan=False).encode


def write_events(stream: TextIO, events: list[Any]) -> None:
    """One JSON line per event: UTF-8 where the stream takes it, ASCII escapes where it does not
    (a non-UTF-8 stdout, or text that is not valid Unicode)."""
    try:
        stream.write("\n".join(map(_ENCODE_EVENT, events)) + "\n")
    except UnicodeEncodeError:
        stream.write("\n".join(map(_ENCODE_ASCII, events)) + "\n")
    stream.flush()


def _lock(path: Path) -> Any | None:
    """An exclusive lock on ``<checkpoint file>.lock`` for this run, or None when another run holds it.
    (Where fcntl is missing, no lock: a second run on the same file is the user's to avoid.)

    ``_unlock`` removes the file when the run ends; a lock taken on a file that was removed or
    replaced meanwhile (by a run that just ended) is taken again on the file now there."""
    if fcntl is None:  # pragma: no cover - not POSIX
        return open(os.devnull, "w")
    name = str(path) + ".lock"
    for _ in range(10):
        handle = open(name, "a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        try:
            same = os.path.samestat(os.fstat(handle.fileno()), os.stat(name))
        except OSError:
            same = False
        if same:
            return handle
        handle.close()  # removed by the run that held it: lock the new one
    return None


def _unlock(handle: Any, path: Path) -> None:
    """Remove ``<checkpoint file>.lock`` (still holding the lock), then release it."""
    if fcntl is not None:
        try:
            if os.path.samestat(os.fstat(handle.fileno()), os.stat(str(path) + ".lock")):
                os.unlink(str(path) + ".lock")
        except OSError:
            pass
    handle.close()


def add_fetch_parser(sub: Any) -> None:
    """Add the ``fetch`` subcommand to the CLI's subparsers."""
    parser = sub.add_parser("fetch", help="backfill (and follow) alerts as JSON Lines on stdout")
    parser.add_argument(
        "--start",
        metavar="TIME",
        help="window start; a time without an offset is in the connection's Time Zone "
        "(time_zone), else UTC; default 24 hours ago; ignored when the checkpoint file holds "
        "a checkpoint",
    )
    parser.add_argument(
        "--end",
        metavar="TIME",
        help="window end (exclusive); default: now minus 5 s, "
        "at every call (moving, with --follow)",
    )
    parser.add_argument(
        "--query", metavar="QUERY", default=None, help="OpsGenie alert search query"
    )
    parser.add_argument(
        "--saved-search",
        metavar="NAME_OR_ID",
        default=None,
        help="an OpsGenie saved search (name, or id), combined with the window like --query",
    )
    parser.add_argument(
        "--enrich",
        action="store_true",
        help="read each alert in full (one GET /v2/alerts/{id} per event) before mapping",
    )
    parser.add_argument(
        "--checkpoint-file",
        metavar="FILE",
        help="read the checkpoint from FILE and write it after every page",
    )
    parser.add_argument(
        "--field-mapping",
        metavar="FILE",
        help="field mapping file replacing the default event source's",
    )
    parser.add_argument("--follow", action="store_true", help="keep polling for new updates")
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        metavar="S",
        help="seconds between polls; only with --follow (default 60)",
    )
    parser.add_argument(
        "--max-events",
        type=int,
        default=None,
        metavar="N",
        help="stop after about N events (whole pages)",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N",
        help="threads reading time slices of the window at once (1 to "
        f"{MAX_WORKERS}; default: from the Search limit OpsGenie publishes, else 8)",
    )
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress lines on stderr (the last line, how the fetch ended, is kept)",
    )
    parser.add_argument("--verbose", "-v", action="count", default=0, help="log to stderr")
    add_connection_arguments(parser)
    parser.set_defaults(handler=cmd_fetch)


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_WORKERS}, got {value}")
    return value


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(folder))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def read_checkpoint_file(path: str | None) -> str | None:
    """The checkpoint stored in ``path``, or None when the file does not exist or is empty.

    Raises:
        OSError, UnicodeDecodeError: the file exists but cannot be read as text.
    """
    if not path:
        return None
    try:
        text = read_user_text(path, max_bytes=4_000_000).strip()
    except FileNotFoundError:
        return None
    return text or None


def _checkpoint_file_problem(path: Path) -> str | None:
    """Why the checkpoint file cannot be used (checked before anything is fetched), or None."""
    if path.exists() and not path.is_file():
        return "is not a regular file"
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return f"its folder {str(folder)!r} does not exist"
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=str(folder))
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        return f"its folder cannot be written ({exc.strerror or type(exc).__name__})"
    return None


class _Stop:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.requested = True


class Progress:
    """Counts and prints progress to stderr at most once a second."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self.started = time.monotonic()
        self.events = 0
        self.pages = 0
        self._last = 0.0

    def page(self, events: int) -> None:
        self.events += events
        self.pages += 1
        now = time.monotonic()
        if not self.quiet and now - self._last >= 1.0:
            self._last = now
            self.stream.write(
                f"fetch: {self.events} events, {self.pages} pages, {self.rate():.0f} events/s\n"
            )
            self.stream.flush()

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.events / elapsed if elapsed > 0 else 0.0

    def summary(self, requests: int) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        return {
            "events": self.events,
            "pages": self.pages,
            "requests": requests,
            "seconds": round(elapsed, 3),
            "events_per_second": round(self.rate(), 1),
        }


def _pace(client: Any, stop: _Stop) -> None:
    """Sleep when OpsGenie says the key is being throttled."""
    headers = {k.lower(): v for k, v in client.last_rate_limit.items()}
    if headers.get("x-ratelimit-state", "").upper() == "THROTTLED":
        try:
            period = float(headers.get("x-ratelimit-period-in-sec", "1"))
        except ValueError:
            period = 1.0
        _sleep(min(max(period, 0.1), 60.0), stop)


def _sleep(seconds: float, stop: _Stop) -> None:
    deadline = time.monotonic() + seconds
    while not stop.requested and time.monotonic() < deadline:
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def cmd_fetch(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    if args.follow and args.end:
        raise UsageError("fetch: --end and --follow cannot be used together")
    if args.interval is not None and not args.follow:
        raise UsageError("fetch: --interval only applies with --follow (seconds between polls)")
    if args.interval is None:
        args.interval = DEFAULT_INTERVAL
    if not (args.interval > 0 and math.isfinite(args.interval)):
        raise UsageError("fetch: --interval must be a finite number of seconds above 0")
    if args.max_events is not None and args.max_events < 1:
        raise UsageError("fetch: --max-events must be at least 1")
    checkpoint = None
    if args.checkpoint_file:
        path = args.checkpoint_file
        problem = _checkpoint_file_problem(Path(path))
        if problem is None:
            try:
                checkpoint = read_checkpoint_file(path)
            except (OSError, ValueError) as exc:
                problem = f"cannot be read: {exc}"
        if (
            problem is None
            and checkpoint is not None
            and not (is_checkpoint(checkpoint) or is_slice_state(checkpoint))
        ):
            problem = (
                "holds no checkpoint of an earlier fetch (ck1..., written by fetch itself); give "
                "another file, or remove this one to start again from --start"
            )
        if problem:
            stderr.write(f"fetch: --checkpoint-file {path!r}: {problem}\n")
            return ExitStatus.FAILED
    lock = None
    if args.checkpoint_file:
        lock = _lock(Path(args.checkpoint_file))
        if lock is None:
            stderr.write(
                f"fetch: another fetch is using --checkpoint-file {args.checkpoint_file!r}; "
                "running both would write events twice\n"
            )
            return ExitStatus.FAILED
    try:
        return _fetch(args, checkpoint, stdout, stderr)
    finally:
        if lock is not None:
            _unlock(lock, Path(args.checkpoint_file))


def _fetch(args: argparse.Namespace, checkpoint: str | None, stdout: TextIO, stderr: TextIO) -> int:
    """``cmd_fetch`` once the options and the checkpoint file are checked (and locked)."""
    redactor = Redactor()
    configure_cli_logging(stderr, args.verbose, redactor)
    integration = Integration.load()
    stop = _Stop()
    previous = (
        {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        if in_main_thread()
        else {}
    )
    progress = FetchProgress(stderr, args.quiet)
    inputs: dict[str, Any] = {"limit": PAGE_LIMIT}
    for key, value in (
        ("start_time", args.start),
        ("end_time", args.end),
        ("query", args.query),
        ("field_mapping", args.field_mapping),
        ("saved_search", args.saved_search),
        ("enrich", args.enrich),
    ):
        if value:
            inputs[key] = value
    status = ExitStatus.SUCCESSFUL
    try:
        with SandboxConnection(args, stderr) as settings:
            try:
                connection = integration.connect(settings, redactor=redactor)
            except OpsGenieIntegrationError as exc:
                add_connection_hint(exc, settings)
                stderr.write(f"fetch: {redactor.text(_error_text(exc))}\n")
                return ExitStatus.FAILED
            with connection:
                if args.follow and args.start and not checkpoint:
                    _wait_for_start(args.start, connection, stop, stderr)
                status = _paced_fetch(
                    integration,
                    connection,
                    inputs,
                    checkpoint,
                    args,
                    stdout,
                    stderr,
                    stop,
                    progress,
                )
                summary = progress.summary()
    except OpsGenieIntegrationError as exc:  # an unreadable --connection file
        stderr.write(f"fetch: {redactor.text(_error_text(exc))}\n")
        return ExitStatus.FAILED
    except BrokenPipeError:
        _silence_stdout(stdout)
        stderr.write("fetch: stdout was closed; the checkpoint of the last page written is kept\n")
        return ExitStatus.FAILED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # the last line says how the fetch ended (kept with --quiet)
    if status != ExitStatus.SUCCESSFUL:
        ended = "failed"
    elif stop.requested and not args.follow:
        ended = "interrupted"
    elif stop.requested:
        ended = "stopped"
    else:
        ended = "done"
    stderr.write(f"fetch: {ended} " + json.dumps(summary) + "\n")
    if stop.requested and not args.follow and status == ExitStatus.SUCCESSFUL:
        return (
            ExitStatus.INTERRUPTED
        )  # stopped before the end of the window: not a finished backfill
    return status


def _wait_for_start(start: str, connection: Connection, stop: _Stop, stderr: TextIO) -> None:
    """With ``--follow``, a ``--start`` less than 5 s ago (``now``) or in the future is waited
    for: Fetch Event refuses a Start Time that is not before its default End Time (the call
    minus 5 s), and following from that moment is what was asked."""
    try:
        moment = parse_user_time(start, settings=connection.time_inputs)
    except ValueError:
        return  # Fetch Event reports it, naming --start
    wait = (moment - utc_now()).total_seconds() + DEFAULT_END_LAG_S + 0.5
    if wait > 0:
        stderr.write(
            f"fetch: waiting {wait:.1f} s until --start is {DEFAULT_END_LAG_S} s in the past "
            f"(the newest updates are read {DEFAULT_END_LAG_S} s late)\n"
        )
        _sleep(wait, stop)


def flag_text(text: str, checkpoint_file: str | None) -> str:
    """A Fetch Event error text with its inputs named as ``fetch``'s flags: ``--start`` for
    Start Time (start_time), ``--checkpoint-file 'F'`` for the Checkpoint, and so on."""
    if checkpoint_file:
        text = text.replace("Checkpoint (checkpoint)", f"--checkpoint-file {checkpoint_file!r}")
        text = text.replace("without a Checkpoint", "with another --checkpoint-file")
    for name, flag in FLAG_NAMES:
        text = text.replace(name, flag)
    return text


def _error_text(exc: OpsGenieIntegrationError) -> str:
    """The error text a Fetch Event envelope would carry for ``exc``."""
    return env.error_text(FETCH_COMMAND, exc.status_code, exc.message, exc.hint)


def _silence_stdout(stdout: TextIO) -> None:
    """After a broken pipe, point the real stdout at /dev/null so the exit flush cannot fail."""
    if stdout is sys.stdout:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass


def _window(args: argparse.Namespace, connection: Connection) -> tuple[int, int | None] | None:
    """``(start ms, end ms or None)`` of a fresh fetch, or None when ``--start``/``--end`` cannot be
    read here (the Fetch Event call then reports them, naming the parameter)."""
    now = utc_now()
    settings = getattr(connection, "time_inputs", None)
    try:
        start = to_epoch_ms(
            parse_user_time(args.start, now=now, settings=settings)
            if args.start
            else now - DEFAULT_LOOKBACK
        )
        end = (
            to_epoch_ms(parse_user_time(args.end, now=now, settings=settings)) if args.end else None
        )
    except (ValueError, OverflowError):
        return None
    if end is not None and start >= end:
        return None
    if start >= min(end if end is not None else 2**62, to_epoch_ms(now) - DEFAULT_END_LAG_S * 1000):
        return None  # nothing to backfill yet: one cursor (Fetch Event says what is wrong, if anything)
    return start, end


def _paced_fetch(
    integration: Integration,
    connection: Connection,
    inputs: dict[str, Any],
    checkpoint: str | None,
    args: argparse.Namespace,
    stdout: TextIO,
    stderr: TextIO,
    stop: _Stop,
    progress: FetchProgress,
) -> int:
    """Pace the connection, then read the slices of a backfill (fresh, or resumed from a slice
    state) with the workers and go on with one cursor; or, for a ``ck1.`` checkpoint, one
    --workers 1, or a window this module cannot read, with one cursor only."""
    client = connection.client
    resume = checkpoint is not None and is_slice_state(checkpoint)
    # a Saved Search's query is part of each checkpoint's digest: one cursor reads it; and the
    # slices are updatedAt windows read by the ck1 algorithm: a backend that cannot sort alerts
    # by updatedAt (JSM Operations) reads its window with one cursor, in passes
    sliceable = "updatedAt" in getattr(client, "alert_sort_fields", ("updatedAt",))
    one_cursor = checkpoint is not None or args.saved_search or not sliceable
    window = None if one_cursor else _window(args, connection)
    if resume or (window is not None and args.workers != 1):
        pacer = discover_pacer(client)  # GET /v2/request-limits/, once
        workers = args.workers or default_workers(pacer)
    else:  # one cursor, nothing asked beforehand
        pacer, workers = Pacer(None), 1
    if not resume and (window is None or workers == 1):
        workers = 1
    progress.client, progress.workers = client, workers
    if not resume and workers == 1:  # the one-cursor fetch as it always was (urllib3 retries)
        return _loop(
            integration, connection, inputs, checkpoint, args, stdout, stderr, stop, progress
        )
    client.use_pacer(pacer, workers)
    progress.pacer = pacer
    try:
        if resume:
            board = resume_board(checkpoint or "", args.query)
        else:
            start, end = window  # type: ignore[misc]
            now_ms = int(utc_now().timestamp() * 1000)
            board = plan_board(start, end, now_ms, args.query, workers)
    except SliceStateError as exc:
        stderr.write(f"fetch: --checkpoint-file {args.checkpoint_file}: it {exc}\n")
        return ExitStatus.FAILED
    progress.board = board
    status = _backfill(
        integration, connection, board, workers, inputs, args, stdout, stderr, stop, progress
    )
    if status is not None:
        return status
    # every slice is read: one cursor from the end of the backfill, to the present and beyond
    tail_inputs = {k: v for k, v in inputs.items() if k not in ("start_time", "end_time")}
    if board.tail_end is not None:
        if board.tail_end <= board.end and not args.follow:
            return ExitStatus.SUCCESSFUL
        tail_inputs["end_time"] = str(board.tail_end)
    return _loop(
        integration,
        connection,
        tail_inputs,
        board.tail_checkpoint(),
        args,
        stdout,
        stderr,
        stop,
        progress,
    )


def _backfill(
    integration: Integration,
    connection: Connection,
    board: Any,
    workers: int,
    inputs: dict[str, Any],
    args: argparse.Namespace,
    stdout: TextIO,
    stderr: TextIO,
    stop: _Stop,
    progress: FetchProgress,
) -> int | None:
    """Read every slice of ``board``; None when all were read, else the exit status."""
    from ..backfill import run_backfill  # lazy: start-up (only a concurrent backfill needs it)

    base = {k: v for k, v in inputs.items() if k not in ("start_time", "end_time")}
    path = Path(args.checkpoint_file) if args.checkpoint_file else None

    def fetch_page(slice_inputs: dict[str, str]) -> dict[str, Any]:
        return integration.run(FETCH_COMMAND, {**base, **slice_inputs}, connection)

    def emit(events: list[Any], state: str) -> None:
        if events:
            write_events(stdout, events)
        if path is not None:
            write_atomically(path, state + "\n")

    def retrying(error: dict[str, Any], wait: float, attempt: int) -> None:
        stderr.write(
            f"fetch: {error.get('type')} (status {error.get('status_code')}): waiting {wait:g} s, "
            f"then the same page of that slice again (attempt {attempt}); its cursor has not moved\n"
        )

    try:
        result = run_backfill(
            board,
            workers,
            fetch_page,
            emit,
            stop=lambda: stop.requested,
            max_events=args.max_events,
            on_page=progress.page,
            on_retry=retrying,
        )
    except BrokenPipeError:
        raise
    except OSError as exc:
        stderr.write(
            f"fetch: the checkpoint could not be saved ({exc.strerror or type(exc).__name__}); "
            "the next run repeats the last page\n"
        )
        return ExitStatus.FAILED
    if result.status == "failed":
        stderr.write(f"fetch: {(result.error or {}).get('text')}\n")
        return ExitStatus.FAILED
    if result.status == "stopped":
        return ExitStatus.SUCCESSFUL  # stopped by a signal (exit 130 then) or by --max-events
    return None


def _loop(
    integration: Integration,
    connection: Connection,
    inputs: dict[str, Any],
    checkpoint: str | None,
    args: argparse.Namespace,
    stdout: TextIO,
    stderr: TextIO,
    stop: _Stop,
    progress: FetchProgress | Progress,
) -> int:
    """Fetch Event page after page until the window is done (or, with ``--follow``, stopped)."""
    failures = 0
    empty_in_a_row = 0
    while not stop.requested:
        call = dict(inputs)
        if checkpoint:
            call["checkpoint"] = checkpoint
        envelope = integration.run(FETCH_COMMAND, call, connection)
        if envelope["return_data"] != "Successful":
            error = envelope["error"] or {}
            failures += 1
            if not error.get("retryable") or (
                failures >= MAX_FAILURES_IN_A_ROW and not args.follow
            ):
                text = str(error.get("text"))
                if error.get("type") == "validation":
                    text = flag_text(text, args.checkpoint_file)
                stderr.write(f"fetch: {text}\n")
                return ExitStatus.FAILED
            # the wait OpsGenie asked for (429) when longer than the backoff, at most 60 s
            wait = min(60.0, max(2.0**failures, float(error.get("retry_after") or 0)))
            stderr.write(
                f"fetch: {error.get('type')} (status {error.get('status_code')}): waiting {wait:g} s, then "
                f"the same page again (attempt {failures + 1}); the checkpoint has not moved\n"
            )
            _sleep(wait, stop)
            continue
        failures = 0
        events = envelope["events"]
        if events:
            write_events(stdout, events)
        checkpoint = envelope["checkpoint"]
        if args.checkpoint_file:
            try:
                write_atomically(Path(args.checkpoint_file), checkpoint + "\n")
            except OSError as exc:
                stderr.write(
                    f"fetch: the checkpoint could not be saved ({exc.strerror or type(exc).__name__}); "
                    "the next run repeats this page\n"
                )
                return ExitStatus.FAILED
        progress.page(len(events))
        if args.max_events is not None and progress.events >= args.max_events:
            break
        if envelope.get("events") or envelope.get("has_more"):
            empty_in_a_row = 0 if envelope.get("events") else empty_in_a_row + 1
            if empty_in_a_row < 10:
                if getattr(connection.client, "pacer", None) is None:
                    _pace(connection.client, stop)
                continue
        if not args.follow:
            break
        _sleep(args.interval, stop)
    return ExitStatus.SUCCESSFUL
