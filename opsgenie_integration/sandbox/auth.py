"""API keys: format check, region, access rights -- answered like OpsGenie.

``Authorization: GenieKey <key>``. A key that is not UUID-shaped answers 422 ``Key format is not
valid!``; a missing header, another scheme, an unknown key or a key of the other region answers
401 ``Could not authenticate``; a key without the endpoint's right answers 403 with code 40301.

Team-scoped keys (the key of a team's own API integration, ``team`` set to the team's id) are
refused with 403/40301 on account-level requests (``GET /v2/account``, ``/v2/users``...); what
they may read is narrowed to their team by the endpoints (see ``api.py``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

RIGHTS = ("read", "create_update", "delete", "configuration")
RIGHT_NAMES = {
    "read": "Read",
    "create_update": "Create and update",
    "delete": "Delete",
    "configuration": "Configuration access",
}
_KEY_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_HEADER_RE = re.compile(r"^\s*GenieKey\s+(\S*)\s*$", re.IGNORECASE)

FORBIDDEN_CODE = 40301


@dataclass(frozen=True)
class AuthFailure:
    """Why a request is refused: HTTP ``status``, OpsGenie ``message`` and optional ``code``."""

    status: int
    message: str
    code: int | None = None


def is_key_format_valid(key: str) -> bool:
    """True when ``key`` looks like an OpsGenie API key (a UUID)."""
    return bool(_KEY_RE.match(key))


def _check_rights(rights: Iterable[str]) -> frozenset[str]:
    found = frozenset(rights)
    unknown = found - set(RIGHTS)
    if unknown:
        raise ValueError(f"unknown right(s) {sorted(unknown)}; rights are {list(RIGHTS)}")
    return found


TEAM_KEY_MESSAGE = (
    "You are not authorized to perform this action: the API key of a team integration can only "
    "be used for the alerts and configurations of its team."
)


@dataclass(frozen=True)
class KeyGrant:
    """What an accepted key may do: its ``rights`` and, for a team integration's key, the
    ``team`` id it is limited to (None: an account-wide key)."""

    rights: frozenset[str]
    team: str | None = None


class KeyRing:
    """The API keys the sandbox knows: key -> (region, rights, team). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[str, frozenset[str], str | None]] = {}

    def add(
        self, key: str, rights: Iterable[str] = RIGHTS, region: str = "us", team: str | None = None
    ) -> None:
        """Register ``key`` (UUID-shaped) for ``region`` with ``rights`` (see RIGHTS); ``team``
        (a team id) makes it a team integration's key, limited to that team."""
        if not is_key_format_valid(key):
            raise ValueError("an API key must look like a UUID (8-4-4-4-12 hex digits)")
        checked = _check_rights(rights)
        with self._lock:
            self._keys[key] = (region, checked, team)

    def set_rights(self, key: str, rights: Iterable[str]) -> None:
        """Replace the rights of a known key. Raises KeyError for an unknown key."""
        checked = _check_rights(rights)
        with self._lock:
            region, _, team = self._keys[key]
            self._keys[key] = (region, checked, team)

    def grant(self, header: str | None) -> KeyGrant | None:
        """The grant of the key in an ``Authorization`` header value (None when unknown)."""
        match = _HEADER_RE.match(header or "")
        if not match:
            return None
        with self._lock:
            entry = self._keys.get(match.group(1))
        return KeyGrant(entry[1], entry[2]) if entry else None

    def remove(self, key: str) -> None:
        """Forget ``key`` (requests with it then answer 401)."""
        with self._lock:
            self._keys.pop(key, None)

    def check(
        self, header: str | None, region: str, right: str | None, account_level: bool = False
    ) -> AuthFailure | None:
        """None when the ``Authorization`` header value grants ``right`` in ``region`` (and, for
        an ``account_level`` request, the key is not a team integration's)."""
        match = _HEADER_RE.match(header or "")
        if not match:
            return AuthFailure(401, "Could not authenticate")
        key = match.group(1)
        if not is_key_format_valid(key):
            return AuthFailure(422, "Key format is not valid!")
        with self._lock:
            entry = self._keys.get(key)
        if entry is None or entry[0] != region:
            return AuthFailure(401, "Could not authenticate")
        if right is not None and right not in entry[1]:
            return AuthFailure(
                403,
                f"You are not authorized to perform this action: the API key lacks the "
                f"'{RIGHT_NAMES[right]}' right.",
                FORBIDDEN_CODE,
            )
        if account_level and entry[2] is not None:
            return AuthFailure(403, TEAM_KEY_MESSAGE, FORBIDDEN_CODE)
        return None
