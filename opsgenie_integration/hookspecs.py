"""The hooks a plugin of the integration may implement (pluggy, project marker ``opsgenie_integration``).

Plugins are modules or objects whose functions are decorated with ``hookimpl`` and named after
these specs. Built-in commands and secret resolvers are plugins too, registered exactly as a
third-party package's (entry-point group ``opsgenie_integration``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from .command import PROJECT, CommandSpec, hookimpl

__all__ = ["PROJECT", "hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def opsgenie_register_commands() -> list[CommandSpec]:
    """Return the commands this plugin provides: a list of ``CommandSpec(id, handler)``.

    Every id must be declared in the manifest (``integration.yaml``); the registry refuses
    duplicates, ids the manifest lacks, and manifest commands no plugin provides.
    """


@hookspec(firstresult=True)
def opsgenie_resolve_secret(scheme: str, reference: str) -> str | None:
    """Resolve a secret reference such as ``vault:ops/opsgenie`` (``scheme="vault"``,
    ``reference="ops/opsgenie"``) to the secret itself; return ``None`` when the scheme is not
    yours. Raise ``errors.ConnectionSettingsError`` when it is yours but cannot be resolved; the
    message must name the reference and never the secret.
    """


@hookspec
def opsgenie_before_command(command: str, inputs: Mapping[str, Any]) -> None:
    """Called before a command runs, with its display name and validated inputs (audit, metrics).
    Inputs never hold the API key."""


@hookspec
def opsgenie_after_command(command: str, envelope: dict[str, Any], seconds: float) -> None:
    """Called after a command ran, with the redacted envelope and the wall time in s; also
    when it failed before it started (an unknown command, bad inputs or settings)."""
