"""The inputs of the alert actions: responders, tags, details, times, and OpsGenie's limits.

Each parser takes what a playbook gives (text or the JSON value itself), returns what OpsGenie's
request body wants, and raises ``errors.InputError`` naming the input before any request is sent.

Limits, and how sure each figure is (see ``../shared/opsgenie/API.md``; the OpenAPI description
carries none of them):

=================  ==========================  ===========================================
field              limit                       source
=================  ==========================  ===========================================
message            130 characters              OpsGenie's documentation
alias              512 characters              OpsGenie's documentation
entity             512 characters              OpsGenie's documentation
tags               at most 20, 50 characters   OpsGenie's documentation
actions            at most 10, 50 characters   OpsGenie's documentation
description        15000 characters            partner copies of the Alert API table
details            8000 characters in all      partner copies of the Alert API table
user, source       100 characters              third-party copies only (unconfirmed)
note               25000 characters            third-party copies only (unconfirmed)
=================  ==========================  ===========================================
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from ..times import to_epoch_ms, utc_now
from ._answers import input_error

MAX_TAGS, MAX_TAG_LENGTH = 20, 50
MAX_ACTIONS, MAX_ACTION_LENGTH = 10, 50
MAX_DETAILS_CHARS = 8000
RESPONDER_TYPES = ("user", "team", "escalation", "schedule")
VISIBLE_TO_TYPES = ("user", "team")
IDENTIFIER_TYPES = {"id": "id", "alias": "alias", "tiny": "tiny", "tinyid": "tiny"}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MAX_ITEMS = 100  # responders or visibleTo entries accepted at most (far above any real use)


def looks_like_id(value: str) -> bool:
    """True when ``value`` is UUID-shaped (OpsGenie's ids of users, teams, escalations...)."""
    return bool(_UUID.match(value.strip()))


def _decode_json(value: str, title: str, input_id: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise input_error(title, input_id, "is not valid JSON") from None


# ---------------------------------------------------------------------------------- responders
def recipient(
    value: Any, title: str, input_id: str, types: tuple[str, ...] = RESPONDER_TYPES
) -> dict[str, str]:
    """One recipient as OpsGenie's body wants it: ``{"type", "id"}`` or ``{"type", "name"}``
    (``"username"`` for a user).

    Accepts ``"team:Ops"``, ``"user:jane@example.com"``, ``"escalation:<uuid>"`` (a UUID-shaped
    value is sent as ``id``), or an object ``{"type", "id"|"name"|"username"}``.

    Raises:
        errors.InputError: unknown type, nothing to name the recipient by, wrong shape.
    """
    if isinstance(value, str):
        kind, sep, name = value.partition(":")
        kind, name = kind.strip().lower(), name.strip()
        if not sep or not kind or not name:
            raise input_error(
                title, input_id, f"expected type:name such as team:Ops, got {value.strip()[:60]!r}"
            )
        if kind not in types:
            raise input_error(
                title, input_id, f"type {kind[:30]!r} is not one of {', '.join(types)}"
            )
        if looks_like_id(name):
            return {"type": kind, "id": name}
        return {"type": kind, "username" if kind == "user" else "name": name}
    if not isinstance(value, dict):
        raise input_error(
            title, input_id, "each recipient must be type:name text or an object {type, id | name}"
        )
    kind = value.get("type")
    if not isinstance(kind, str) or kind.strip().lower() not in types:
        raise input_error(title, input_id, f"each recipient needs a type among {', '.join(types)}")
    kind = kind.strip().lower()
    keys = ("id", "username") if kind == "user" else ("id", "name")
    named = {
        k: value[k].strip() for k in keys if isinstance(value.get(k), str) and value[k].strip()
    }
    if not named:
        raise input_error(title, input_id, f"a {kind} recipient needs {' or '.join(keys)} (text)")
    unknown = set(value) - {"type", *keys}
    if unknown:
        shown = ", ".join(sorted(map(str, unknown))[:3])
        raise input_error(title, input_id, f"unknown recipient field(s) {shown[:80]}")
    return {"type": kind, **named}


def recipients(
    value: Any, title: str, input_id: str, types: tuple[str, ...] = RESPONDER_TYPES
) -> list[dict[str, str]]:
    """Responders (or visibleTo) from JSON text (a list or one object), a JSON list, or a simple
    list ``team:Ops, user:jane@example.com`` (commas or new lines between entries).

    Raises:
        errors.InputError: see ``recipient``; also an empty list or more than 100 entries.
    """
    items: list[Any]
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            decoded = _decode_json(text, title, input_id)
            items = decoded if isinstance(decoded, list) else [decoded]
        else:
            items = [part for part in re.split(r"[,\n]", text) if part.strip()]
    elif isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        items = [value]
    else:
        raise input_error(title, input_id, "expected a list of recipients")
    if not items:
        raise input_error(title, input_id, "names no recipient")
    if len(items) > _MAX_ITEMS:
        raise input_error(title, input_id, f"names more than {_MAX_ITEMS} recipients")
    found: list[dict[str, str]] = []
    for item in items:
        one = recipient(item, title, input_id, types)
        if one not in found:
            found.append(one)
    return found


# ---------------------------------------------------------------------------------- tags, details
def text_list(
    value: Any, title: str, input_id: str, most: int, longest: int, noun: str = "tag"
) -> list[str]:
    """Tags, actions or keys from comma-separated text, JSON list text, or a list of strings;
    blanks dropped, duplicates removed (first kept).

    Raises:
        errors.InputError: none left, more than ``most``, one longer than ``longest``, a comma in
            a value given as a list (it would split when sent comma-separated).
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = _decode_json(text, title, input_id)
        else:
            value = text.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise input_error(title, input_id, f"expected comma-separated text or a list of {noun}s")
    items = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if not items:
        raise input_error(title, input_id, f"names no {noun}")
    if len(items) > most:
        raise input_error(title, input_id, f"at most {most} {noun}s, got {len(items)}")
    long = [v for v in items if len(v) > longest]
    if long:
        raise input_error(
            title, input_id, f"each {noun} is at most {longest} characters ({long[0][:20]!r}...)"
        )
    return items


def details(value: Any, title: str, input_id: str) -> dict[str, str]:
    """Custom properties from a JSON object (text or value) or ``key=value`` lines. Numbers and
    booleans become text; keys are stripped; values kept as given.

    Raises:
        errors.InputError: not an object, an empty or repeated key, a nested or null value, a
            line without ``=``, more than 8000 characters in all (keys and values).
    """
    pairs: list[tuple[str, Any]]
    if isinstance(value, str) and value.strip().startswith("{"):
        value = _decode_json(value.strip(), title, input_id)
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, str):
        pairs = []
        for number, line in enumerate(value.splitlines(), 1):
            if not line.strip():
                continue
            key, sep, val = line.partition("=")
            if not sep:
                raise input_error(title, input_id, f"line {number} has no '=' (key=value)")
            pairs.append((key, val.strip()))
    else:
        raise input_error(title, input_id, "expected a JSON object or key=value lines")
    out: dict[str, str] = {}
    for key, val in pairs:
        key = str(key).strip()
        if not key:
            raise input_error(title, input_id, "a key is empty")
        if key in out:
            raise input_error(title, input_id, f"the key {key[:40]!r} is given twice")
        if isinstance(val, bool):
            val = "true" if val else "false"
        elif isinstance(val, (int, float)) and val == val and abs(val) != float("inf"):
            val = str(val)
        if not isinstance(val, str):
            raise input_error(
                title, input_id, f"the value of {key[:40]!r} must be text, a number or a boolean"
            )
        out[key] = val
    if not out:
        raise input_error(title, input_id, "names no key")
    size = sum(len(k) + len(v) for k, v in out.items())
    if size > MAX_DETAILS_CHARS:
        raise input_error(
            title,
            input_id,
            f"at most {MAX_DETAILS_CHARS} characters in all (keys and values), got {size}",
        )
    return out


# ---------------------------------------------------------------------------------- time, identifiers
def future_time(moment: datetime, title: str, input_id: str, now: datetime | None = None) -> str:
    """``moment`` (already read from the input) as OpsGenie's date-time
    (``2024-03-07T00:00:00.000Z``, UTC).

    Raises:
        errors.InputError: not after ``now``.
    """
    now = now or utc_now()
    if to_epoch_ms(moment) <= to_epoch_ms(now):
        raise input_error(title, input_id, "must be in the future")
    ms = to_epoch_ms(moment)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def identifier_type(value: str | None) -> str:
    """OpsGenie's ``identifierType`` for the Identifier Type input (``id`` by default)."""
    return IDENTIFIER_TYPES.get((value or "id").strip().lower(), "id")
