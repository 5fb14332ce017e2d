"""From connection settings to a ``Connection``: validation, secret resolution, the network.

``Connector`` is the connecting half of ``Integration`` (its base class): ``connect`` checks the
settings (types and formats by ``connection.schema.json``, the API Key and Proxy references, the
proxy, CA bundle and Verify TLS, the Date Format and Time Zone), reporting every problem at once as
one ``errors.ConnectionSettingsError`` that names the settings and never a secret; resolves the
API key (``resolve_secret``: ``env:``, ``file:``, ``keyring:`` or a vault plugin's scheme through
the ``opsgenie_resolve_secret`` hook); resolves the proxy, CA bundle and verification with the
environment as fallback (``network_settings``); and builds the ``OpsGenieClient``. ``redactor_for``
gives the ``Redactor`` that hides the secrets of raw settings, before anything is validated.
Timeouts are in seconds (``timeout``, ``max_retry_time``, ``request_wait``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .client import OpsGenieClient
from .date_formats import (
    DateFormatError,
    TimeInputSettings,
    check_date_format,
    check_time_zone,
    time_input_settings,
)
from .errors import ConnectionSettingsError, InputError, OpsGenieIntegrationError
from .manifest import Manifest, load_json
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
from .secrets import secret_error, split_reference
from .validation import InputValidator

# the TLS warning keeps the logger it had before connecting left integration.py
log = logging.getLogger("opsgenie_integration.integration")


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


class Connector:
    """Connects with the manifest's connection parameters and the plugins' secret resolvers.

    Args:
        manifest: the loaded manifest (its connection parameters and schema).
        plugin_manager: the pluggy manager whose ``opsgenie_resolve_secret`` hook resolves
            secret references.
    """

    def __init__(self, manifest: Manifest, plugin_manager: Any) -> None:
        self.manifest = manifest
        self.plugin_manager = plugin_manager
        self._connection_validator = InputValidator(
            manifest.connection_parameters, load_json(manifest.connection_schema), noun="setting"
        )

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
