"""The host's entry point: ``Integration.load()``, ``connect()``, ``run()``.

```python
from opsgenie_integration import Integration
integration = Integration.load()
connection = integration.connect({"server_url": "https://api.eu.opsgenie.com", "api_key": "env:OPSGENIE_API_KEY"})
envelope = integration.run("Fetch Event", {"Start Time": "2024-03-01 00:00"}, connection)
```

``run`` never raises for anything the user or OpsGenie did: it returns the envelope. This module
is the dispatcher (``Integration.load``, the command lookup, ``run`` and the envelope's last
steps: secrets hidden, the unknown command named); ``connect`` and the ``Connection`` type are
``connecting.py``'s (``Integration`` inherits them from ``connecting.Connector``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import envelope as env
from .command import CommandContext
from .connecting import Connection, Connector
from .date_formats import TimeInputSettings
from .errors import ConnectionSettingsError, InputError, OpsGenieIntegrationError
from .manifest import CommandDefinition, Manifest, load_manifest
from .redact import Redactor
from .registry import RegisteredCommand, build_plugin_manager, collect_commands

log = logging.getLogger(__name__)


def printable_name(command: Any) -> str:
    """An unknown command's name as it may appear in the envelope: one line, 100 characters."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(command)).split())
    return (text[:97] + "...") if len(text) > 100 else (text or "(no command)")


class Integration(Connector):
    """The loaded integration: manifest, plugins, compiled validators.

    Build it with ``Integration.load()``; it is immutable afterwards and may be shared.
    Connecting (``connect``, ``redactor_for``, ``network_for``, ``resolve_secret``) is
    ``connecting.Connector``'s.
    """

    def __init__(
        self, manifest: Manifest, plugin_manager: Any, commands: dict[str, RegisteredCommand]
    ) -> None:
        super().__init__(manifest, plugin_manager)
        self._commands = commands

    @classmethod
    def load(
        cls,
        *,
        plugins: Iterable[Any] = (),
        entry_points: bool = True,
        manifest_path: str | Path | None = None,
    ) -> Integration:
        """Load the manifest, the plugins and the schemas, and check that they agree.

        Args:
            plugins: extra plugin objects or modules to register (tests, hosts).
            entry_points: also load installed plugins of the ``opsgenie_integration`` group.
            manifest_path: another manifest file (tests).

        Raises:
            manifest.ManifestError / registry.RegistryError: every inconsistency, at once.
            pluggy.PluginValidationError: a misspelt or mistyped hook implementation.
        """
        manifest = load_manifest(Path(manifest_path) if manifest_path else None)
        manager = build_plugin_manager(plugins, entry_points=entry_points)
        return cls(manifest, manager, collect_commands(manager, manifest))

    # -- discovery --------------------------------------------------------------------------

    @property
    def commands(self) -> list[CommandDefinition]:
        """The commands, in manifest order."""
        return [c for c in self.manifest.commands if c.id in self._commands]

    def command(self, name_or_id: str) -> CommandDefinition | None:
        """A command by display name or id (case, ``_`` and spacing ignored), or None."""
        definition = self.manifest.command(name_or_id) if isinstance(name_or_id, str) else None
        return definition if definition and definition.id in self._commands else None

    # -- running ----------------------------------------------------------------------------

    def run(
        self,
        command: str | CommandDefinition,
        inputs: Mapping[str, Any] | None = None,
        connection: Connection | Mapping[str, Any] | None = None,
        *,
        redactor: Redactor | None = None,
    ) -> dict[str, Any]:
        """Run one command and return its envelope (``schemas/envelope.schema.json``).

        Args:
            command: display name or id, or a definition ``command()`` returned (not resolved again).
            inputs: by display name or id.
            connection: a ``Connection``, or settings to connect with (closed afterwards).
            redactor: extended with the connection's secrets when settings are given (the CLI
                passes the one its log filter uses).

        Never raises for bad input, bad settings or OpsGenie failures: those are Failed envelopes.
        """
        started = time.monotonic()
        if isinstance(command, CommandDefinition) and command.id in self._commands:
            definition: CommandDefinition | None = command
        else:
            definition = self.command(command)  # type: ignore[arg-type]
        display = definition.name if definition else printable_name(command)
        owned: Connection | None = None
        if isinstance(connection, Connection):
            redactor = connection.redactor
        else:
            found = self.redactor_for(connection)
            if redactor is None:
                redactor = found
            else:
                redactor.update(found)
        try:
            if definition is None:
                raise unknown_command(command, self.commands)
            registered = self._commands[definition.id]
            if isinstance(connection, Connection):
                time_inputs: TimeInputSettings | None = connection.time_inputs
            else:
                time_inputs = self._time_inputs_of(connection)
            inputs_by_id, problems, hint = registered.validator.check(
                inputs, redactor=redactor, time_inputs=time_inputs
            )
            if isinstance(connection, Connection):
                active = connection
            elif connection is None:
                if problems:
                    raise InputError(problems, hint=hint)
                raise ConnectionSettingsError(
                    [
                        {
                            "parameter": "connection",
                            "id": "connection",
                            "message": "No connection settings were given (server_url, api_key).",
                        }
                    ]
                )
            else:
                try:
                    owned = active = self._connect(connection, None, redactor)
                except ConnectionSettingsError as exc:
                    if not problems:
                        raise
                    # the inputs' problems and the settings' together, in one error
                    hints = " ".join(h for h in (hint, exc.hint) if h) or None
                    raise InputError(problems + exc.problems, hint=hints) from None
            if problems:
                raise InputError(problems, hint=hint)
            self.plugin_manager.hook.opsgenie_before_command(command=display, inputs=inputs_by_id)
            event_source = self.manifest.event_source_for(definition.id) or {}
            context = CommandContext(
                inputs=inputs_by_id,
                client=active.client,
                command=definition,
                default_field_mapping=event_source.get("field_mapping"),
                manifest=self.manifest,
                time_inputs=active.time_inputs,
            )
            result = registered.handler(context)
            if result.error is not None:
                envelope = env.failure(
                    display, result.error, result.raw_data, result.outputs, result.readable
                )
            else:
                envelope = env.success(display, result.raw_data, result.outputs, result.readable)
        except OpsGenieIntegrationError as exc:
            envelope = env.failure(display, exc, exc.body)
        except Exception as exc:  # the last line of defence: a bug must not crash the host
            log.debug("Unexpected error in %s", display, exc_info=True)
            internal = OpsGenieIntegrationError(
                f"Unexpected internal error ({type(exc).__name__}). This is a bug in the "
                "integration; run with --verbose and report it.",
                error_type="internal",
            )
            envelope = env.failure(display, internal, None)
        finally:
            if owned is not None:
                owned.close()
        try:
            envelope = hide_secrets(envelope, redactor, known=definition is not None)
        except RecursionError:  # an answer nested beyond reason: keep the outcome, drop the data
            deep = OpsGenieIntegrationError(
                "OpsGenie's answer is nested too deeply to be returned.",
                hint="Check the Server URL: something other than OpsGenie may have answered.",
                error_type="bad_response",
            )
            envelope = hide_secrets(
                env.failure(display, deep, None), redactor, known=definition is not None
            )
        try:
            self.plugin_manager.hook.opsgenie_after_command(
                command=display, envelope=envelope, seconds=time.monotonic() - started
            )
        except Exception:  # an audit hook must not change the outcome
            log.warning("An opsgenie_after_command hook failed", exc_info=True)
        return envelope


def closest_command(command: Any, known: Iterable[CommandDefinition]) -> str | None:
    """The display name of the command closest to ``command`` (by name or id; case, ``_``, ``-``
    and spacing ignored), or None when none is close: ``Fetch Events`` -> ``Fetch Event``."""
    import difflib  # lazy: only an unknown command needs it

    folded: dict[str, str] = {}
    for c in known:
        folded[" ".join(c.name.lower().replace("_", " ").split())] = c.name
        folded[" ".join(c.id.lower().replace("_", " ").split())] = c.name
    wanted = " ".join(str(command).lower().replace("_", " ").replace("-", " ").split())
    close = difflib.get_close_matches(wanted, list(folded), n=1, cutoff=0.75)
    return folded[close[0]] if close else None


#: Error-tab fields that hold only the integration's own vocabulary (never OpsGenie's or the
#: user's text): a short secret that happens to spell part of them must not corrupt them.
_FIXED_ERROR_FIELDS = frozenset({"type", "retryable", "status_code", "code"})


def hide_secrets(envelope: dict[str, Any], redactor: Redactor, *, known: bool) -> dict[str, Any]:
    """``envelope`` with every secret hidden, except in what the integration itself wrote from
    fixed words: ``return_data``, the error's ``type`` and status, and, for a ``known`` command
    (its display name comes from the manifest, not from the caller), ``command`` and the
    error's ``failure_indicator``. So an API key of ``Fail`` cannot turn ``Failed`` into
    ``[REDACTED]ed`` while any text that could carry it is still hidden."""
    fixed_top = {"return_data", "command"} if known else {"return_data"}
    fixed_error = _FIXED_ERROR_FIELDS | ({"failure_indicator"} if known else set())
    hidden: dict[str, Any] = {}
    for key, value in envelope.items():
        if key in fixed_top:
            hidden[key] = value
        elif key == "error" and isinstance(value, dict):
            hidden[key] = {
                name: field if name in fixed_error else redactor.value(field)
                for name, field in value.items()
            }
        else:
            hidden[key] = redactor.value(value)
    return hidden


def unknown_command(command: Any, known: Iterable[CommandDefinition]) -> InputError:
    """The error for a command name no plugin provides: the closest name (``Did you mean 'Fetch
    Event'?``, by display name or id, case and spacing ignored) and the commands there are."""
    known = list(known)
    names = ", ".join(c.name for c in known)
    closest = closest_command(command, known)
    guess = f" Did you mean {closest!r}?" if closest else ""
    return InputError(
        [
            {
                "parameter": "command",
                "id": "command",
                "message": f"Unknown command {command!r}.{guess} Commands: {names}.",
            }
        ]
    )
