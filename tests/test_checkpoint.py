"""The Fetch Event checkpoint: what decodes, what is refused, and that it round-trips exactly."""

from __future__ import annotations

import base64
import json

import pytest

from opsgenie_integration.checkpoint import (
    MAX_MS,
    MAX_SEEN_IDS,
    PREFIX,
    Checkpoint,
    CheckpointError,
    is_checkpoint,
    query_digest,
)


def _raw(payload: object) -> str:
    """A ck1. string around any JSON payload, as a hand-edited or damaged checkpoint would be."""
    data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return PREFIX + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


GOOD = {"t": 1_700_000_000_000, "ids": ["a", "b"], "end": None, "q": query_digest(None)}


def test_a_checkpoint_round_trips_exactly():
    checkpoint = Checkpoint(updated_at=5, seen_ids=frozenset({"b", "a"}), end=9, query="q1")
    text = checkpoint.encode()
    assert text.startswith("ck1.")
    assert "=" not in text  # padding dropped: the string travels in URLs and YAML unquoted
    assert Checkpoint.decode(text) == checkpoint
    inner = json.loads(base64.urlsafe_b64decode(text[4:] + "=" * (-len(text[4:]) % 4)))
    assert inner == {"t": 5, "ids": ["a", "b"], "end": 9, "q": "q1"}  # ids sorted


@pytest.mark.parametrize("t", [0, 1, MAX_MS])
def test_cursor_at_the_bounds_is_accepted(t):
    assert Checkpoint.decode(_raw({**GOOD, "t": t})).updated_at == t


@pytest.mark.parametrize("t", ["x", True, False, -1, MAX_MS + 1, 1.5, None, [1]])
def test_cursor_that_is_not_epoch_ms_is_refused(t):
    with pytest.raises(CheckpointError, match="fields are missing"):
        Checkpoint.decode(_raw({**GOOD, "t": t}))
    assert not is_checkpoint(_raw({**GOOD, "t": t}))


@pytest.mark.parametrize("end", [None, 0, MAX_MS])
def test_window_end_at_the_bounds_is_accepted(end):
    assert Checkpoint.decode(_raw({**GOOD, "end": end})).end == end


@pytest.mark.parametrize("end", [MAX_MS + 1, -1, "x", True])
def test_window_end_past_the_largest_time_is_refused(end):
    with pytest.raises(CheckpointError):
        Checkpoint.decode(_raw({**GOOD, "end": end}))


def test_seen_ids_up_to_the_cap_are_accepted_one_more_is_refused():
    ids = [f"id{i}" for i in range(MAX_SEEN_IDS)]
    assert len(Checkpoint.decode(_raw({**GOOD, "ids": ids})).seen_ids) == MAX_SEEN_IDS
    with pytest.raises(CheckpointError):
        Checkpoint.decode(_raw({**GOOD, "ids": ids + ["one more"]}))


@pytest.mark.parametrize(
    "payload",
    [
        {**GOOD, "ids": "a"},
        {**GOOD, "ids": [1]},
        {**GOOD, "q": None},
        {k: v for k, v in GOOD.items() if k != "q"},
        [GOOD],
        "ck1",
    ],
)
def test_payload_of_the_wrong_shape_is_refused(payload):
    with pytest.raises(CheckpointError):
        Checkpoint.decode(_raw(payload))


@pytest.mark.parametrize(
    "text, why",
    [
        ("ck2.e30", "starts with ck1."),
        ("", "starts with ck1."),
        ("ck1.%%%", "damaged"),
        ("ck1." + base64.urlsafe_b64encode(b"\xff\xfe").decode(), "damaged"),
        ("ck1." + base64.urlsafe_b64encode(b"[" * 100_000).decode(), "damaged"),
    ],
)
def test_text_that_is_no_checkpoint_says_why(text, why):
    with pytest.raises(CheckpointError, match=why):
        Checkpoint.decode(text)


def test_non_strings_are_refused():
    for value in (None, 5, b"ck1.e30"):
        with pytest.raises(CheckpointError):
            Checkpoint.decode(value)  # type: ignore[arg-type]
        assert not is_checkpoint(value)


def test_query_digest_strips_the_ends_only():
    assert query_digest(None) == query_digest("") == query_digest("   ")
    assert query_digest(" status: open ") == query_digest("status: open")
    assert query_digest('message: "a  b"') != query_digest('message: "a b"')
    assert len(query_digest("x")) == 16
