"""``fetch --checkpoint-file``: what is read (empty means none, 4 MB at most), what is refused
before anything is fetched, the file written atomically with a final newline after every page,
a resume from it, a failed save, and the lock given back when the run ends."""

from __future__ import annotations

import errno
import io
import json
import os

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE

from opsgenie_integration.checkpoint import Checkpoint
from opsgenie_integration.cli import ExitStatus, main
from opsgenie_integration.cli import fetch as fetch_cli
from opsgenie_integration.cli.fetch import (
    _checkpoint_file_problem,
    _lock,
    read_checkpoint_file,
    write_atomically,
)

from .cli_helpers import BASE_MS, HOUR, make_alerts

pytestmark = pytest.mark.no_contract

ALERTS = [
    {**alert, "createdAt": "2023-11-14T22:13:20.000Z", "updatedAt": "2023-11-14T22:13:21.000Z"}
    for alert in make_alerts([BASE_MS + 1000])
]
PAGE = {"json": {"data": ALERTS, "took": 0.01, "requestId": "r-ok"}}
EMPTY = {"json": {"data": [], "took": 0.0, "requestId": "r-empty"}}


def fetch(tmp_path, checkpoint, answers, *extra):
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0}))
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "fetch",
        "--workers",
        "1",
        "--end",
        str(BASE_MS + HOUR),
        "--checkpoint-file",
        str(checkpoint),
        "-q",
    ]
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", answers)
        status = main([*argv, *extra, "--connection", str(conn)], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue(), m.request_history


# -- reading ------------------------------------------------------------------------------------
def test_no_path_a_missing_file_and_an_empty_file_hold_no_checkpoint(tmp_path):
    assert read_checkpoint_file(None) is None and read_checkpoint_file("") is None
    assert read_checkpoint_file(str(tmp_path / "none")) is None
    (tmp_path / "empty").write_text(" \n\t\n")
    assert read_checkpoint_file(str(tmp_path / "empty")) is None


def test_the_stored_checkpoint_is_read_without_its_surrounding_space(tmp_path):
    (tmp_path / "ck").write_text("  ck1.abc \n")
    assert read_checkpoint_file(str(tmp_path / "ck")) == "ck1.abc"


def test_a_checkpoint_file_of_4_mb_is_read_one_byte_more_is_refused(tmp_path):
    path = tmp_path / "ck"
    path.write_bytes(b"c" * 4_000_000)
    assert len(read_checkpoint_file(str(path))) == 4_000_000
    path.write_bytes(b"c" * 4_000_001)
    with pytest.raises(ValueError, match="^is larger than 4,000,000 bytes$"):
        read_checkpoint_file(str(path))


# -- refused before fetching --------------------------------------------------------------------
def test_a_usable_checkpoint_file_has_no_problem(tmp_path):
    assert _checkpoint_file_problem(tmp_path / "new") is None
    (tmp_path / "old").write_text("ck1.x")
    assert _checkpoint_file_problem(tmp_path / "old") is None
    assert os.listdir(tmp_path) == ["old"]  # the write probe leaves nothing behind


def test_a_folder_is_not_a_regular_file(tmp_path):
    assert _checkpoint_file_problem(tmp_path) == "is not a regular file"


def test_a_missing_folder_is_named(tmp_path):
    path = tmp_path / "no" / "ck"
    assert _checkpoint_file_problem(path) == f"its folder {str(path.parent)!r} does not exist"


def test_a_folder_that_cannot_be_written_says_why(tmp_path, monkeypatch):
    def refuse(**kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(fetch_cli.tempfile, "mkstemp", refuse)
    assert _checkpoint_file_problem(tmp_path / "ck") == (
        "its folder cannot be written (Permission denied)"
    )


def test_a_checkpoint_file_that_is_a_folder_exits_1_before_any_request(tmp_path):
    status, out, err, requests = fetch(tmp_path, tmp_path, [PAGE])
    assert status == ExitStatus.FAILED and requests == [] and out == ""
    assert err == f"fetch: --checkpoint-file {str(tmp_path)!r}: is not a regular file\n"


def test_a_checkpoint_file_that_is_no_checkpoint_is_refused_before_any_request(tmp_path):
    checkpoint = tmp_path / "ck"
    checkpoint.write_text("hello\n")
    status, out, err, requests = fetch(tmp_path, checkpoint, [PAGE])
    assert status == ExitStatus.FAILED and requests == [] and out == ""
    assert err == (
        f"fetch: --checkpoint-file {str(checkpoint)!r}: holds no checkpoint of an earlier fetch "
        "(ck1..., written by fetch itself); give another file, or remove this one to start "
        "again from --start\n"
    )
    assert checkpoint.read_text() == "hello\n"  # left as it was


# -- writing ------------------------------------------------------------------------------------
def test_write_atomically_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "ck"
    path.write_text("old")
    write_atomically(path, "new\n")
    assert path.read_text() == "new\n" and os.listdir(tmp_path) == ["ck"]


def test_write_atomically_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_atomically("ck", "x")
    assert (tmp_path / "ck").read_text() == "x"


def test_a_failed_replace_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ck"
    path.write_text("old")

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fetch_cli.os, "replace", full)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["ck"]


def test_the_checkpoint_of_each_page_is_saved_with_a_newline_and_resumed_from(tmp_path):
    checkpoint = tmp_path / "ck"
    status, out, err, requests = fetch(tmp_path, checkpoint, [PAGE, EMPTY], "--start", str(BASE_MS))
    assert status == ExitStatus.SUCCESSFUL and len(out.splitlines()) == 1
    text = checkpoint.read_text()
    assert text.endswith("\n") and text.count("\n") == 1
    saved = Checkpoint.decode(text.strip())
    assert saved.updated_at == BASE_MS + 1000 and saved.seen_ids == {ALERTS[0]["id"]}
    # a second run starts from the file, not from --start, and the alert is not written again
    status, out, err, requests = fetch(tmp_path, checkpoint, [PAGE], "--start", str(BASE_MS - HOUR))
    assert status == ExitStatus.SUCCESSFUL and out == ""
    assert str(BASE_MS + 1000) in requests[0].qs["query"][0]


def test_a_checkpoint_that_cannot_be_saved_exits_1_after_writing_the_page(tmp_path, monkeypatch):
    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fetch_cli, "write_atomically", full)
    checkpoint = tmp_path / "ck"
    status, out, err, requests = fetch(tmp_path, checkpoint, [PAGE], "--start", str(BASE_MS))
    assert status == ExitStatus.FAILED and len(requests) == 1
    assert len(out.splitlines()) == 1  # the page was written; the next run repeats it
    assert err.splitlines()[0] == (
        "fetch: the checkpoint could not be saved (No space left on device); "
        "the next run repeats this page"
    )
    assert err.splitlines()[1].startswith("fetch: failed {")
    assert not checkpoint.exists()


def test_the_lock_is_given_back_when_the_run_ends(tmp_path):
    checkpoint = tmp_path / "ck"
    status, *_ = fetch(tmp_path, checkpoint, [EMPTY], "--start", str(BASE_MS))
    assert status == ExitStatus.SUCCESSFUL
    held = _lock(checkpoint)
    assert held is not None
    held.close()
