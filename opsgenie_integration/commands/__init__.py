"""The built-in commands, one module per command family, registered as a plugin.

Each handler takes a ``CommandContext`` (validated inputs, a client), builds its requests from
named inputs, and returns a ``CommandResult``. Handlers never catch broad exceptions:
``Integration.run`` turns the exception tree (``errors``) into the envelope.

- ``alerts``: Fetch Event (its window algorithm in ``fetch_window``);
- ``alert_actions``: Create Alert, Delete Alert and the alert actions (acknowledge, close, note,
  tags, details, ...), each tracked through its request (``request_tracking``), inputs parsed by
  ``alert_inputs``;
- ``alert_reads``: Get Alert, List Alert Notes / Logs / Recipients, Count Alerts, Get Request
  Status;
- ``schedules``: Get Schedules, Get Schedule Timeline, Get On-call User;
- ``oncall``: Get Next On-call User, Get On-call Users Across Schedules, Is User On Call;
- ``teams``: Get Team, List Teams, Get Escalation, List Escalations;
- ``users``: Get Single User;
- ``connection``: Test Connection.

A new command goes into its family's module (or a new one), in that module's ``COMMANDS``, with
its entry in ``integration.yaml`` and its input schema in ``schemas/``.
"""

from __future__ import annotations

from ..command import CommandSpec, hookimpl
from . import alert_actions, alert_reads, alerts, connection, oncall, schedules, teams, users

FAMILIES = (alerts, alert_actions, alert_reads, schedules, oncall, teams, users, connection)


@hookimpl
def opsgenie_register_commands() -> list[CommandSpec]:
    """Every built-in command, family by family."""
    return [spec for family in FAMILIES for spec in family.COMMANDS]
