"""The CLI's logging: every record to stderr, through the one redactor."""

from __future__ import annotations

import logging
from typing import TextIO

from .redact import Redactor


def configure_cli_logging(stream: TextIO, verbosity: int, redactor: Redactor) -> None:
    """Send log records of every logger to ``stream`` (stderr), through ``redactor``'s filter.

    verbosity: 0 warnings, 1 info, 2+ debug (urllib3's included). Replaces the handler a
    previous call installed (tests call the CLI many times in one process).
    """
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor.log_filter())
    if verbosity < 2:  # urllib3's retry warnings are noise: the envelope says what happened
        handler.addFilter(
            lambda record: (
                not (record.name.startswith("urllib3") and record.levelno < logging.ERROR)
            )
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_opsgenie_cli", False):
            root.removeHandler(old)
    handler._opsgenie_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
