"""The command registry: a fresh pluggy plugin manager, the commands the plugins provide, and the
consistency checks between them, the manifest and the input schemas.

At start-up it refuses: a command id given twice, a handler with no manifest entry, a manifest
command with no handler, an input schema that is missing, invalid or out of step with the
manifest's inputs, and misspelt hook implementations (``check_pending``). Each problem says which
plugin gave what.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any

import pluggy

from . import hookspecs
from .command import CommandContext, CommandResult, CommandSpec, Handler
from .manifest import CommandDefinition, Manifest, ManifestError, load_json
from .validation import InputValidator

__all__ = [
    "CommandContext",
    "CommandResult",
    "CommandSpec",
    "RegisteredCommand",
    "RegistryError",
    "build_plugin_manager",
    "collect_commands",
]

#: Built-in plugins, registered first and by name. ``builtin_commands`` is also the name of the
#: commands' entry point in pyproject.toml, so loading entry points never registers it twice; the
#: secret resolvers (env:, file:, keyring:) have no entry point.
DEFAULT_PLUGINS = (
    ("builtin_commands", "opsgenie_integration.commands"),
    ("builtin_secrets", "opsgenie_integration.secrets"),
)
ENTRY_POINT_GROUP = hookspecs.PROJECT


class RegisteredCommand:
    """A command with its handler, the plugin that gave it, and its input validator.

    The validator (``jsonschema.check_schema`` plus compilation) is built on first use, so that
    running one command does not pay for the others; the test suite checks every schema.
    """

    def __init__(
        self, definition: CommandDefinition, handler: Handler, plugin: str, schema: dict
    ) -> None:
        self.definition = definition
        self.handler = handler
        self.plugin = plugin
        self.schema = schema
        self._validator: InputValidator | None = None

    @property
    def validator(self) -> InputValidator:
        if self._validator is None:
            self._validator = InputValidator(self.definition.inputs, self.schema)
        return self._validator


class RegistryError(ManifestError):
    """The plugins, the manifest and the schemas do not agree; ``problems`` lists every mismatch."""


def build_plugin_manager(
    plugins: Iterable[Any] = (), *, entry_points: bool = True
) -> pluggy.PluginManager:
    """A new plugin manager with the hookspecs, the built-in plugins, ``plugins`` and, when
    ``entry_points``, the installed third-party plugins of the ``opsgenie_integration`` group.

    Raises:
        pluggy.PluginValidationError: a hook implementation does not match its spec, or a plugin
            implements a hook that does not exist (``check_pending``).
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for name, module_name in DEFAULT_PLUGINS:
        manager.register(importlib.import_module(module_name), name=name)
    for plugin in plugins:
        manager.register(plugin)
    if entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    manager.check_pending()
    return manager


def collect_commands(
    manager: pluggy.PluginManager, manifest: Manifest
) -> dict[str, RegisteredCommand]:
    """Ask every plugin for its commands and check them against the manifest and the schemas.

    Returns the commands by manifest id.

    Raises:
        RegistryError: with every problem found.
    """
    problems: list[str] = []
    given: dict[str, tuple] = {}
    for impl in manager.hook.opsgenie_register_commands.get_hookimpls():
        specs = impl.function() or []
        for spec in specs:
            if not isinstance(spec, CommandSpec) or not callable(spec.handler):
                problems.append(
                    f"plugin {impl.plugin_name!r} returned {spec!r}, not a CommandSpec with a handler"
                )
                continue
            if spec.id in given:
                problems.append(
                    f"command {spec.id!r} is provided twice: by plugin {given[spec.id][1]!r} and by {impl.plugin_name!r}"
                )
                continue
            given[spec.id] = (spec.handler, impl.plugin_name)
    declared = {c.id: c for c in manifest.commands}
    for command_id, (_, plugin) in given.items():
        if command_id not in declared:
            problems.append(
                f"plugin {plugin!r} provides command {command_id!r}, which integration.yaml does not declare"
            )
    registered: dict[str, RegisteredCommand] = {}
    for command_id, definition in declared.items():
        if command_id not in given:
            problems.append(
                f"integration.yaml declares command {command_id!r} ({definition.name}), but no plugin provides a handler"
            )
            continue
        schema = _schema_for(definition, problems)
        if schema is not None:
            handler, plugin = given[command_id]
            registered[command_id] = RegisteredCommand(definition, handler, plugin, schema)
    if problems:
        raise RegistryError(problems)
    return registered


def _schema_for(definition: CommandDefinition, problems: list[str]) -> dict | None:
    where = f"command {definition.id!r}: {definition.input_schema}"
    try:
        schema = load_json(definition.input_schema)
    except (OSError, ValueError) as exc:
        problems.append(f"{where} cannot be read ({exc})")
        return None
    if not isinstance(schema, dict):
        problems.append(f"{where} is not a JSON Schema object")
        return None
    drift = schema_drift(schema, definition.inputs)
    problems.extend(f"{where}: {p}" for p in drift)
    return None if drift else schema


def schema_drift(schema: dict, parameters: Sequence[Any]) -> list[str]:
    """Differences between an input schema and the manifest's parameters (names, required)."""
    problems = []
    properties = set(schema.get("properties", {}))
    ids = {p.id for p in parameters}
    for missing in sorted(ids - properties):
        problems.append(f"input {missing!r} is in integration.yaml but not in the schema")
    for extra in sorted(properties - ids):
        problems.append(f"property {extra!r} is in the schema but not in integration.yaml")
    required_schema = set(schema.get("required", []))
    required_manifest = {p.id for p in parameters if p.required}
    if required_schema != required_manifest:
        problems.append(
            f"required inputs differ: schema {sorted(required_schema)}, integration.yaml {sorted(required_manifest)}"
        )
    if schema.get("additionalProperties") is not False:
        problems.append("the schema must refuse unknown inputs (additionalProperties: false)")
    return problems
