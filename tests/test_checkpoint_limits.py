"""The checkpoint's limits as literal numbers (not read back from the module), its immutability,
and ``is_checkpoint`` answering exactly True or False (it is a JSON Schema format check)."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import datetime, timezone

import pytest

from opsgenie_integration.checkpoint import Checkpoint, CheckpointError, is_checkpoint, query_digest
from opsgenie_integration.times import to_epoch_ms

LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
GOOD = {"t": 1_700_000_000_000, "ids": ["a"], "end": None, "q": query_digest(None)}


def _raw(payload: object) -> str:
    data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return "ck1." + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def test_the_last_millisecond_is_the_end_of_year_9999():
    assert LAST_MS == to_epoch_ms(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc))


@pytest.mark.parametrize("field, attribute", [("t", "updated_at"), ("end", "end")])
def test_the_last_millisecond_of_9999_is_accepted_the_next_one_refused(field, attribute):
    decoded = Checkpoint.decode(_raw({**GOOD, field: LAST_MS}))
    assert getattr(decoded, attribute) == LAST_MS
    with pytest.raises(CheckpointError, match=r"\(fields are missing\)$"):
        Checkpoint.decode(_raw({**GOOD, field: LAST_MS + 1}))


def test_19900_ids_sharing_the_cursor_are_accepted_19901_refused():
    ids = [f"id{i}" for i in range(19_900)]
    assert len(Checkpoint.decode(_raw({**GOOD, "ids": ids})).seen_ids) == 19_900
    with pytest.raises(CheckpointError, match=r"\(fields are missing\)$"):
        Checkpoint.decode(_raw({**GOOD, "ids": [*ids, "id19900"]}))


def test_a_decoded_checkpoint_cannot_be_changed_and_is_hashable():
    checkpoint = Checkpoint.decode(_raw(GOOD))
    with pytest.raises(dataclasses.FrozenInstanceError):
        checkpoint.updated_at = 0  # type: ignore[misc]
    assert {checkpoint, Checkpoint.decode(_raw(GOOD))} == {checkpoint}


def test_is_checkpoint_answers_exactly_true_or_false():
    assert is_checkpoint(_raw(GOOD)) is True
    assert is_checkpoint(Checkpoint(0, frozenset(), None, "").encode()) is True
    assert is_checkpoint(_raw({**GOOD, "t": -1})) is False
    assert is_checkpoint("ck2.e30") is False
    assert is_checkpoint(None) is False
