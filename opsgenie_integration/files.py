"""Reading a file a user named (connection, field mapping, checkpoint): bounded, never blocking."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UserFileError(ValueError):
    """The file cannot be used; the message says why (without its content)."""


def read_user_text(path: str | Path, *, max_bytes: int = 1_000_000) -> str:
    """The text of a regular file of at most ``max_bytes`` bytes, decoded as UTF-8 (a BOM dropped).

    A FIFO, a device (``/dev/zero``), a directory or an oversized file is refused before reading,
    so naming one can neither block nor exhaust memory.

    Raises:
        FileNotFoundError: the file does not exist.
        UserFileError: not a regular file, too large, unreadable or not UTF-8.
    """
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UserFileError(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise UserFileError("is not a regular file")
        if info.st_size > max_bytes:
            raise UserFileError(f"is larger than {max_bytes:,} bytes")
        data = os.read(handle, max_bytes + 1)
    except OSError as exc:
        raise UserFileError(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    finally:
        os.close(handle)
    if len(data) > max_bytes:
        raise UserFileError(f"is larger than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserFileError("is not UTF-8 text") from None
