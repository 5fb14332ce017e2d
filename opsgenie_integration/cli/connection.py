"""Where a CLI action's connection comes from: ``--connection FILE``, the environment, or an
embedded ``--sandbox``; and the hint printed when none was given."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, TextIO

import yaml

from .. import envelope as env
from ..errors import ConnectionSettingsError
from ..files import UserFileError, read_user_text
from ..manifest import fold_name, load_yaml
from ..resources import data_path

ENV_SETTINGS = {
    "server_url": "OPSGENIE_SERVER_URL",
    "api_key": "OPSGENIE_API_KEY",
    "api_version": "OPSGENIE_API_VERSION",
}

NO_CONNECTION_HINT = (
    "Give the connection with --connection FILE (YAML or JSON: server_url, api_key), or with the "
    "OPSGENIE_API_KEY and OPSGENIE_SERVER_URL environment variables; or try --sandbox."
)

MAX_SANDBOX_ALERTS = 200_000


@lru_cache(maxsize=1)
def connection_setting_ids() -> tuple[str, ...]:
    """The ids of the manifest's connection settings, in its order (for ``--connection``'s help:
    read from ``integration.yaml`` as it is, without loading the integration)."""
    try:
        raw = load_yaml(data_path("integration.yaml").read_text(encoding="utf-8"))
        return tuple(str(p["id"]) for p in raw["connection"]["parameters"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):  # load_manifest reports it
        return tuple(ENV_SETTINGS)


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--connection FILE`` / ``--sandbox`` / ``--sandbox-alerts N``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--connection",
        "-c",
        metavar="FILE",
        help=f"connection settings, YAML or JSON ({', '.join(connection_setting_ids())}); "
        "default: the OPSGENIE_SERVER_URL / OPSGENIE_API_KEY / OPSGENIE_API_VERSION environment",
    )
    group.add_argument(
        "--sandbox",
        action="store_true",
        help="start the embedded OpsGenie sandbox on a free loopback port and use it",
    )
    parser.add_argument(
        "--sandbox-alerts",
        type=_alert_count,
        default=500,
        metavar="N",
        help=f"alerts seeded in the --sandbox (0..{MAX_SANDBOX_ALERTS}, default 500)",
    )


def _alert_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_SANDBOX_ALERTS:
        raise argparse.ArgumentTypeError(f"expected 0 to {MAX_SANDBOX_ALERTS}")
    return value


_API_KEY = fold_name("api_key")


def _key_given(settings: Any) -> bool:
    """Whether ``settings`` hold a non-empty API Key under any spelling of its name."""
    return isinstance(settings, Mapping) and any(
        isinstance(name, str) and fold_name(name) == _API_KEY and value
        for name, value in settings.items()
    )


def add_connection_hint(exc: Exception, settings: Any) -> None:
    """Say where a connection comes from when the settings lack the API Key (any spelling)."""
    if getattr(exc, "hint", None) is None and not _key_given(settings):
        exc.hint = NO_CONNECTION_HINT  # type: ignore[attr-defined]


def with_connection_hint(envelope: dict[str, Any], settings: Any) -> dict[str, Any]:
    """``envelope`` with ``NO_CONNECTION_HINT`` in its error when its connection settings were
    refused (error type ``configuration``, or ``validation`` when bad inputs came with them) and
    they lack the API Key (any spelling)."""
    error = envelope.get("error")
    if not isinstance(error, dict) or error.get("type") not in ("configuration", "validation"):
        return envelope
    if error.get("hint") is not None or _key_given(settings):
        return envelope
    text = env.error_text(
        envelope["command"], error.get("status_code"), error["message"], NO_CONNECTION_HINT
    )
    return {**envelope, "error": {**error, "hint": NO_CONNECTION_HINT, "text": text}}


def load_connection_settings(
    path: str | None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Connection settings from ``--connection FILE`` (YAML or JSON), else the environment
    (``ENV_SETTINGS``).

    Raises:
        errors.ConnectionSettingsError: the file cannot be read or is not a mapping.
    """
    if not path:
        environ = os.environ if environ is None else environ
        return {key: environ[var] for key, var in ENV_SETTINGS.items() if environ.get(var)}

    def problem(text: str) -> ConnectionSettingsError:
        message = f"--connection {path!r}: {text}"
        return ConnectionSettingsError(
            [{"parameter": "--connection", "id": "connection", "message": message}]
        )

    try:
        text = read_user_text(path)
    except FileNotFoundError:
        raise problem("does not exist") from None
    except UserFileError as exc:
        raise problem(str(exc)) from None
    try:
        settings = load_yaml(text, untrusted=True)  # YAML is a superset of JSON
    except (yaml.YAMLError, RecursionError):
        raise problem("is not valid YAML or JSON") from None
    except ValueError as exc:
        raise problem(str(exc)) from None
    if not isinstance(settings, dict):
        raise problem(
            f"must be a mapping of setting: value ({', '.join(connection_setting_ids())})"
        )
    return settings


class SandboxConnection:
    """Context manager: the settings to use, from ``--connection``/the environment or from a
    ``--sandbox`` started on entry and stopped on exit.

    Raises (on entry):
        errors.ConnectionSettingsError: the ``--connection`` file cannot be used.
    """

    def __init__(self, args: argparse.Namespace, stderr: TextIO) -> None:
        self.args = args
        self.stderr = stderr
        self._sandbox: Any = None

    def __enter__(self) -> dict[str, Any]:
        if getattr(self.args, "sandbox", False):
            from ..sandbox import Sandbox  # lazy: start-up (only --sandbox pays for it)

            self._sandbox = Sandbox(alerts=self.args.sandbox_alerts)
            self._sandbox.start()
            self.stderr.write(
                f"opsgenie-integration: using the embedded sandbox at {self._sandbox.url}\n"
            )
            return dict(self._sandbox.connection)
        return load_connection_settings(self.args.connection)

    def __exit__(self, *exc: object) -> None:
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None
