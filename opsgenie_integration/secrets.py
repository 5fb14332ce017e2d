"""Built-in secret references for the API Key: ``env:NAME``, ``file:PATH``, ``keyring:SERVICE/USERNAME``.

A value that starts with ``<scheme>:`` is a reference; anything else is the key itself (OpsGenie
keys are UUIDs and never contain a colon). Other schemes are resolved by plugins through the
``opsgenie_resolve_secret`` hook, so a host can plug in its own vault. Errors name the reference,
never the secret.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

from .command import hookimpl
from .errors import ConnectionSettingsError

log = logging.getLogger(__name__)

_REFERENCE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31}):(.*)$", re.DOTALL)


def split_reference(value: str) -> tuple[str, str] | None:
    """``("env", "NAME")`` for ``env:NAME``; ``None`` when ``value`` is a literal key."""
    match = _REFERENCE.match(value.strip())
    if not match:
        return None
    return match.group(1).lower(), match.group(2)


def secret_error(
    reference: str, text: str, parameter: tuple[str, str] = ("API Key", "api_key")
) -> ConnectionSettingsError:
    """A ``ConnectionSettingsError`` on the setting ``parameter`` (title, id; the API Key by
    default) whose hint names ``reference`` (never the secret)."""
    title, setting = parameter
    return ConnectionSettingsError(
        [{"parameter": title, "id": setting, "message": f"{title} ({setting}): {text}"}],
        hint=f"Check the secret reference {reference!r}.",
    )


@hookimpl(trylast=True)
def opsgenie_resolve_secret(scheme: str, reference: str) -> str | None:
    full = f"{scheme}:{reference}"
    if scheme == "env":
        name = reference.strip()
        value = os.environ.get(name)
        if not name or value is None or not value.strip():
            raise secret_error(
                full, f"the environment variable {name!r} named by {full!r} is not set or empty"
            )
        return value.strip()
    if scheme == "file":
        path = Path(os.path.expanduser(reference.strip()))
        try:
            mode = path.stat().st_mode
            if not stat.S_ISREG(mode):  # a FIFO would block, /dev/zero would never end
                raise secret_error(full, f"the path named by {full!r} is not a regular file")
            with open(path, encoding="utf-8-sig") as handle:  # -sig: a BOM is not part of the key
                first = handle.readline(65536).strip()
        except OSError as exc:
            raise secret_error(
                full,
                f"the file named by {full!r} cannot be read ({exc.strerror or type(exc).__name__})",
            ) from None
        except UnicodeDecodeError:
            raise secret_error(full, f"the file named by {full!r} is not UTF-8 text") from None
        if mode & stat.S_IROTH:
            log.warning(
                "The secret file %s is readable by every user of this host; chmod 600 it.", path
            )
        if not first:
            raise secret_error(full, f"the first line of the file named by {full!r} is empty")
        return first
    if scheme == "keyring":
        service, _, username = reference.partition("/")
        if not service or not username:
            raise secret_error(full, f"{full!r} must be keyring:SERVICE/USERNAME")
        try:
            import keyring  # lazy: optional extra (pip install opsgenie-integration[keyring])
            from keyring.errors import KeyringError
        except ImportError:
            raise secret_error(
                full,
                f"{full!r} needs the keyring package (pip install keyring, or install opsgenie-integration[keyring])",
            ) from None
        try:
            value = keyring.get_password(service, username)
        except KeyringError as exc:
            raise secret_error(
                full, f"the keyring could not be read for {full!r} ({type(exc).__name__})"
            ) from None
        if not value:
            raise secret_error(full, f"no password is stored in the keyring for {full!r}")
        return value.strip()
    return None
