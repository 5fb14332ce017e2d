"""Logging helpers: a filter that redacts secrets from every record, and the CLI's stderr setup."""

from __future__ import annotations

import logging
from typing import Iterable, Set, TextIO

REDACTED = "[REDACTED]"


class RedactingFilter(logging.Filter):
    """Replaces every known secret (the API key, resolved or as given) in a record's message and
    arguments. Attach it to a handler so it sees the records of every logger."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: Set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets.update(s for s in secrets if isinstance(s, str) and len(s) >= 4)

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self._redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


def configure_cli_logging(stream: TextIO, verbosity: int) -> RedactingFilter:
    """Send log records of every logger to ``stream`` (stderr), through a ``RedactingFilter``.

    verbosity: 0 warnings, 1 info, 2+ debug (urllib3's included).
    """
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    redactor = RedactingFilter()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    if verbosity < 2:  # urllib3's retry warnings are noise: the envelope says what happened
        handler.addFilter(lambda record: not (record.name.startswith("urllib3") and record.levelno < logging.ERROR))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_opsgenie_cli", False):
            root.removeHandler(old)
    handler._opsgenie_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return redactor
