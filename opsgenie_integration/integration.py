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
from .date_formats import (
    DateFormatError,
    TimeInputSettings,
    check_date_format,
    check_time_zone,
    time_input_settings,
)
from .errors import ConnectionSettingsError, InputError, OpsGenieIntegrationError
from .manifest import CommandDefinition, Manifest, load_json, load_manifest
from .network import (
    NetworkSettingError,
    NetworkSettings,
    check_ca_bundle,
    check_proxy_url,
    check_verify_tls,
    proxy_secrets,
    resolve_network,
)
from .redact import Redactor, secret_settings, secret_values
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
    time_inputs: TimeInputSettings = TimeInputSettings()

    @property
    def network(self) -> NetworkSettings:
        """The proxy, CA bundle and verification every request of this connection uses."""
        return self.client.network

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
        environment variables their ``env:`` references name, and what each reference resolves
        to, when it does (tried once, before any validation, so that a refused setting or input
        that holds the key never shows it; ``connect`` reuses the answer, see
        ``Redactor.resolved``, and reports a reference that does not resolve). The password of
        a literal ``proxy`` URL is hidden too (the proxy itself may be named)."""
        parameters = self.manifest.connection_parameters
        literals, variables = secret_settings(parameters, settings)
        if isinstance(settings, Mapping):
            for name, value in settings.items():
                if isinstance(name, str) and name.strip().lower() == "proxy":
                    literals.extend(proxy_secrets(value))
        redactor = Redactor(literals, variables)
        for value in secret_values(parameters, settings):
            if split_reference(value) is None:
                continue
            try:
                resolved = self.resolve_secret(value)
            except OpsGenieIntegrationError:
                continue  # connect reports it, naming the reference
            redactor.resolved[value] = resolved
            redactor.add([resolved])
        return redactor

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
                ``timeout`` (s), ``max_retry_time`` (s), ``proxy`` (URL or reference),
                ``ca_bundle`` (PEM path), ``verify_tls``, ``date_format``, ``time_zone``,
                ``request_wait`` (s);
                display names are accepted too. Absent proxy / CA settings fall back to the
                environment (``network.resolve_network``).
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
        """``connect`` with a redactor that already holds the secrets of ``settings``.

        Every problem is collected before raising: the settings' types and formats, the API Key
        reference (and a Proxy reference), the proxy, CA bundle and Verify TLS values, and the
        Date Format and Time Zone; only the environment's proxy and CA variables are read once
        the settings themselves pass."""
        values, problems, hint = self._connection_validator.check(settings, redactor=redactor)
        hints = [hint] if hint else []

        def failed(exc: InputError) -> None:
            problems.extend(p for p in exc.problems if p["id"] not in {q["id"] for q in problems})
            if exc.hint and exc.hint not in hints:
                hints.append(exc.hint)

        key = None
        if "api_key" in values:
            raw_key = values["api_key"]
            try:
                key = redactor.resolved.get(raw_key) or self.resolve_secret(raw_key)
            except ConnectionSettingsError as exc:
                failed(exc)
            else:
                redactor.add([key])
                values["api_key"] = key
        refused = {p["id"] for p in problems}
        network = self._checked_network(values, redactor, failed, refused)
        time_inputs = TimeInputSettings()
        for setting, title, check in (
            ("date_format", "Date Format", check_date_format),
            ("time_zone", "Time Zone", check_time_zone),
        ):
            if values.get(setting) in (None, ""):
                continue
            try:
                check(values[setting])
            except DateFormatError as exc:
                text = str(exc).split(": ", 1)[-1]
                problems.append(
                    {"parameter": title, "id": setting, "message": f"{title} ({setting}): {text}"}
                )
        if not {"date_format", "time_zone"} & {p["id"] for p in problems}:
            time_inputs = time_input_settings(values.get("date_format"), values.get("time_zone"))
        if problems or network is None or key is None:
            order = [p.id for p in self.manifest.connection_parameters]
            problems.sort(key=lambda p: order.index(p["id"]) if p["id"] in order else len(order))
            raise ConnectionSettingsError(problems, hint=" ".join(hints) or None)
        try:
            client = OpsGenieClient(
                values["server_url"],
                key,
                values["api_version"],
                timeout=values["timeout"],
                max_retry_time=values["max_retry_time"],
                request_wait=values["request_wait"],
                session=session,
                network=network,
                redactor=redactor,
            )
        except ValueError as exc:  # the resolved key cannot travel in a header
            raise ConnectionSettingsError(
                [{"parameter": "API Key", "id": "api_key", "message": f"API Key (api_key): {exc}"}]
            ) from None
        if not network.verify_tls:
            log.warning(
                "TLS certificate verification is off (verify_tls: false): anyone on the network "
                "path to %s can read and change this connection's traffic, the API key included.",
                client.base_url,
            )
        return Connection(
            settings=values, client=client, redactor=redactor, time_inputs=time_inputs
        )

    def _checked_network(
        self, values: dict[str, Any], redactor: Redactor, failed: Any, refused: set[str]
    ) -> NetworkSettings | None:
        """The network settings of ``values``, or None after passing each problem to ``failed``:
        the Proxy (its reference resolved), CA Bundle and Verify TLS are checked one by one, so
        that all of them are reported together; the environment is read only when they pass."""
        checks = (
            ("proxy", "Proxy", check_proxy_url),
            ("ca_bundle", "CA Bundle", check_ca_bundle),
            ("verify_tls", "Verify TLS", check_verify_tls),
        )
        literal = dict(values)
        bad = bool(refused & {setting for setting, _, _ in checks})
        for setting, title, check in checks:
            value = values.get(setting)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                if setting == "proxy":
                    text = str(value).strip()
                    if "://" not in text and split_reference(text):
                        value = self.resolve_secret(text, parameter=(title, setting))
                    redactor.add(proxy_secrets(value))
                    literal[setting] = value
                check(value)
            except ConnectionSettingsError as exc:
                failed(exc)
                bad = True
            except NetworkSettingError as exc:
                text = str(exc)
                if text.startswith(f"{exc.setting}: "):
                    text = text[len(exc.setting) + 2 :]
                failed(
                    ConnectionSettingsError(
                        [
                            {
                                "parameter": title,
                                "id": setting,
                                "message": f"{title} ({setting}): {text}",
                            }
                        ]
                    )
                )
                bad = True
        if bad:
            return None
        try:
            return self.network_settings(literal, redactor)
        except ConnectionSettingsError as exc:
            failed(exc)
            return None

    def _time_inputs_of(self, settings: Any) -> TimeInputSettings | None:
        """The Date Format and Time Zone of raw connection ``settings`` (any spelling), for
        reading time inputs before connecting; None when either cannot be used (the connection
        reports it) or the settings are not a mapping."""
        if settings is None:
            return TimeInputSettings()
        if not isinstance(settings, Mapping):
            return None
        given = self._connection_validator.by_id(settings)
        try:
            return time_input_settings(given.get("date_format"), given.get("time_zone"))
        except DateFormatError:
            return None

    def network_for(self, settings: Any, redactor: Redactor) -> NetworkSettings:
        """The proxy, CA bundle and verification of raw connection ``settings`` (any spelling),
        for requests made outside a command (the health check's webhook): the same resolution
        as ``connect``. Settings that do not validate leave the environment alone to decide
        (``connect`` reports them when the check runs).

        Raises:
            ConnectionSettingsError: an unusable proxy, CA bundle or environment variable.
        """
        try:
            values = self._connection_validator.validate(settings, redactor=redactor)
        except InputError:
            values = {}
        return self.network_settings(values, redactor)

    def network_settings(self, values: Mapping[str, Any], redactor: Redactor) -> NetworkSettings:
        """Resolve ``proxy`` (a URL, or a secret reference to one), ``ca_bundle`` and
        ``verify_tls`` of validated settings, with the environment as fallback. The proxy's
        password (the setting's or a proxy variable's) joins ``redactor``. The proxy variable
        chosen for the Server URL (``server_url`` of ``values``) is checked too; variables not
        used for it (bypassed by NO_PROXY, or of another scheme) are never checked.

        Raises:
            ConnectionSettingsError: naming the setting or the environment variable at fault.
        """
        proxy = values.get("proxy")
        if isinstance(proxy, str) and proxy.strip():
            text = proxy.strip()
            if "://" not in text and split_reference(text):  # env:NAME, file:PATH, vault:...
                proxy = self.resolve_secret(text, parameter=("Proxy", "proxy"))
            redactor.add(proxy_secrets(proxy))
        try:
            network = resolve_network(proxy, values.get("ca_bundle"), values.get("verify_tls"))
            for _scheme, url, _variable in network.environ_proxies:
                redactor.add(proxy_secrets(url))
            if isinstance(values.get("server_url"), str):
                network.proxy_for(values["server_url"])
            return network
        except NetworkSettingError as exc:
            titles = {"proxy": "Proxy", "ca_bundle": "CA Bundle", "verify_tls": "Verify TLS"}
            text = str(exc)
            if text.startswith(f"{exc.setting}: "):
                text = text[len(exc.setting) + 2 :]
            if exc.setting in titles:
                title, hint = titles[exc.setting], None
                message = f"{title} ({exc.setting}): {text}"
            else:  # an environment variable
                title, message = exc.setting, f"{exc.setting}: {text}"
                hint = (
                    f"The environment variable {exc.setting} is used because the connection has "
                    "no such setting; fix or unset it, or set the setting."
                )
            raise ConnectionSettingsError(
                [{"parameter": title, "id": exc.setting, "message": message}], hint=hint
            ) from None

    def resolve_secret(
        self, value: str, *, parameter: tuple[str, str] = ("API Key", "api_key")
    ) -> str:
        """The secret a setting names: the value itself, or what its reference (env:, file:,
        keyring:, a plugin scheme) resolves to. ``parameter``: (title, id) of the setting, for
        the error.

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
        except ConnectionSettingsError as exc:
            if parameter[1] == "api_key":
                raise
            title, setting = parameter
            problems = [
                {
                    "parameter": title,
                    "id": setting,
                    "message": str(p.get("message", "")).replace(
                        "API Key (api_key)", f"{title} ({setting})"
                    ),
                }
                for p in exc.problems
            ]
            raise ConnectionSettingsError(problems, hint=exc.hint) from None
        except OpsGenieIntegrationError:
            raise
        except Exception as exc:  # a vault plugin failed in its own way
            raise secret_error(
                full, f"the secret plugin for {scheme!r} failed ({type(exc).__name__})", parameter
            ) from None
        if resolved is None:
            # it may be a mistyped literal key with a colon: name the scheme only when it cannot be
            # the start of a key (a key is hex digits and dashes: a scheme with a digit may be one)
            shown = scheme if not any(ch.isdigit() for ch in scheme) else None
            raise secret_error(
                f"{shown}:..." if shown else f"the {parameter[0]} setting",
                (
                    f"no secret resolver knows the scheme {shown!r}"
                    if shown
                    else "the value holds a ':' so it is read as a secret reference, and no secret "
                    "resolver knows its scheme (not shown: it may be part of a key)"
                )
                + " (built in: env, file, keyring; others come from plugins)",
                parameter,
            )
        if not isinstance(resolved, str) or not resolved.strip():
            raise secret_error(full, f"the secret named by {full!r} is empty", parameter)
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
