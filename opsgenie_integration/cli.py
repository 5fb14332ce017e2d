"""The local test-command runner: ``opsgenie-integration``.

```
opsgenie-integration commands [--json]                  list commands with their inputs
opsgenie-integration run COMMAND [--param NAME=VALUE]... [--connection FILE | --sandbox]
opsgenie-integration sandbox [--port 8080] ...          serve the local OpsGenie sandbox
opsgenie-integration fetch --start ... [--checkpoint-file F] [--follow]   backfill and follow
opsgenie-integration health-check --interval MINUTES    Test Connection on a schedule
```

``run`` prints exactly one JSON envelope on stdout; logs go to stderr. Exit status: 0 Successful,
1 Failed, 2 usage error (unknown command, unknown flag, malformed ``--param``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from enum import IntEnum
from typing import Any, Dict, List, Optional, TextIO

from . import __version__

ENV_SETTINGS = {
    "server_url": "OPSGENIE_SERVER_URL",
    "api_key": "OPSGENIE_API_KEY",
    "api_version": "OPSGENIE_API_VERSION",
}


NO_CONNECTION_HINT = (
    "Give the connection with --connection FILE (YAML or JSON: server_url, api_key), or with the "
    "OPSGENIE_API_KEY and OPSGENIE_SERVER_URL environment variables; or try --sandbox."
)


def add_connection_hint(exc: Exception, settings: Any) -> None:
    """Say where a connection comes from when the settings lack the API Key (any spelling)."""
    from .manifest import fold_name

    given = isinstance(settings, dict) and any(isinstance(k, str) and fold_name(k) == "api key" and v
                                               for k, v in settings.items())
    if getattr(exc, "hint", None) is None and not given:
        exc.hint = NO_CONNECTION_HINT


class ExitStatus(IntEnum):
    SUCCESSFUL = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


class UsageError(Exception):
    """A malformed command line (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


#: Actions whose module is imported only when that action runs (or for --help).
_LAZY_ACTIONS = {
    "fetch": ("opsgenie_integration.fetch", "add_fetch_parser", "backfill (and follow) alerts as JSON Lines on stdout"),
    "health-check": ("opsgenie_integration.healthcheck", "add_health_check_parser",
                     "run Test Connection on a schedule and notify on changes"),
}


def build_parser(action: Optional[str] = None) -> _Parser:
    """The argument parser; ``action`` (the first argument) limits the modules imported to build it."""
    parser = _Parser(prog="opsgenie-integration", description="OpsGenie integration: local test-command runner.")
    parser.add_argument("--version", action="version", version=f"opsgenie-integration {__version__}")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    listing = sub.add_parser("commands", help="list the commands with their inputs")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")

    run = sub.add_parser("run", help="run one command and print its envelope")
    run.add_argument("command", help="display name (\"Fetch Event\") or id (fetch_event)")
    run.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                     help="an input, by display name or id; repeat for several")
    run.add_argument("--params", metavar="JSON", help="inputs as a JSON object (merged before --param)")
    add_connection_arguments(run)
    run.add_argument("--verbose", "-v", action="count", default=0, help="log to stderr (-vv: HTTP debug)")

    sandbox = sub.add_parser("sandbox", help="serve the local OpsGenie sandbox (see --help)", add_help=False)
    sandbox.add_argument("sandbox_args", nargs=argparse.REMAINDER)

    for name, (module_name, function, summary) in _LAZY_ACTIONS.items():
        if action in (None, name):
            import importlib

            getattr(importlib.import_module(module_name), function)(sub)
        else:  # listed for --help without importing it: start-up time of the other actions
            sub.add_parser(name, help=summary, add_help=False)
    return parser


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--connection FILE`` / ``--sandbox`` / ``--sandbox-alerts N``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--connection", "-c", metavar="FILE",
                       help="connection settings, YAML or JSON (server_url, api_key, api_version, timeout, "
                            "max_retry_time); "
                            "default: the OPSGENIE_SERVER_URL / OPSGENIE_API_KEY / OPSGENIE_API_VERSION environment")
    group.add_argument("--sandbox", action="store_true",
                       help="start the embedded OpsGenie sandbox on a free loopback port and use it")
    parser.add_argument("--sandbox-alerts", type=_alert_count, default=500, metavar="N",
                        help="alerts seeded in the --sandbox (0..200000, default 500)")


def _alert_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= 200_000:
        raise argparse.ArgumentTypeError("expected 0 to 200000")
    return value


def load_connection_settings(path: Optional[str], environ: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Connection settings from ``--connection FILE`` (YAML or JSON), else the environment.

    Raises:
        errors.ConnectionSettingsError: the file cannot be read or is not a mapping.
    """
    from .errors import ConnectionSettingsError

    def problem(text: str) -> ConnectionSettingsError:
        return ConnectionSettingsError([{"parameter": "--connection", "id": "connection", "message": f"--connection {path!r}: {text}"}])

    if path:
        import yaml

        from .files import UserFileError, read_user_text
        from .manifest import load_yaml

        try:
            text = read_user_text(path)
        except FileNotFoundError:
            raise problem("does not exist") from None
        except UserFileError as exc:
            raise problem(str(exc)) from None
        try:
            settings = load_yaml(text, untrusted=True)  # YAML is a superset of JSON
        except (yaml.YAMLError, RecursionError):
            raise problem("is not valid YAML or JSON") from None
        except ValueError as exc:
            raise problem(str(exc)) from None
        if not isinstance(settings, dict):
            raise problem("must be a mapping of setting: value (server_url, api_key, api_version)")
        return settings
    environ = os.environ if environ is None else environ
    return {key: environ[var] for key, var in ENV_SETTINGS.items() if environ.get(var)}


def _parse_params(args: argparse.Namespace) -> Dict[str, Any]:
    params: Dict[str, Any] = {}
    if args.params:
        try:
            loaded = json.loads(args.params, parse_constant=lambda name: float(name))
        except (ValueError, RecursionError) as exc:
            raise UsageError(f"--params is not valid JSON ({str(exc)[:120] or 'nested too deeply'})") from None
        if not isinstance(loaded, dict):
            raise UsageError("--params must be a JSON object of name: value")
        params.update(loaded)
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param {item!r}: expected NAME=VALUE, e.g. --param \"Start Time=2020-06-03 00:00\"")
        params[name.strip()] = value
    return params


def _print_json(stream: TextIO, value: Any) -> None:
    """One JSON document: strict JSON (no NaN), readable UTF-8 where the stream takes it, plain
    ASCII escapes where it does not (an ASCII terminal, lone surrogates from bad arguments)."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:  # NaN/Infinity somewhere: render them as null rather than invalid JSON
        text = json.dumps(json.loads(json.dumps(value, default=str), parse_constant=lambda _: None),
                          indent=2, ensure_ascii=False)
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        stream.write(json.dumps(json.loads(text), indent=2, ensure_ascii=True) + "\n")
    stream.flush()


def _exit_status(envelope: Dict[str, Any]) -> ExitStatus:
    return ExitStatus.SUCCESSFUL if envelope.get("return_data") == "Successful" else ExitStatus.FAILED


def cmd_commands(args: argparse.Namespace, stdout: TextIO) -> int:
    from .integration import Integration

    integration = Integration.load()
    rights = integration.manifest.rights
    if args.json:
        _print_json(stdout, [
            {"name": c.name, "id": c.id, "description": c.description, "right": rights.get(c.right, c.right),
             "inputs": [{"title": p.title, "id": p.id, "required": p.required, "default": p.default,
                         "example": p.example, "description": p.description} for p in c.inputs],
             "outputs": [dict(o) for o in c.outputs]}
            for c in integration.commands
        ])
        return ExitStatus.SUCCESSFUL
    lines = []
    for command in integration.commands:
        needs = "checks the key and every right" if command.right == "none" else f"needs {rights.get(command.right, command.right)}"
        lines.append(f"{command.name} ({command.id}) - {needs}")
        lines.append(f"    {command.description.split('. ')[0].rstrip('.')}.")
        if not command.inputs:
            lines.append("    inputs: none")
        for p in command.inputs:
            flags = "required" if p.required else (f"default {p.default}" if p.default is not None else "optional")
            lines.append(f"    --param \"{p.title}=...\" ({p.id}; {flags}; e.g. {p.example})")
        lines.append("")
    stdout.write("\n".join(lines))
    stdout.flush()
    return ExitStatus.SUCCESSFUL


class SandboxConnection:
    """Context manager: the settings to use, from ``--connection``/environment or a ``--sandbox``."""

    def __init__(self, args: argparse.Namespace, stderr: TextIO) -> None:
        self.args = args
        self.stderr = stderr
        self._sandbox = None

    def __enter__(self) -> Dict[str, Any]:
        if getattr(self.args, "sandbox", False):
            from .sandbox import Sandbox

            self._sandbox = Sandbox(alerts=self.args.sandbox_alerts)
            self._sandbox.start()
            self.stderr.write(f"opsgenie-integration: using the embedded sandbox at {self._sandbox.url}\n")
            return dict(self._sandbox.connection)
        return load_connection_settings(self.args.connection)

    def __exit__(self, *exc: object) -> None:
        if self._sandbox is not None:
            self._sandbox.stop()


def cmd_run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from . import envelope as env
    from .errors import OpsGenieIntegrationError
    from .integration import Integration
    from .logs import configure_cli_logging

    redactor = configure_cli_logging(stderr, args.verbose)
    integration = Integration.load()
    definition = integration.command(args.command)
    if definition is None:
        envelope = integration.run(args.command, {}, None)
        _print_json(stdout, envelope)
        known = ", ".join(f"{c.name!r}" for c in integration.commands)
        stderr.write(f"opsgenie-integration: unknown command {args.command!r}; commands: {known}\n")
        return ExitStatus.USAGE
    params = _parse_params(args)
    secrets: List[str] = []
    restore = _sigterm_as_interrupt()
    try:
        with SandboxConnection(args, stderr) as settings:
            from .integration import literal_keys

            literal = literal_keys(settings)  # under any spelling the validator accepts
            secrets.extend(literal)
            redactor.add(literal)
            try:
                connection = integration.connect(settings)
            except OpsGenieIntegrationError as exc:
                add_connection_hint(exc, settings)
                envelope = env.scrub(env.failure(definition.name, exc), secrets)
            else:
                redactor.add(connection.secrets)
                with connection:
                    envelope = integration.run(definition.name, params, connection)
    except OpsGenieIntegrationError as exc:  # unreadable --connection file
        envelope = env.scrub(env.failure(definition.name, exc), secrets)
    except KeyboardInterrupt:  # SIGINT or SIGTERM: still one envelope, so a playbook gets JSON
        _print_interrupted(["run", definition.name], stdout)
        return ExitStatus.INTERRUPTED
    finally:
        restore()
    _emit(stdout, envelope)
    return _exit_status(envelope)


_EMITTED: set = set()


def _emit(stdout: TextIO, envelope: Dict[str, Any]) -> None:
    """Print the one envelope with SIGINT/SIGTERM held back, so a signal can neither cut it in half
    nor add a second one (``main`` prints an "interrupted" envelope only if none was printed)."""
    import signal

    held = {signal.SIGINT, signal.SIGTERM}
    blocked = hasattr(signal, "pthread_sigmask")
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        _print_json(stdout, envelope)
        _EMITTED.add(id(stdout))
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def in_main_thread() -> bool:
    """Signal handlers can only be set in the main thread."""
    import threading

    return threading.current_thread() is threading.main_thread()


def _sigterm_as_interrupt():
    """Make SIGTERM raise KeyboardInterrupt (as SIGINT does) while a command runs; returns the
    function restoring the previous handler. Only in the main thread, where signals arrive."""
    import signal

    if not in_main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def main(argv: Optional[Sequence[str]] = None, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> int:
    """Run the CLI; returns the exit status (``ExitStatus``). Streams default to sys.stdout/err."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sandbox":
        from .sandbox.__main__ import main as sandbox_main

        return sandbox_main(argv[1:], stdout=stdout, stderr=stderr)
    restore = _sigterm_as_interrupt() if argv and argv[0] == "run" else (lambda: None)
    _EMITTED.discard(id(stdout))
    try:
        return _main(argv, stdout, stderr)
    finally:
        restore()
        _EMITTED.discard(id(stdout))


def _main(argv: List[str], stdout: TextIO, stderr: TextIO) -> int:
    try:
        parser = build_parser(argv[0] if argv and argv[0] in _LAZY_ACTIONS else ("run" if argv else None))
        args = parser.parse_args(argv)
        if args.action == "commands":
            return cmd_commands(args, stdout)
        if args.action == "run":
            return cmd_run(args, stdout, stderr)
        return args.handler(args, stdout, stderr)
    except UsageError as exc:
        stderr.write(f"{exc}\n")
        if argv and argv[0] == "run":
            _print_usage_envelope(argv, str(exc), stdout)
        else:
            stderr.write("Try 'opsgenie-integration --help'.\n")
        return ExitStatus.USAGE
    except KeyboardInterrupt:
        stderr.write("opsgenie-integration: interrupted\n")
        if argv and argv[0] == "run" and id(stdout) not in _EMITTED:  # still exactly one envelope
            _print_interrupted(argv, stdout)
        return ExitStatus.INTERRUPTED
    except (RecursionError, MemoryError) as exc:  # hostile input beyond every other check
        stderr.write(f"opsgenie-integration: {type(exc).__name__}: the input is too large or too deeply nested\n")
        if argv and argv[0] == "run":
            _print_usage_envelope(argv, f"{type(exc).__name__}: the input is too large or too deeply nested", stdout)
        return ExitStatus.FAILED
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)


def _print_interrupted(argv: Sequence[str], stdout: TextIO) -> None:
    from .errors import OpsGenieIntegrationError

    _print_run_failure(argv, OpsGenieIntegrationError(
        "Interrupted (SIGINT or SIGTERM) before the command finished.",
        hint="Nothing was changed in OpsGenie; run the command again.", error_type="interrupted"), stdout)


def _print_usage_envelope(argv: Sequence[str], message: str, stdout: TextIO) -> None:
    """A usage error of ``run`` still prints one envelope, so a playbook always gets JSON."""
    from .errors import InputError

    _print_run_failure(argv, InputError([{"parameter": "command line", "id": "argv", "message": message}]), stdout)


def _print_run_failure(argv: Sequence[str], error: Exception, stdout: TextIO) -> None:
    """The Failed envelope of ``run`` when the command never ran (named as typed, or ``run``)."""
    from . import envelope as env
    from .integration import _printable_name

    command = _printable_name(argv[1]) if len(argv) > 1 and not argv[1].startswith("-") else "run"
    _print_json(stdout, env.failure(command, error))
