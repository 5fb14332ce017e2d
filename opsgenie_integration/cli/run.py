"""``opsgenie-integration run COMMAND``: one command, exactly one JSON envelope on stdout.

Exit status: 0 Successful, 1 Failed, 2 usage error (unknown command, unknown flag, malformed
``--param``), 130 interrupted; a usage error or a signal still prints one Failed envelope.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .. import envelope as env
from ..errors import InputError, OpsGenieIntegrationError
from ..integration import Integration, closest_command, printable_name
from ..logs import configure_cli_logging
from ..manifest import CommandDefinition
from ..readable import markdown_to_text
from ..redact import Redactor
from .connection import SandboxConnection, add_connection_arguments, with_connection_hint
from .fetch import write_atomically
from .output import ExitStatus, UsageError, emit, emit_text, exit_status


def add_run_parser(sub: Any) -> None:
    """Add the ``run`` subcommand to the CLI's subparsers."""
    run = sub.add_parser("run", help="run one command and print its envelope")
    run.add_argument("command", help='display name ("Fetch Event") or id (fetch_event)')
    run.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input, by display name or id; repeat for several",
    )
    run.add_argument(
        "--params", metavar="JSON", help="inputs as a JSON object (merged before --param)"
    )
    add_connection_arguments(run)
    run.add_argument(
        "--output",
        "-o",
        choices=("json", "table"),
        default="json",
        help="json: the envelope (the default); table: its readable part, tables as plain text",
    )
    run.add_argument(
        "--save-picture",
        metavar="FILE",
        help="write the command's picture to FILE (Get Schedule Timeline: sets Picture=svg)",
    )
    run.add_argument(
        "--verbose", "-v", action="count", default=0, help="log to stderr (-vv: HTTP debug)"
    )
    run.set_defaults(handler=cmd_run)


def parse_params(args: argparse.Namespace) -> dict[str, Any]:
    """The inputs from ``--params JSON`` then every ``--param NAME=VALUE``.

    Raises:
        UsageError: malformed JSON, not an object, or a ``--param`` without ``=``.
    """
    params: dict[str, Any] = {}
    if args.params:
        try:
            loaded = json.loads(args.params, parse_constant=float)
        except (ValueError, RecursionError) as exc:
            detail = str(exc)[:120] or "nested too deeply"
            raise UsageError(f"--params is not valid JSON ({detail})") from None
        if not isinstance(loaded, dict):
            raise UsageError("--params must be a JSON object of name: value")
        params.update(loaded)
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                f'--param {item!r}: expected NAME=VALUE, e.g. --param "Start Time=2020-06-03 00:00"'
            )
        params[name.strip()] = value
    return params


def cmd_run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Run one command and print its envelope; ``main`` has made SIGTERM an interrupt.

    The command is resolved here once and its definition handed to ``Integration.run``, with
    the connection settings and the one ``Redactor`` the log filter uses: ``run`` connects,
    validates and builds the Failed envelopes of unknown commands, bad inputs and bad settings;
    only an unreadable ``--connection`` file (it fails before ``run``) gets its envelope here.
    """
    redactor = Redactor()
    configure_cli_logging(stderr, args.verbose, redactor)
    integration = Integration.load()
    definition = integration.command(args.command)
    if definition is None:
        emit(stdout, integration.run(args.command, {}, None, redactor=redactor))
        known = ", ".join(repr(c.name) for c in integration.commands)
        closest = closest_command(args.command, integration.commands)
        guess = f" (did you mean {closest!r}?)" if closest else ""
        stderr.write(
            f"opsgenie-integration: unknown command {args.command!r}{guess}; commands: {known}\n"
        )
        return ExitStatus.USAGE
    params = parse_params(args)
    if args.save_picture:
        asks_picture(definition, params)
    try:
        with SandboxConnection(args, stderr) as settings:
            envelope = integration.run(definition, params, settings, redactor=redactor)
            envelope = with_connection_hint(envelope, settings)
    except OpsGenieIntegrationError as exc:  # an unusable --connection file
        envelope = redactor.value(env.failure(definition.name, exc))
    status = exit_status(envelope)
    if args.save_picture and not save_picture(envelope, args.save_picture, stderr):
        status = max(status, ExitStatus.FAILED)
    if args.output == "table":
        emit_text(stdout, markdown_to_text(str(envelope.get("readable") or "")))
    else:
        emit(stdout, envelope)
    return status


def asks_picture(definition: CommandDefinition, params: dict[str, Any]) -> None:
    """Set the command's ``picture`` input to ``svg`` unless given (by id or display name)."""
    inputs = {p.id: p for p in definition.inputs}
    if "picture" in inputs and not {"picture", inputs["picture"].title} & set(params):
        params["picture"] = "svg"


def save_picture(envelope: dict[str, Any], path: str, stderr: TextIO) -> bool:
    """Write the envelope's ``picture`` (SVG text) to ``path``; False, with a line on stderr
    saying why, when there is none (a failed command, no picture input, drawsvg missing) or the
    file cannot be written."""
    picture = envelope.get("picture")
    if not isinstance(picture, str) or not picture:
        why = envelope.get("picture_error") or (
            "the command failed"
            if envelope.get("return_data") != env.SUCCESSFUL
            else "this command draws no picture (Get Schedule Timeline does)"
        )
        stderr.write(f"opsgenie-integration: no picture saved to {path}: {why}\n")
        return False
    try:
        write_atomically(Path(path), picture)
    except OSError as exc:
        stderr.write(f"opsgenie-integration: cannot write the picture to {path}: {exc.strerror}\n")
        return False
    stderr.write(f"opsgenie-integration: picture saved to {path}\n")
    return True


def emit_early_failure(
    argv: Sequence[str], error: OpsGenieIntegrationError, stdout: TextIO
) -> None:
    """The Failed envelope of ``run`` when its command line never reached ``Integration.run``
    (usage error, signal, input too deep), named as typed, or ``run``."""
    command = printable_name(argv[1]) if len(argv) > 1 and not argv[1].startswith("-") else "run"
    emit(stdout, env.failure(command, error))


def usage_failure(message: str) -> InputError:
    """A usage error of ``run`` as the error of its envelope."""
    return InputError([{"parameter": "command line", "id": "argv", "message": message}])


def interrupted_failure() -> OpsGenieIntegrationError:
    """SIGINT or SIGTERM before the command finished."""
    return OpsGenieIntegrationError(
        "Interrupted (SIGINT or SIGTERM) before the command finished.",
        hint="Nothing was changed in OpsGenie; run the command again.",
        error_type="interrupted",
    )
