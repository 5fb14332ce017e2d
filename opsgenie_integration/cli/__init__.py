"""The local test-command runner: ``opsgenie-integration``.

```
opsgenie-integration commands [--json]                  list commands with their inputs
opsgenie-integration run COMMAND [--param NAME=VALUE]... [--connection FILE | --sandbox]
opsgenie-integration sandbox [--port 8080] ...          serve the local OpsGenie sandbox
opsgenie-integration fetch --start ... [--checkpoint-file F] [--follow]   backfill and follow
opsgenie-integration health-check --interval MINUTES    Test Connection on a schedule
```

One module per action (``ACTIONS``); only the action being run is imported, so ``--version``,
``--help`` and ``sandbox`` start without loading the integration. ``run`` prints exactly one JSON
envelope on stdout; logs go to stderr. Exit status: 0 Successful, 1 Failed, 2 usage error
(unknown command, unknown flag, malformed ``--param``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TextIO

from .. import __version__
from .output import ExitStatus, UsageError, emitted, forget_emitted
from .signals import sigterm_as_interrupt

#: action -> (module, function adding its subparser, one-line summary for --help).
ACTIONS = {
    "commands": ("listing", "add_commands_parser", "list the commands with their inputs"),
    "run": ("run", "add_run_parser", "run one command and print its envelope"),
    "sandbox": ("sandbox", "add_sandbox_parser", "serve the local OpsGenie sandbox (see --help)"),
    "fetch": ("fetch", "add_fetch_parser", "backfill (and follow) alerts as JSON Lines on stdout"),
    "health-check": (
        "health_check",
        "add_health_check_parser",
        "run Test Connection on a schedule and notify on changes",
    ),
}

TOO_DEEP = "the input is too large or too deeply nested"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def action_module(action: str) -> ModuleType:
    """The module of ``action`` (a key of ``ACTIONS``), imported now."""
    return importlib.import_module(f"{__name__}.{ACTIONS[action][0]}")  # lazy: start-up


def build_parser(action: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. Only ``action``'s module is imported to build it; the other actions
    are listed for ``--help`` without their options."""
    parser = _Parser(
        prog="opsgenie-integration", description="OpsGenie integration: local test-command runner."
    )
    parser.add_argument(
        "--version", action="version", version=f"opsgenie-integration {__version__}"
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    for name, (_, function, summary) in ACTIONS.items():
        if name == action:
            getattr(action_module(name), function)(sub)
        else:
            sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the CLI; returns the exit status (``ExitStatus``). Streams default to sys.stdout/err.

    For ``run``, SIGTERM raises KeyboardInterrupt (as SIGINT does) from here on, once, so that
    even a signal during start-up still gives exactly one envelope.
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sandbox":  # the sandbox's own parser takes every argument
        return action_module("sandbox").run_sandbox(argv[1:], stdout, stderr)
    restore = sigterm_as_interrupt() if argv and argv[0] == "run" else (lambda: None)
    forget_emitted(stdout)
    try:
        return _main(argv, stdout, stderr)
    finally:
        restore()
        forget_emitted(stdout)


def _main(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    action = argv[0] if argv and argv[0] in ACTIONS else None
    try:
        args = build_parser(action).parse_args(argv)
        return args.handler(args, stdout, stderr)
    except UsageError as exc:
        stderr.write(f"{exc}\n")
        if action == "run":
            run = action_module("run")
            run.emit_early_failure(argv, run.usage_failure(str(exc)), stdout)
        else:
            where = f" {action}" if action else ""
            stderr.write(f"Try 'opsgenie-integration{where} --help'.\n")
        return ExitStatus.USAGE
    except KeyboardInterrupt:
        stderr.write("opsgenie-integration: interrupted\n")
        if action == "run" and not emitted(stdout):  # still exactly one envelope
            run = action_module("run")
            run.emit_early_failure(argv, run.interrupted_failure(), stdout)
        return ExitStatus.INTERRUPTED
    except (RecursionError, MemoryError) as exc:  # hostile input beyond every other check
        stderr.write(f"opsgenie-integration: {type(exc).__name__}: {TOO_DEEP}\n")
        if action == "run":
            run = action_module("run")
            run.emit_early_failure(
                argv, run.usage_failure(f"{type(exc).__name__}: {TOO_DEEP}"), stdout
            )
        return ExitStatus.FAILED
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
