"""The host's entry point: ``Integration.load()``, ``connect()``, ``run()``.

```python
from opsgenie_integration import Integration
integration = Integration.load()
connection = integration.connect({"server_url": "https://api.eu.opsgenie.com", "api_key": "env:OPSGENIE_API_KEY"})
envelope = integration.run("Fetch Event", {"Start Time": "2024-03-01 00:00"}, connection)
```

``run`` never raises for anything the user or OpsGenie did: it returns the envelope.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import envelope as env
from .client import OpsGenieClient
from .command import CommandContext
from .errors import ConnectionSettingsError, InputError, OpsGenieIntegrationError
from .manifest import CommandDefinition, Manifest, load_json, load_manifest
from .redact import Redactor, secret_settings
from .registry import RegisteredCommand, build_plugin_manager, collect_commands
from .secrets import secret_error, split_reference
from .validation import InputValidator

log = logging.getLogger(__name__)


@dataclass
class Connection:
    """A validated connection: the settings (API key resolved), its client, and the redactor
    that hides its secrets (as given and resolved) from every envelope made with it."""

    settings: dict[str, Any]
    client: OpsGenieClient
    redactor: Redactor

    @property
    def secrets(self) -> frozenset[str]:
        """The strings hidden from every output made with this connection."""
        return self.redactor.secrets

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def printable_name(command: Any) -> str:
    """An unknown command's name as it may appear in the envelope: one line, 100 characters."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(command)).split())
    return (text[:97] + "...") if len(text) > 100 else (text or "(no command)")


class Integration:
    """The loaded integration: manifest, plugins, compiled validators.

    Build it with ``Integration.load()``; it is immutable afterwards and may be shared.
    """

    def __init__(
        self, manifest: Manifest, plugin_manager: Any, commands: dict[str, RegisteredCommand]
    ) -> None:
        self.manifest = manifest
        self.plugin_manager = plugin_manager
        self._commands = commands
        self._connection_validator = InputValidator(
            manifest.connection_parameters, load_json(manifest.connection_schema), noun="setting"
        )

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

    # -- connection -------------------------------------------------------------------------

    def redactor_for(self, settings: Any) -> Redactor:
        """A new ``Redactor`` for connection ``settings``: the values of every ``secret: true``
        parameter given literally (under any spelling of its name), and as ``variables`` the
        environment variables their ``env:`` references name. ``connect`` adds what the
        references resolve to."""
        literals, variables = secret_settings(self.manifest.connection_parameters, settings)
        return Redactor(literals, variables)

    def connect(
        self,
        settings: Mapping[str, Any],
        *,
        session: Any = None,
        redactor: Redactor | None = None,
    ) -> Connection:
        """Validate connection settings, resolve the API key reference, build the client.

        Args:
            settings: ``server_url``, ``api_key`` (literal or reference), ``api_version``,
                ``timeout`` (s), ``max_retry_time`` (s); display names are accepted too.
            session: a ``requests.Session`` to use (tests).
            redactor: the redactor to extend with the secrets (the CLI shares one with its log
                filter); a new one from ``redactor_for`` when None.

        Raises:
            ConnectionSettingsError: every problem, naming the setting; never the key.
        """
        found = self.redactor_for(settings)
        if redactor is None:
            redactor = found
        else:
            redactor.update(found)
        return self._connect(settings, session, redactor)

    def _connect(self, settings: Mapping[str, Any], session: Any, redactor: Redactor) -> Connection:
        """``connect`` with a redactor that already holds the secrets of ``settings``."""
        try:
            values = self._connection_validator.validate(settings, redactor=redactor)
        except ConnectionSettingsError:
            raise
        except InputError as exc:
            raise ConnectionSettingsError(exc.problems, hint=exc.hint) from None
        key = self.resolve_secret(values["api_key"])
        redactor.add([key])
        values["api_key"] = key
        try:
            client = OpsGenieClient(
                values["server_url"],
                key,
                values["api_version"],
                timeout=values["timeout"],
                max_retry_time=values["max_retry_time"],
                session=session,
            )
        except ValueError as exc:  # the resolved key cannot travel in a header
            raise ConnectionSettingsError(
                [{"parameter": "API Key", "id": "api_key", "message": f"API Key (api_key): {exc}"}]
            ) from None
        return Connection(settings=values, client=client, redactor=redactor)

    def resolve_secret(self, value: str) -> str:
        """The secret a setting names: the value itself, or what its reference (env:, file:,
        keyring:, a plugin scheme) resolves to.

        Raises:
            ConnectionSettingsError: naming the reference, never the secret.
        """
        reference = split_reference(value)
        if reference is None:
            return value.strip()
        scheme, rest = reference
        full = f"{scheme}:{rest}"
        try:
            resolved = self.plugin_manager.hook.opsgenie_resolve_secret(
                scheme=scheme, reference=rest
            )
        except OpsGenieIntegrationError:
            raise
        except Exception as exc:  # a vault plugin failed in its own way
            raise secret_error(
                full, f"the secret plugin for {scheme!r} failed ({type(exc).__name__})"
            ) from None
        if resolved is None:
            # it may be a mistyped literal key with a colon: name the scheme only
            raise secret_error(
                f"{scheme}:...",
                f"no secret resolver knows the scheme {scheme!r} "
                "(built in: env, file, keyring; others come from plugins)",
            )
        if not isinstance(resolved, str) or not resolved.strip():
            raise secret_error(full, f"the secret named by {full!r} is empty")
        return resolved.strip()

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
            inputs_by_id = registered.validator.validate(inputs, redactor=redactor)
            if isinstance(connection, Connection):
                active = connection
            elif connection is None:
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
                owned = active = self._connect(connection, None, redactor)
            self.plugin_manager.hook.opsgenie_before_command(command=display, inputs=inputs_by_id)
            event_source = self.manifest.event_source_for(definition.id) or {}
            context = CommandContext(
                inputs=inputs_by_id,
                client=active.client,
                command=definition,
                default_field_mapping=event_source.get("field_mapping"),
                manifest=self.manifest,
            )
            result = registered.handler(context)
            if result.error is not None:
                envelope = env.failure(display, result.error, result.raw_data, result.outputs)
            else:
                envelope = env.success(display, result.raw_data, result.outputs)
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
            envelope = redactor.value(envelope)
        except RecursionError:  # an answer nested beyond reason: keep the outcome, drop the data
            deep = OpsGenieIntegrationError(
                "OpsGenie's answer is nested too deeply to be returned.",
                hint="Check the Server URL: something other than OpsGenie may have answered.",
                error_type="bad_response",
            )
            envelope = redactor.value(env.failure(display, deep, None))
        try:
            self.plugin_manager.hook.opsgenie_after_command(
                command=display, envelope=envelope, seconds=time.monotonic() - started
            )
        except Exception:  # an audit hook must not change the outcome
            log.warning("An opsgenie_after_command hook failed", exc_info=True)
        return envelope


def unknown_command(command: Any, known: Iterable[CommandDefinition]) -> InputError:
    """The error for a command name no plugin provides, listing the commands there are."""
    names = ", ".join(c.name for c in known)
    return InputError(
        [
            {
                "parameter": "command",
                "id": "command",
                "message": f"Unknown command {command!r}. Commands: {names}.",
            }
        ]
    )
