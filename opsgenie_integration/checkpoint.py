"""The Fetch Event checkpoint: where the next call continues.

A checkpoint is an opaque string, ``ck1.<base64url of JSON>``; the checkpoints of Fetch Event's
passes (``PassCheckpoint``, where alerts cannot be sorted by updatedAt: JSM Operations) are the
same family with the prefix ``cj1.``, and each kind refuses the other with a sentence saying so. Inside (subject to change, never
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
from dataclasses import dataclass, field

PREFIX = "ck1."
#: The prefix of the checkpoints of Fetch Event's passes (platforms that cannot sort by updatedAt).
PASS_PREFIX = "cj1."
#: Alerts of a pass's re-read band a pass checkpoint remembers for de-duplication.
MAX_TAIL = 2000
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
        if isinstance(text, str) and text.startswith(PASS_PREFIX):
            raise CheckpointError(
                "was made by Fetch Event against Jira Service Management, not OpsGenie; start "
                "again without a Checkpoint (with a Start Time) after switching the connection"
            )
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


def _tail_ok(value: object) -> bool:
    return (
        isinstance(value, dict)
        and len(value) <= MAX_TAIL
        and all(isinstance(k, str) and _is_ms(v) for k, v in value.items())
    )


@dataclass(frozen=True)
class PassCheckpoint:
    """Where the next Fetch Event call reading in passes continues (JSM; ``commands.fetch_passes``).
    Times are epoch ms (UTC).

    ``lo``/``hi``: the current pass's window (``hi`` None: the pass has not begun, it begins at
    ``lo`` on the next call); ``created``: the createdAt cursor (None: the pass starts at its
    beginning); ``ids``: ``{id: updatedAt}`` of the alerts consumed at ``created``; ``group``:
    inside the alerts of ``created``'s millisecond, the updatedAt from which they are still to be
    read (None: not inside a group), ``width``: the updatedAt width of the last window read
    there; ``end``: the fixed End Time or None; ``query``: the Search Condition's digest;
    ``tail``: ``{id: updatedAt}`` returned in this pass in its last ``REREAD_MS``; ``prev``: the
    same for the previous pass (skipped in this pass's re-read band); ``floor``: re-read never
    below this (set when ``tail`` had to be shortened).
    """

    lo: int
    hi: int | None
    created: int | None
    ids: dict[str, int]
    end: int | None
    query: str
    tail: dict[str, int] = field(default_factory=dict)
    prev: dict[str, int] = field(default_factory=dict)
    floor: int = 0
    group: int | None = None
    width: int | None = None

    def encode(self) -> str:
        payload = {
            "p": "jsm",
            "lo": self.lo,
            "hi": self.hi,
            "c": self.created,
            "ids": dict(sorted(self.ids.items())),
            "g": self.group,
            "w": self.width,
            "end": self.end,
            "q": self.query,
            "tail": dict(sorted(self.tail.items())),
            "prev": dict(sorted(self.prev.items())),
            "floor": self.floor,
        }
        data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return PASS_PREFIX + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> PassCheckpoint:
        """Parse a checkpoint string. Raises CheckpointError with a sentence for the user."""
        if isinstance(text, str) and text.startswith(PREFIX):
            raise CheckpointError(
                "was made by Fetch Event against OpsGenie, not Jira Service Management; start "
                "again without a Checkpoint (with a Start Time) after switching the connection"
            )
        if not isinstance(text, str) or not text.startswith(PASS_PREFIX):
            raise CheckpointError("is not a checkpoint from a Fetch Event result")
        body = text[len(PASS_PREFIX) :].strip()
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            raise CheckpointError(
                "is not a checkpoint from a Fetch Event result (it is damaged)"
            ) from None
        if not isinstance(payload, dict) or payload.get("p") != "jsm":
            raise CheckpointError("is not a checkpoint from a Fetch Event result")
        lo, hi, c, ids = payload.get("lo"), payload.get("hi"), payload.get("c"), payload.get("ids")
        end, q, floor = payload.get("end"), payload.get("q"), payload.get("floor", 0)
        tail, prev = payload.get("tail", {}), payload.get("prev", {})
        group, width = payload.get("g"), payload.get("w")
        if (
            not _is_ms(lo)
            or not (hi is None or _is_ms(hi))
            or not (c is None or _is_ms(c))
            or not isinstance(ids, dict)
            or len(ids) > MAX_SEEN_IDS
            or not all(isinstance(k, str) and _is_ms(v) for k, v in ids.items())
            or not (group is None or _is_ms(group))
            or not (width is None or (_is_ms(width) and width > 0))
            or not (end is None or _is_ms(end))
            or not isinstance(q, str)
            or not _is_ms(floor)
            or not _tail_ok(tail)
            or not _tail_ok(prev)
        ):
            raise CheckpointError(
                "is not a checkpoint from a Fetch Event result (fields are missing)"
            )
        return cls(lo, hi, c, dict(ids), end, q, dict(tail), dict(prev), floor, group, width)


def is_checkpoint(value: object) -> bool:
    """True when ``value`` decodes as a checkpoint of either kind (a JSON Schema format check)."""
    for kind in (Checkpoint, PassCheckpoint):
        try:
            kind.decode(value)  # type: ignore[arg-type]
        except CheckpointError:
            continue
        return True
    return False
