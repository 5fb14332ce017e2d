"""What the CLI prints on stdout: exit statuses, JSON documents and ``run``'s one envelope."""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any, TextIO

from .. import envelope as env
from .signals import hold_interrupts


class ExitStatus(IntEnum):
    """The CLI's exit statuses."""

    SUCCESSFUL = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


class UsageError(Exception):
    """A malformed command line (exit status 2)."""


#: ids of the stdout streams that got ``run``'s envelope during the current ``main`` call.
_EMITTED: set[int] = set()


def print_json(stream: TextIO, value: Any) -> None:
    """One JSON document: strict JSON (no NaN), readable UTF-8 where the stream takes it, plain
    ASCII escapes where it does not (an ASCII terminal, lone surrogates from bad arguments)."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:  # NaN/Infinity somewhere: render them as null rather than invalid JSON
        text = json.dumps(
            json.loads(json.dumps(value, default=str), parse_constant=lambda _: None),
            indent=2,
            ensure_ascii=False,
        )
    try:
        text.encode("utf-8")  # lone surrogates (undecodable bytes in arguments) are no UTF-8
        stream.write(text + "\n")
    except UnicodeEncodeError:
        stream.write(json.dumps(json.loads(text), indent=2, ensure_ascii=True) + "\n")
    stream.flush()


def exit_status(envelope: dict[str, Any]) -> ExitStatus:
    """0 for a Successful envelope, 1 for a Failed one."""
    successful = envelope.get("return_data") == env.SUCCESSFUL
    return ExitStatus.SUCCESSFUL if successful else ExitStatus.FAILED


def emit(stdout: TextIO, envelope: dict[str, Any]) -> None:
    """Print ``run``'s one envelope with SIGINT/SIGTERM held back, so a signal can neither cut it
    in half nor add a second one (``main`` prints an "interrupted" envelope only if none was
    printed: see ``emitted``)."""
    hold_interrupts()
    print_json(stdout, envelope)
    _EMITTED.add(id(stdout))


def emitted(stdout: TextIO) -> bool:
    """Whether ``run``'s envelope went to ``stdout`` since the last ``forget_emitted``."""
    return id(stdout) in _EMITTED


def forget_emitted(stdout: TextIO) -> None:
    """Start (or end) one ``main`` call on ``stdout``."""
    _EMITTED.discard(id(stdout))


def emit_text(stdout: TextIO, text: str) -> None:
    """Print ``run``'s readable part (``--output table``) in place of its envelope, with the same
    guard against signals as ``emit``; characters the stream cannot encode are escaped."""
    hold_interrupts()
    try:
        text.encode("utf-8")  # lone surrogates (undecodable bytes in arguments) are no UTF-8
        stdout.write(text + "\n")
    except UnicodeEncodeError:
        stdout.write(text.encode("ascii", "backslashreplace").decode("ascii") + "\n")
    stdout.flush()
    _EMITTED.add(id(stdout))
