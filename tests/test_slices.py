"""The slice planner and the multi-cursor state of a concurrent backfill."""

from __future__ import annotations

import json
import threading

import pytest

from opsgenie_integration.checkpoint import Checkpoint, query_digest
from opsgenie_integration.slices import (
    FORMAT,
    MAX_SLICES,
    SLICES_PER_WORKER,
    Slice,
    SliceBoard,
    SliceStateError,
    is_slice_state,
    plan,
)

Q = query_digest("status: open")
T0 = 1_700_000_000_000
HOUR = 3_600_000


def ck(t: int, ids=(), end=None, q=Q) -> str:
    return Checkpoint(t, frozenset(ids), end, q).encode()


def test_plan_cuts_equal_half_open_slices():
    slices = plan(T0, T0 + HOUR, 4)
    assert [(s.start, s.end) for s in slices] == [
        (T0, T0 + HOUR // 4),
        (T0 + HOUR // 4, T0 + HOUR // 2),
        (T0 + HOUR // 2, T0 + 3 * HOUR // 4),
        (T0 + 3 * HOUR // 4, T0 + HOUR),
    ]
    assert plan(T0, T0, 4) == [] and plan(T0 + 1, T0, 4) == []
    assert len(plan(T0, T0 + 5_000, 16)) == 2  # never shorter than MIN_SLICE_MS
    assert len(plan(T0, T0 + 1, 16)) == 1
    odd = plan(T0, T0 + 10_007, 3, min_ms=1)
    assert odd[0].start == T0 and odd[-1].end == T0 + 10_007
    assert all(a.end == b.start for a, b in zip(odd, odd[1:]))


def test_new_board_plans_slices_per_worker():
    board = SliceBoard.new(T0, T0 + HOUR, Q, None, 4)
    assert len(board.slices) == 4 * SLICES_PER_WORKER
    assert board.slices[0].inputs() == {"start_time": str(T0), "end_time": str(board.slices[0].end)}


def test_state_round_trip_and_tail():
    board = SliceBoard.new(T0, T0 + HOUR, Q, T0 + 2 * HOUR, 2)
    first = board.take(0)
    state = board.record(first, ck(T0 + 10, ["a", "b"], first.end), has_more=True)
    assert is_slice_state(state) and not is_slice_state(ck(T0))
    payload = json.loads(state)
    assert payload["format"] == FORMAT and payload["window"] == [T0, T0 + HOUR]
    again = SliceBoard.decode(state, Q)
    assert [(s.start, s.end, s.checkpoint) for s in again.slices] == [
        (s.start, s.end, s.checkpoint) for s in board.slices
    ]
    assert again.slices[0].cursor() == T0 + 10
    assert again.slices[0].inputs()["checkpoint"] == first.checkpoint
    assert all(s.owner is None for s in again.slices)
    tail = Checkpoint.decode(again.tail_checkpoint())
    assert (tail.updated_at, tail.seen_ids, tail.end, tail.query) == (
        T0 + HOUR,
        frozenset(),
        T0 + 2 * HOUR,
        Q,
    )


def test_finishing_every_slice_returns_the_tail_checkpoint():
    board = SliceBoard.new(T0, T0 + 10 * 2_000, Q, None, 1)
    texts = []
    while True:
        piece = board.take(0)
        if piece is None:
            break
        texts.append(board.record(piece, ck(piece.start, end=piece.end), has_more=False))
    assert board.finished and texts[-1] == board.tail_checkpoint()
    assert all(is_slice_state(t) for t in texts[:-1])


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(format="other/1"),
        lambda p: p.update(window=[T0 + HOUR, T0]),
        lambda p: p.update(window=[T0]),
        lambda p: p.update(tail_end="soon"),
        lambda p: p.update(slices={}),
        lambda p: p.update(slices=[[T0, T0 + 10]]),
        lambda p: p.update(slices=[[T0 + 10, T0 + 5, None]]),
        lambda p: p.update(slices=[[T0, T0 + 10, None], [T0 + 5, T0 + 20, None]]),  # overlap
        lambda p: p.update(slices=[[T0, T0 + 2 * HOUR, None]]),  # beyond the window
        lambda p: p.update(slices=[[T0, T0 + 10, "ck1.garbage"]]),
        lambda p: p.update(slices=[[T0, T0 + 10, ck(T0 + 10)]]),  # cursor outside the slice
        lambda p: p.update(slices=[[T0, T0 + 10, ck(T0, q="other")]]),
        lambda p: p.update(slices=[[T0 + i, T0 + i + 1, None] for i in range(MAX_SLICES + 1)]),
        lambda p: p.update(slices=[[True, T0 + 10, None]]),
    ],
)
def test_damaged_states_are_refused(change):
    payload = json.loads(SliceBoard.new(T0, T0 + HOUR, Q, None, 2).encode())
    change(payload)
    with pytest.raises(SliceStateError):
        SliceBoard.decode(json.dumps(payload), Q)


def test_other_texts_and_queries_are_refused():
    for text in ("", "ck1.abc", "[1]", '"x"', "{", "[" * 100_000):
        with pytest.raises(SliceStateError):
            SliceBoard.decode(text)
    state = SliceBoard.new(T0, T0 + HOUR, Q, None, 2).encode()
    with pytest.raises(SliceStateError, match="another Search Condition"):
        SliceBoard.decode(state, query_digest("other"))


def test_an_idle_worker_gets_half_of_a_busy_slice_after_its_cursor():
    board = SliceBoard(T0, T0 + HOUR, Q, None, [Slice(T0, T0 + HOUR)])
    busy = board.take(0)
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(board.take(1)))
    waiter.start()
    for _ in range(100):  # wait until the second worker is waiting
        if board.idle:
            break
        threading.Event().wait(0.01)
    cursor = T0 + 1000
    board.record(busy, ck(cursor, ["x"], T0 + HOUR), has_more=True)
    waiter.join(5)
    assert got and got[0] is not None
    second = got[0]
    middle = cursor + 1 + (T0 + HOUR - cursor - 1) // 2
    assert (busy.start, busy.end) == (T0, middle) and (second.start, second.end) == (
        middle,
        T0 + HOUR,
    )
    # the seen ids stay with the slice whose cursor they share; its end follows the split
    kept = Checkpoint.decode(busy.checkpoint)
    assert kept.updated_at == cursor and kept.seen_ids == {"x"} and kept.end == middle
    assert busy.inputs()["end_time"] == str(middle)
    assert board.splits == 1


def test_no_split_when_too_little_is_left_or_nobody_waits():
    board = SliceBoard(T0, T0 + 3_000, Q, None, [Slice(T0, T0 + 3_000)])
    piece = board.take(0)
    board.idle = 1  # someone waits, but 3 s is less than two minimum slices
    board.record(piece, ck(T0, ["a"], T0 + 3_000), has_more=True)
    assert len(board.slices) == 1
    board = SliceBoard(T0, T0 + HOUR, Q, None, [Slice(T0, T0 + HOUR)])
    piece = board.take(0)
    board.record(piece, ck(T0, ["a"], T0 + HOUR), has_more=True)  # nobody idle
    assert len(board.slices) == 1


def test_release_and_stop():
    board = SliceBoard.new(T0, T0 + HOUR, Q, None, 2)
    first = board.take(0)
    second = board.take(1)
    assert first is not second
    board.release(first)
    assert board.take(2) is first  # the earliest free slice first
    board.stop()
    assert board.take(3) is None
    flag = SliceBoard.new(T0, T0 + HOUR, Q, None, 1)
    assert flag.take(0, stop=lambda: True) is None


def test_remaining_ms():
    board = SliceBoard(
        T0, T0 + 10_000, Q, None, [Slice(T0, T0 + 4_000), Slice(T0 + 4_000, T0 + 10_000)]
    )
    assert board.remaining_ms() == 10_000
    piece = board.take(0)
    board.record(piece, ck(T0 + 1_000, ["a"], T0 + 4_000), has_more=True)
    assert board.remaining_ms() == 9_000


def test_barren_splits_stop_splitting():
    board = SliceBoard(T0, T0 + HOUR, Q, None, [Slice(T0, T0 + HOUR)])
    assert board.barren_budget == 4
    busy = board.take(0)
    for round_ in range(6):
        board.idle = 1
        board.record(busy, ck(T0 + round_, ["a"], busy.end), has_more=True)
        board.idle = 0
        half = [s for s in board.slices if s is not busy and s.owner is None]
        if not half:
            break
        piece = board.take(1)
        board.record(piece, ck(piece.start, end=piece.end), has_more=False)  # empty: one page
    assert board.splits == 4 and board.barren_splits == 4
