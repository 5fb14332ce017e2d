"""The Fetch Event checkpoint: where the next call continues.

A checkpoint is an opaque string, ``ck1.<base64url of JSON>``. Inside (subject to change, never
parse it outside this module)::

    {"t": <updatedAt cursor, epoch ms>,
     "ids": [<ids of the alerts already returned whose updatedAt == t>],
     "end": <window end, epoch ms, or null for "now at each call">,
     "q": <digest of the Search Condition it was made for>}

The next call asks for ``updatedAt >= t`` and skips the alerts in ``ids``: the window moves forward
by ``updatedAt`` (never by a deep offset), alerts sharing the cursor's millisecond are neither
repeated nor lost, and an alert updated again later is a new event. A checkpoint only moves
forward, and only when a call succeeds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

PREFIX = "ck1."
MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z
#: More alerts than this sharing one millisecond cannot be paged (the 20,000 offset cap).
MAX_SEEN_IDS = 19_900


class CheckpointError(ValueError):
    """The string is not a checkpoint made by Fetch Event (or was made for another query)."""


def query_digest(query: str | None) -> str:
    """Short digest of a Search Condition (ends stripped, nothing else: spaces inside quotes matter)
    to tie a checkpoint to it."""
    return hashlib.sha256((query or "").strip().encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class Checkpoint:
    """Decoded checkpoint. ``updated_at`` and ``end`` are epoch ms (UTC)."""

    updated_at: int
    seen_ids: frozenset[str]
    end: int | None
    query: str

    def encode(self) -> str:
        payload = {
            "t": self.updated_at,
            "ids": sorted(self.seen_ids),
            "end": self.end,
            "q": self.query,
        }
        data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return PREFIX + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Checkpoint:
        """Parse a checkpoint string.

        Raises:
            CheckpointError: not a checkpoint of this integration.
        """
        if not isinstance(text, str) or not text.startswith(PREFIX):
            raise CheckpointError(
                "is not a checkpoint from a Fetch Event result (it starts with ck1.)"
            )
        body = text[len(PREFIX) :].strip()
        try:
            data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            payload = json.loads(data.decode("utf-8"))
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            raise CheckpointError(
                "is not a checkpoint from a Fetch Event result (it is damaged)"
            ) from None
        if not isinstance(payload, dict):
            raise CheckpointError("is not a checkpoint from a Fetch Event result")
        t, ids, end, q = payload.get("t"), payload.get("ids"), payload.get("end"), payload.get("q")
        if (
            not _is_ms(t)
            or not isinstance(ids, list)
            or not all(isinstance(i, str) for i in ids)
            or not (end is None or _is_ms(end))
            or not isinstance(q, str)
            or len(ids) > MAX_SEEN_IDS
        ):
            raise CheckpointError(
                "is not a checkpoint from a Fetch Event result (fields are missing)"
            )
        return cls(updated_at=t, seen_ids=frozenset(ids), end=end, query=q)


def _is_ms(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MS


def is_checkpoint(value: object) -> bool:
    """True when ``value`` decodes as a checkpoint (a JSON Schema format check)."""
    try:
        Checkpoint.decode(value)  # type: ignore[arg-type]
    except CheckpointError:
        return False
    return True
