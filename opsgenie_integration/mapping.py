"""Field mapping: how Fetch Event turns OpsGenie's answer into events (jsonpath-ng).

A field mapping file (``schemas/field_mapping.schema.json``) names the Main Event JSON Path (the
alerts in the answer, ``$.data``) and, per event field, a JSONPath relative to one alert. Paths
are parsed once at load; a bad one fails the load with its field name. Applying a path: no match
gives ``None`` (never an error), one match its value, several matches a list.

Simple paths (``$.a.b[0]``: names and indexes only) are compiled into a plain Python accessor,
so mapping 100,000 alerts costs about as much as a hand-written dict comprehension; any other
path (wildcards, filters, slices) goes through jsonpath-ng's ``find``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Union

import yaml
from jsonpath_ng import jsonpath
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as parse_jsonpath

from .errors import InputError
from .files import UserFileError, read_user_text
from .manifest import check_plain_tree, format_path, load_json, load_yaml
from .resources import data_path
from .validation import compile_validator

Step = Union[str, int]
Accessor = Callable[[Any], Any]

#: The fields an alert of ``GET /v2/alerts`` carries (the documented list fields, and ``seen``,
#: ``teams``, ``ownerTeamId`` that real answers add). ``details``, ``description``, ``entity`` and
#: ``actions`` come only from ``GET /v2/alerts/{id}``.
LIST_ALERT_FIELDS = frozenset(
    {
        "id", "tinyId", "alias", "message", "status", "acknowledged", "isSeen", "seen", "tags",
        "snoozed", "snoozedUntil", "count", "lastOccurredAt", "createdAt", "updatedAt", "source",
        "owner", "priority", "responders", "integration", "report", "teams", "ownerTeamId",
    }
)  # fmt: skip


class FieldMappingError(InputError):
    """A field mapping file cannot be read, does not follow the format, or has a bad JSONPath."""

    error_type = "configuration"


def _simple_steps(expression: jsonpath.JSONPath) -> list[Step] | None:
    """The name/index steps of a path made only of those, else ``None``."""
    if isinstance(expression, (jsonpath.Root, jsonpath.This)):
        return []
    if (
        isinstance(expression, jsonpath.Fields)
        and len(expression.fields) == 1
        and expression.fields[0] != "*"
    ):
        return [expression.fields[0]]
    if isinstance(expression, jsonpath.Index) and len(getattr(expression, "indices", (0, 0))) == 1:
        return [expression.indices[0] if hasattr(expression, "indices") else expression.index]
    if isinstance(expression, jsonpath.Child):
        left, right = _simple_steps(expression.left), _simple_steps(expression.right)
        if left is not None and right is not None:
            return left + right
    return None


def _accessor_for_steps(steps: list[Step]) -> Accessor:
    def access(value: Any) -> Any:
        for step in steps:
            if isinstance(step, str):
                if not isinstance(value, dict):
                    return None
                value = value.get(step)
            else:
                if not isinstance(value, list) or not -len(value) <= step < len(value):
                    return None
                value = value[step]
            if value is None:
                return None
        return value

    return access


def _accessor_for_jsonpath(expression: jsonpath.JSONPath) -> Accessor:
    def access(value: Any) -> Any:
        matches = [m.value for m in expression.find(value)]
        if not matches:
            return None
        return matches[0] if len(matches) == 1 else matches

    return access


#: The alert fields only ``GET /v2/alerts/{id}`` answers with: a path that looks for one of them
#: anywhere in the alert (``$..details.host``) finds nothing in a list answer.
FULL_ALERT_ONLY_FIELDS = frozenset({"details", "description", "entity", "actions"})


#: ``a where b`` (and ``wherenot``, in newer jsonpath-ng releases).
_WHERE = tuple(getattr(jsonpath, n) for n in ("Where", "WhereNot") if hasattr(jsonpath, n))


@dataclass(frozen=True)
class _Reach:
    """What a path reads of one alert: ``at_alert`` (it still points at the alert itself, as
    ``$``, `` `this` `` and ``$.`this```), ``fields`` (the alert's own fields it reads) and
    ``anywhere`` (names it looks for at any depth, by recursive descent from the alert)."""

    at_alert: bool = False
    fields: frozenset[str] = frozenset()
    anywhere: frozenset[str] = frozenset()

    def __or__(self, other: _Reach) -> _Reach:
        return _Reach(
            self.at_alert or other.at_alert,
            self.fields | other.fields,
            self.anywhere | other.anywhere,
        )


def _reach(expression: Any) -> _Reach:
    """The alert fields ``expression`` reads (see ``_Reach``), whatever the path's form: plain
    names, `` `this` `` anywhere in the chain, bracketed name lists, unions, recursive descent.
    Wildcards and filters on the alert read fields that cannot be told: nothing is counted."""
    if isinstance(expression, (jsonpath.Root, jsonpath.This)):
        return _Reach(at_alert=True)
    if isinstance(expression, jsonpath.Fields):
        return _Reach(fields=frozenset(f for f in expression.fields if f != "*"))
    if isinstance(expression, jsonpath.Child):
        left = _reach(expression.left)
        if not left.at_alert:  # the right side reads below the alert's own fields
            return _Reach(False, left.fields, left.anywhere)
        right = _reach(expression.right)
        return _Reach(right.at_alert, left.fields | right.fields, left.anywhere | right.anywhere)
    if isinstance(expression, jsonpath.Descendants):
        left = _reach(expression.left)
        if not left.at_alert:
            return _Reach(False, left.fields, left.anywhere)
        right = _reach(expression.right)
        return _Reach(False, left.fields, left.anywhere | right.fields | right.anywhere)
    if isinstance(expression, (jsonpath.Union, jsonpath.Intersect)):
        return _reach(expression.left) | _reach(expression.right)
    if isinstance(expression, _WHERE):
        left = _reach(expression.left)  # the condition picks among what the left side reads
        return _Reach(False, left.fields, left.anywhere)
    return _Reach()


def fields_the_list_lacks(text: str) -> tuple[str, ...]:
    """The alert fields a (valid) source path reads that a list answer (``GET /v2/alerts``)
    never carries: the alert's own fields outside ``LIST_ALERT_FIELDS``, and the names of
    ``FULL_ALERT_ONLY_FIELDS`` it looks for at any depth. Sorted; () when none or unparsable."""
    source = text.strip()
    if source.startswith("."):
        source = "$" + source
    try:
        reach = _reach(parse_jsonpath(source))
    except Exception:  # noqa: BLE001 - jsonpath-ng raises plain Exception; compile_path reports it
        return ()
    missing = (reach.fields - LIST_ALERT_FIELDS) | (reach.anywhere & FULL_ALERT_ONLY_FIELDS)
    return tuple(sorted(missing))


def compile_path(text: str) -> tuple[Accessor, list[Step] | None]:
    """Compile one JSONPath (a leading ``.`` means ``$.``).

    Returns the accessor and, for simple paths, their steps.

    Raises:
        ValueError: the path does not parse.
    """
    source = text.strip()
    if source.startswith("."):
        source = "$" + source
    if len(source) > 4096:
        raise ValueError(f"{text[:60]!r}... is longer than 4096 characters")
    try:
        expression = parse_jsonpath(source)
        steps = _simple_steps(expression)
    except RecursionError:
        raise ValueError(f"{text[:60]!r} is nested too deeply") from None
    except (
        JsonPathLexerError,
        JsonPathParserError,
        Exception,
    ) as exc:  # jsonpath-ng raises plain Exception too
        raise ValueError(f"{text[:80]!r} is not a valid JSONPath ({str(exc)[:200]})") from None
    if steps is not None:
        return _accessor_for_steps(steps), steps
    return _accessor_for_jsonpath(expression), None


@dataclass(frozen=True)
class FieldMapping:
    """A loaded, compiled field mapping.

    Attributes:
        name: event source name; field_names: event field names in file order.
    """

    name: str
    main_event_json_path: str
    field_names: tuple[str, ...]
    _events: Accessor
    _map_one: Callable[[Any], dict[str, Any]]
    lacking: tuple[tuple[str, ...], ...] = ()

    def fields_missing_from_list(self) -> list[tuple[str, str]]:
        """``(field name, alert field)`` for each alert field a mapped field's path reads that
        the alert list never carries (``fields_the_list_lacks``): null for every event unless
        each alert is read in full."""
        return [(name, top) for name, tops in zip(self.field_names, self.lacking) for top in tops]

    def events(self, answer: Any) -> list[Any]:
        """The alerts selected by the Main Event JSON Path in one OpsGenie answer."""
        found = self._events(answer)
        if found is None:
            return []
        return found if isinstance(found, list) else [found]

    def map_event(self, alert: Any) -> dict[str, Any]:
        """One event: ``{field name: value or None}``."""
        return self._map_one(alert)

    def map_answer(self, answer: Any) -> list[dict[str, Any]]:
        """Every event of one answer, in order."""
        map_one = self._map_one
        return [map_one(alert) for alert in self.events(answer)]


def _build_mapper(
    fields: list[tuple[str, Accessor, list[Step] | None]],
) -> Callable[[Any], dict[str, Any]]:
    """One function mapping an alert to its event.

    Top-level names (the usual case) are read with ``dict.get`` in a generated function; the rest
    through their accessor. The generated code holds no text from the mapping file: names and keys
    are passed in as bound constants.
    """
    namespace: dict[str, Any] = {}
    items = []
    for index, (_name, accessor, steps) in enumerate(fields):
        namespace[f"n{index}"] = _name
        if steps is not None and len(steps) == 1 and isinstance(steps[0], str):
            namespace[f"k{index}"] = steps[0]
            items.append(f"n{index}: g(k{index})")
        else:
            namespace[f"a{index}"] = accessor
            items.append(f"n{index}: a{index}(alert)")
    source = (
        "def map_event(alert):\n"
        "    g = alert.get if isinstance(alert, dict) else _none\n"
        f"    return {{{', '.join(items)}}}\n"
    )
    namespace["_none"] = lambda _key: None
    exec(compile(source, "<field mapping>", "exec"), namespace)  # noqa: S102 - constants only
    return namespace["map_event"]


def _schema_problem(error: Any) -> str:
    """jsonschema's message when it is short, else the keyword (never a huge rendering)."""
    message = error.message
    return (
        message
        if len(message) <= 200
        else f"does not satisfy {error.validator!r} ({message[:120]}...)"
    )


@lru_cache(maxsize=1)
def _mapping_validator():
    return compile_validator(load_json("schemas/field_mapping.schema.json"))


def load_field_mapping(path: str | Path, *, parameter: str = "Field Mapping File") -> FieldMapping:
    """Load, validate and compile a field mapping file (YAML or JSON).

    Raises:
        FieldMappingError: naming ``parameter``, with every problem (unreadable file, schema
            errors with their paths, bad JSONPaths with their field names).
    """
    path = Path(path)

    def problem(text: str) -> dict[str, str]:
        return {
            "parameter": parameter,
            "id": "field_mapping",
            "message": f"{parameter} {str(path)!r}: {text}",
        }

    try:
        text = read_user_text(path)
    except FileNotFoundError:
        raise FieldMappingError([problem("does not exist")]) from None
    except UserFileError as exc:
        raise FieldMappingError([problem(str(exc))]) from None
    try:
        raw = (
            json.loads(text) if path.suffix.lower() == ".json" else load_yaml(text, untrusted=True)
        )
        if path.suffix.lower() == ".json":
            check_plain_tree(raw)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        first = (str(exc).splitlines() or ["nested too deeply"])[0][:200]
        raise FieldMappingError(
            [problem(f"is not valid YAML or JSON, or is not a plain tree ({first})")]
        ) from None
    errors = sorted(
        _mapping_validator().iter_errors(raw), key=lambda e: list(map(str, e.absolute_path))
    )
    if errors:
        raise FieldMappingError(
            [problem(f"{format_path(e.absolute_path)}: {_schema_problem(e)}") for e in errors]
        )
    problems = []
    compiled: list[tuple[str, Accessor, list[Step] | None]] = []
    tops: list[tuple[str, ...]] = []
    seen = set()
    try:
        events_accessor, _ = compile_path(raw["main_event_json_path"])
    except ValueError as exc:
        problems.append(problem(f"main_event_json_path: {exc}"))
        events_accessor = None
    for index, entry in enumerate(raw["fields"]):
        name = entry["field_name"]
        if name in seen:
            problems.append(problem(f"fields[{index}].field_name: {name!r} appears twice"))
        seen.add(name)
        try:
            accessor, steps = compile_path(entry["source_field"])
        except ValueError as exc:
            problems.append(problem(f"fields[{index}] ({name}): {exc}"))
            continue
        compiled.append((name, accessor, steps))
        tops.append(fields_the_list_lacks(entry["source_field"]))
    if problems:
        raise FieldMappingError(problems)
    return FieldMapping(
        name=raw.get("name") or path.stem,
        main_event_json_path=raw["main_event_json_path"],
        field_names=tuple(n for n, _, _ in compiled),
        _events=events_accessor,
        _map_one=_build_mapper(compiled),
        lacking=tuple(tops),
    )


@lru_cache(maxsize=32)
def _load_cached(path: str, parameter: str, _stamp: tuple) -> FieldMapping:
    return load_field_mapping(path, parameter=parameter)


def load_field_mapping_cached(
    path: str | Path, *, parameter: str = "Field Mapping File"
) -> FieldMapping:
    """``load_field_mapping``, compiled once per file version (path, size, modification time):
    a fetch calling Fetch Event page after page does not parse the file again for every page."""
    try:
        info = os.stat(path)
    except OSError:
        return load_field_mapping(path, parameter=parameter)  # reports the error
    return _load_cached(str(Path(path).resolve()), parameter, (info.st_size, info.st_mtime_ns))


@lru_cache(maxsize=8)
def default_field_mapping(
    relative: str = "field_mappings/default_event_source.yaml",
) -> FieldMapping:
    """The packaged default event source's mapping, loaded and compiled once."""
    return load_field_mapping(data_path(relative))
