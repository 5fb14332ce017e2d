"""The one redactor: every secret is hidden on every way out.

The secrets are found from the manifest (each connection parameter marked ``secret: true``, under
any spelling of its name that the validator accepts) and from what their references resolve to;
then one ``Redactor`` is applied to the envelope, to log records, to health-check notifications,
to ``fetch`` output and to the environment of a child process.

A secret is replaced by ``[REDACTED]`` wherever it appears inside a string, and so is any run of
at least ``PARTIAL_SECRET`` characters that starts or ends like it (a message cut short must not
show the first or last characters of a key either). Strings shorter than ``MIN_SECRET``
characters are never treated as secrets (they would hide ordinary words).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterable, Mapping
from typing import Any

from .manifest import Parameter, fold_name
from .secrets import split_reference

REDACTED = "[REDACTED]"
MIN_SECRET = 4
PARTIAL_SECRET = 8  # a run of this many first (or last) characters of a secret is hidden too


def secret_settings(parameters: Iterable[Parameter], settings: Any) -> tuple[list[str], set[str]]:
    """The literal secrets in connection ``settings`` and the environment variables their
    references name.

    Args:
        parameters: the manifest's connection parameters (those with ``secret: true`` count).
        settings: the connection settings as given (names in any spelling: ``api_key``,
            ``API Key``, ``api-key``...); anything that is not a mapping has none.

    Returns:
        ``(literals, variables)``: the values given literally (``["0b1c..."]``), and the names of
        the variables that ``env:NAME`` references point at (``{"NAME"}``). A reference itself is
        not a secret (messages may name it); what it resolves to is added by the caller.
    """
    literals: list[str] = []
    variables: set[str] = set()
    for value in secret_values(parameters, settings):
        reference = split_reference(value)
        if reference is None:
            literals.append(value.strip())
        elif reference[0] == "env" and reference[1].strip():
            variables.add(reference[1].strip())
    return literals, variables


def secret_values(parameters: Iterable[Parameter], settings: Any) -> list[str]:
    """The non-blank values, as given (literal or reference), of the settings in ``settings``
    whose name is, under any spelling, that of a ``secret: true`` parameter (its id or title).
    The health check resolves these itself when ``connect`` failed before resolving them."""
    if not isinstance(settings, Mapping):
        return []
    wanted = {fold_name(p.id) for p in parameters if p.secret}
    wanted |= {fold_name(p.title) for p in parameters if p.secret}
    return [
        value
        for name, value in settings.items()
        if isinstance(name, str)
        and fold_name(name) in wanted
        and isinstance(value, str)
        and value.strip()
    ]


class Redactor:
    """Hides a growing set of secrets in text, JSON-like values, log records and environments.

    ``add`` may be called at any time (a reference resolved later, a key read from a file); every
    user of the same ``Redactor`` then hides the new secret too. ``variables`` are environment
    variable names a child process must never get (the targets of ``env:`` references).
    """

    def __init__(self, secrets: Iterable[Any] = (), variables: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._needles: list[str] = []
        self.variables: set[str] = set(variables)
        #: secret references already resolved (``{"env:NAME": secret}``), so that the connection
        #: does not ask a vault twice
        self.resolved: dict[str, str] = {}
        self.add(secrets)

    @property
    def secrets(self) -> frozenset[str]:
        """The secrets hidden (4 characters or more)."""
        return frozenset(self._secrets)

    def add(self, secrets: Iterable[Any]) -> None:
        """Hide these strings too (non-strings and strings under ``MIN_SECRET`` are ignored)."""
        new = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET} - self._secrets
        if new:
            self._secrets |= new
            self._needles = sorted(self._secrets, key=len, reverse=True)

    def update(self, other: Redactor) -> None:
        """Hide ``other``'s secrets and keep its variables from children too."""
        self.add(other.secrets)
        self.variables |= other.variables
        self.resolved.update(other.resolved)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, text: Any) -> str:
        """``str(text)`` with every secret, and every run of its first or last
        ``PARTIAL_SECRET`` characters, replaced by ``[REDACTED]``."""
        text = str(text)
        for secret in self._needles:
            if secret in text:
                text = text.replace(secret, REDACTED)
            text = _redact_runs(text, secret)
        return text

    def value(self, value: Any) -> Any:
        """A copy of ``value`` (JSON-like: dicts, lists, tuples, strings; keys included) with
        every string hidden as by ``text``; ``value`` itself when nothing needs hiding. Sets
        become lists, bytes text, and any other object that would show a secret when printed
        with ``str()`` becomes that text, hidden."""
        if not self._needles:
            return value
        try:
            # pickle writes every str whole, as UTF-8 (no escaping, unlike JSON, where a key
            # holding '"' or '\\' would hide), so a secret or a piece of one inside any string is
            # a substring of its output: one C-speed pass and no copy in the common case.
            flat = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - whatever pickle refuses, the walk handles
            return self._walk(value)
        pieces = {p for n in self._needles for p in (n, n[:PARTIAL_SECRET], n[-PARTIAL_SECRET:])}
        if not any(p.encode("utf-8", "surrogatepass") in flat for p in pieces):
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self._walk(k): self._walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._walk(v) for v in value]
        if isinstance(value, (bytes, bytearray)):
            return self.text(bytes(value).decode("utf-8", "replace"))
        if value is None or isinstance(value, (bool, int, float)):
            return value
        shown = str(value)  # any other object is printed with str(): hide what that would show
        hidden = self.text(shown)
        return value if hidden == shown else hidden

    def environment(
        self, environ: Mapping[str, str], *, drop: Iterable[str] = ()
    ) -> dict[str, str]:
        """A child process's environment: ``environ`` without the ``variables``, the names in
        ``drop``, and every variable whose value holds a secret (or a run of one)."""
        dropped = {*self.variables, *drop}
        return {
            name: value
            for name, value in environ.items()
            if name not in dropped and self.text(value) == value
        }

    def log_filter(self) -> logging.Filter:
        """A logging filter hiding the secrets in every record it sees (message, arguments,
        traceback, stack); attach it to a handler so it sees the records of every logger."""
        return _RedactingFilter(self)


class _RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.redactor.text(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return True


def _redact_runs(text: str, secret: str) -> str:
    """``text`` without any run of at least ``PARTIAL_SECRET`` characters that starts like
    ``secret`` or ends like it."""
    size = PARTIAL_SECRET
    if len(secret) <= size:
        return text
    head, tail = secret[:size], secret[-size:]
    start = text.find(head)
    while start != -1:
        end = start + size
        while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
            end += 1
        text = text[:start] + REDACTED + text[end:]
        start = text.find(head, start + len(REDACTED))
    end = text.find(tail)
    while end != -1:
        stop = end + size  # the run is text[begin:stop], ending like the secret
        begin, matched = end, size
        while begin > 0 and matched < len(secret) and text[begin - 1] == secret[-matched - 1]:
            begin -= 1
            matched += 1
        text = text[:begin] + REDACTED + text[stop:]
        end = text.find(tail, begin + len(REDACTED))
    return text
