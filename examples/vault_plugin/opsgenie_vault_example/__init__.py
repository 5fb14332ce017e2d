"""An example password-vault plugin for opsgenie-integration: the ``vault:`` secret scheme.

``vault:PATH`` (``PATH`` like ``ops/opsgenie``) names a string in the JSON file given by the
``OPSGENIE_VAULT_FILE`` environment variable: each ``/``-separated part is a key of a nested
object. A real plugin would call its vault's client where this one reads the file.

Registered through the ``opsgenie_integration`` entry-point group (see ``pyproject.toml``), or
directly: ``Integration.load(plugins=[opsgenie_vault_example])``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from opsgenie_integration.command import hookimpl
from opsgenie_integration.errors import ConnectionSettingsError

SCHEME = "vault"
FILE_VARIABLE = "OPSGENIE_VAULT_FILE"


def _error(reference: str, text: str) -> ConnectionSettingsError:
    """The error for an unresolvable ``reference``: it names the reference, never a secret."""
    return ConnectionSettingsError(
        [{"parameter": "API Key", "id": "api_key", "message": f"API Key (api_key): {text}"}],
        hint=f"Check the secret reference {reference!r} and the vault file named by {FILE_VARIABLE}.",
    )


def _load_vault(reference: str) -> Any:
    path = os.environ.get(FILE_VARIABLE, "").strip()
    if not path:
        raise _error(reference, f"{FILE_VARIABLE} is not set; it must name the vault's JSON file")
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise _error(reference, f"the vault file cannot be read ({why})") from None
    except ValueError:  # the decoder's message may quote the file: never show it
        raise _error(reference, "the vault file is not valid JSON") from None


@hookimpl
def opsgenie_resolve_secret(scheme: str, reference: str) -> str | None:
    """Resolve ``vault:PATH`` to the string stored at ``PATH``; ``None`` for other schemes.

    Raises:
        ConnectionSettingsError: the vault file is not set, unreadable or not JSON, or holds no
            non-empty string at ``PATH``. The message names the reference, never the secret.
    """
    if scheme != SCHEME:
        return None
    full = f"{scheme}:{reference}"
    parts = [part for part in reference.strip().split("/") if part]
    if not parts:
        raise _error(
            full, f"{full!r} names no entry; expected vault:PATH such as vault:ops/opsgenie"
        )
    node = _load_vault(full)
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            raise _error(full, f"the vault holds no entry {full!r}")
        node = node[part]
    if not isinstance(node, str) or not node.strip():
        raise _error(full, f"the vault entry {full!r} is not a non-empty string")
    return node.strip()
