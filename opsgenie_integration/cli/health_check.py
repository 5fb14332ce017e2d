"""``opsgenie-integration health-check``: the command line of the health check.

Options, output and exit status: see ``opsgenie_integration.healthcheck``. This module reads the
options, builds the notifiers and the one ``Redactor`` they share with the log filter and the
check, runs ``HealthCheck`` until ``--count`` or SIGINT/SIGTERM, and prints the JSON summary.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
from typing import Any, TextIO

from .. import envelope as env
from ..errors import OpsGenieIntegrationError
from ..healthcheck import (
    DEFAULT_NOTIFY_TIMEOUT,
    MAX_INTERVAL_MINUTES,
    MAX_NOTIFY_TIMEOUT,
    PASSED,
    TEST_CONNECTION,
    CommandNotifier,
    EmailNotifier,
    HealthCheck,
    Notifier,
    Summary,
    TestConnectionCheck,
    WebhookNotifier,
    check_notify_timeout,
)
from ..integration import Integration
from ..logs import configure_cli_logging
from ..redact import Redactor
from ..secrets import split_reference
from ..urls import is_loopback_host
from .connection import SandboxConnection, add_connection_arguments
from .output import ExitStatus, UsageError
from .signals import in_main_thread


def add_health_check_parser(sub: Any) -> None:
    """Add the ``health-check`` subcommand to the CLI's subparsers."""
    parser = sub.add_parser(
        "health-check",
        help="run Test Connection on a schedule and notify on changes of state",
        description="Run Test Connection every --interval minutes; log each result on stderr; notify "
        "by e-mail, webhook or command on every change of state; print a JSON summary.",
    )
    parser.add_argument(
        "--interval",
        type=float,
        required=True,
        metavar="MINUTES",
        help=f"minutes between checks (a float, e.g. 0.5; at most {MAX_INTERVAL_MINUTES:g})",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=None,
        metavar="N",
        help="stop after N checks (default: run until SIGINT/SIGTERM)",
    )
    add_connection_arguments(parser)
    parser.add_argument(
        "--notify-each-failure",
        action="store_true",
        help="notify every failed check, not only changes of state",
    )
    parser.add_argument(
        "--notify-timeout",
        type=float,
        default=DEFAULT_NOTIFY_TIMEOUT,
        metavar="S",
        help=f"seconds allowed to each notification, all told (default {DEFAULT_NOTIFY_TIMEOUT:g}, "
        f"at most {MAX_NOTIFY_TIMEOUT:g})",
    )
    mail = parser.add_argument_group("e-mail (SMTP)")
    mail.add_argument(
        "--smtp-host", metavar="HOST", help="SMTP server; enables e-mail notifications"
    )
    mail.add_argument(
        "--smtp-port",
        type=int,
        default=None,
        metavar="PORT",
        help="SMTP port (default 587 with --smtp-starttls, else 25)",
    )
    mail.add_argument(
        "--smtp-starttls", action="store_true", help="upgrade the session with STARTTLS"
    )
    mail.add_argument(
        "--smtp-user", metavar="USER", help="log in as USER (needs --smtp-password-ref)"
    )
    mail.add_argument(
        "--smtp-password-ref",
        metavar="REF",
        help="the SMTP password as a secret reference: env:NAME, file:PATH, "
        "keyring:SERVICE/USERNAME or a vault plugin's scheme",
    )
    mail.add_argument("--mail-from", metavar="ADDRESS", help="sender address")
    mail.add_argument(
        "--mail-to",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="recipient; repeat for several",
    )
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="POST the result envelope as JSON to URL; repeat for several",
    )
    parser.add_argument(
        "--exec",
        dest="exec_commands",
        action="append",
        default=[],
        metavar="COMMAND",
        help="run COMMAND (no shell; split like a POSIX shell) with the envelope JSON on "
        "stdin; repeat for several",
    )
    parser.add_argument(
        "--verbose", "-v", action="count", default=0, help="log to stderr (-vv: HTTP debug)"
    )
    parser.set_defaults(handler=cmd_health_check)


def _password_problem(reference: str, exc: Exception) -> str:
    problems = getattr(exc, "problems", None) or [{"message": str(exc)}]
    text = str(problems[0].get("message", "")).replace("API Key (api_key): ", "", 1)
    return f"health-check: --smtp-password-ref {reference!r} cannot be resolved: {text}"


def _share_network(
    notifiers: list[Notifier], integration: Integration, settings: Any, redactor: Redactor
) -> None:
    """Give the webhooks the connection's proxy, CA bundle and verification: the health check's
    notifications go out as its Test Connection does. Unusable settings leave the environment
    to decide (the check itself reports them)."""
    try:
        network = integration.network_for(settings, redactor)
    except OpsGenieIntegrationError:
        return
    for notifier in notifiers:
        if isinstance(notifier, WebhookNotifier):
            notifier.network = network


def build_notifiers(
    args: argparse.Namespace,
    integration: Integration,
    redactor: Redactor,
    stderr: TextIO,
) -> list[Notifier]:
    """The notifiers the command line asks for, in the order e-mail, webhooks, commands, all
    sharing the health check's one ``redactor`` (the SMTP password, once resolved, is added).

    Raises:
        UsageError: inconsistent or malformed options; an SMTP password reference that
            cannot be resolved (the message names the reference, never the password).
    """
    try:
        timeout = check_notify_timeout(args.notify_timeout)
    except ValueError:
        raise UsageError(
            f"health-check: --notify-timeout must be above 0 and at most {MAX_NOTIFY_TIMEOUT:g} "
            "seconds"
        ) from None
    notifiers: list[Notifier] = []
    mail_options = [
        name
        for name, value in (
            ("--smtp-port", args.smtp_port),
            ("--smtp-starttls", args.smtp_starttls),
            ("--smtp-user", args.smtp_user),
            ("--smtp-password-ref", args.smtp_password_ref),
            ("--mail-from", args.mail_from),
            ("--mail-to", args.mail_to),
        )
        if value
    ]
    if not args.smtp_host:
        if mail_options:
            verb = "needs" if len(mail_options) == 1 else "need"
            raise UsageError(f"health-check: {', '.join(mail_options)} {verb} --smtp-host")
    else:
        if not args.mail_to or not args.mail_from:
            raise UsageError(
                "health-check: --smtp-host needs --mail-from and at least one --mail-to"
            )
        if bool(args.smtp_user) != bool(args.smtp_password_ref):
            raise UsageError("health-check: --smtp-user and --smtp-password-ref go together")
        password = None
        if args.smtp_password_ref:
            reference = args.smtp_password_ref
            if split_reference(reference) is None:
                raise UsageError(
                    "health-check: --smtp-password-ref must be a reference such as "
                    "env:SMTP_PASSWORD, not the password itself (a command line is "
                    "visible to every user of the host)"
                )
            try:
                password = integration.resolve_secret(reference)
            except OpsGenieIntegrationError as exc:
                raise UsageError(_password_problem(reference, exc)) from None
            redactor.add([password])
            if not args.smtp_starttls and not is_loopback_host(args.smtp_host):
                stderr.write("health-check: warning: the SMTP password is sent without STARTTLS\n")
        port = args.smtp_port or (587 if args.smtp_starttls else 25)
        if not 0 < port < 65536:
            raise UsageError("health-check: --smtp-port must be between 1 and 65535")
        notifiers.append(
            EmailNotifier(
                args.smtp_host,
                port,
                args.mail_from,
                args.mail_to,
                starttls=args.smtp_starttls,
                user=args.smtp_user,
                password=password,
                timeout=timeout,
            )
        )
    for url in args.webhook:
        try:
            notifiers.append(WebhookNotifier(url, timeout=timeout, redactor=redactor))
        except ValueError as exc:
            raise UsageError(f"health-check: --webhook: {exc}") from None
    for command in args.exec_commands:
        try:
            notifiers.append(CommandNotifier(command, timeout=timeout, redactor=redactor))
        except ValueError as exc:
            raise UsageError(f"health-check: --exec: {exc}") from None
    return notifiers


def cmd_health_check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``health-check``: see the module docstring. Returns the exit status.

    One ``Redactor`` serves the log filter, ``connect``/``run``, every result line, every
    notification and every notifier (the command notifier's child environment included).

    Raises:
        UsageError: bad options (exit status 2).
    """
    if not (math.isfinite(args.interval) and 0 < args.interval <= MAX_INTERVAL_MINUTES):
        raise UsageError(
            f"health-check: --interval must be above 0 and at most {MAX_INTERVAL_MINUTES:g} minutes"
        )
    if args.count is not None and args.count < 1:
        raise UsageError("health-check: --count must be at least 1")
    redactor = Redactor()  # grows with the settings' secrets once they are read
    configure_cli_logging(stderr, args.verbose, redactor)
    integration = Integration.load()
    notifiers = build_notifiers(args, integration, redactor, stderr)
    health: HealthCheck | None = None
    previous: dict[int, Any] = {}
    try:
        with SandboxConnection(args, stderr) as settings:
            server_url = str(settings.get("server_url") or settings.get("Server URL") or "") or None
            _share_network(notifiers, integration, settings, redactor)
            check = TestConnectionCheck(integration, settings, redactor)
            health = HealthCheck(
                check,
                interval=args.interval,
                count=args.count,
                notifiers=notifiers,
                notify_each_failure=args.notify_each_failure,
                server_url=server_url,
                redactor=redactor,
                log=stderr,
            )
            if in_main_thread():
                previous = {
                    sig: signal.signal(sig, health.stop) for sig in (signal.SIGINT, signal.SIGTERM)
                }
            summary = health.run()
    except OpsGenieIntegrationError as exc:  # an unreadable --connection file
        text = env.failure(TEST_CONNECTION, exc)["error"]["text"]
        stderr.write(redactor.text(f"health-check: {text}") + "\n")
        summary = health.summary if health else Summary(stopped_by="error")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stdout.write(json.dumps(summary.as_dict()) + "\n")
    stdout.flush()
    return ExitStatus.SUCCESSFUL if summary.last_result == PASSED else ExitStatus.FAILED
