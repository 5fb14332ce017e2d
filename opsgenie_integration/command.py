"""What a command plugin sees: the context it gets, the result it returns, the spec that names it,
and the ``hookimpl`` marker.

Built-in commands (``opsgenie_integration.commands``) and third-party plugins import these from
here, and so do the registry and the dispatcher; this module imports nothing above the core, so
nothing imports back up::

    from opsgenie_integration.command import CommandContext, CommandResult, CommandSpec, hookimpl

    def get_account(context: CommandContext) -> CommandResult:
        return CommandResult(raw_data=context.client.get_account())

    @hookimpl
    def opsgenie_register_commands() -> list[CommandSpec]:
        return [CommandSpec("get_account", get_account)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - types only
    from .client import OpsGenieClient
    from .date_formats import TimeInputSettings
    from .errors import OpsGenieIntegrationError
    from .manifest import CommandDefinition, Manifest

#: The pluggy project name: hook names start with ``opsgenie_``; the entry-point group.
PROJECT = "opsgenie_integration"
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class CommandContext:
    """What a handler gets.

    Attributes:
        inputs: the validated inputs by id, defaults applied.
        client: the connection's client (``client.OpsGenieClient``).
        command: the command's manifest definition.
        default_field_mapping: the event source's default field mapping path, or None.
        manifest: the loaded manifest.
        time_inputs: the connection's Date Format and Time Zone (None: neither set).
    """

    inputs: dict[str, Any]
    client: OpsGenieClient
    command: CommandDefinition
    default_field_mapping: str | None = None
    manifest: Manifest | None = None
    time_inputs: TimeInputSettings | None = None


@dataclass
class CommandResult:
    """What a handler returns.

    Attributes:
        raw_data: OpsGenie's answer(s) (a list when several calls were made).
        outputs: the command's own keys of the envelope (see the manifest's outputs).
        error: set when the command ran but its outcome is a failure (Test Connection).
        readable: what a person reads (Markdown: a sentence, a table; see ``readable``), the
            envelope's ``readable``; None: a summary of ``outputs`` is written instead.
    """

    raw_data: Any
    outputs: dict[str, Any] = field(default_factory=dict)
    error: OpsGenieIntegrationError | None = None
    readable: str | None = None


Handler = Callable[[CommandContext], CommandResult]


@dataclass(frozen=True)
class CommandSpec:
    """A command a plugin provides: the manifest ``id`` and the handler implementing it."""

    id: str
    handler: Handler
