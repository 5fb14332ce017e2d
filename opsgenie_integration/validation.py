"""Input validation: one compiled JSON Schema validator per command, errors named for people.

Inputs may be named by display name (``Start Time``) or id (``start_time``). Values typed as text
are coerced where the schema wants a number or a boolean; ``null`` and (for optional inputs) blank
text count as left out. After validation the manifest's defaults are applied explicitly. Every
problem is reported at once, each naming the parameter as ``Display Name (id)`` and saying what
was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from .checkpoint import is_checkpoint
from .date_formats import TimeInputSettings, looks_numeric_date
from .errors import InputError
from .manifest import Parameter, fold_name
from .redact import Redactor
from .times import TIME_FORMATS_HELP, is_user_time, parse_user_time, utc_now
from .urls import normalize_server_url


def _is_server_url(value: object) -> bool:
    if not isinstance(value, str):
        return True  # the type keyword reports it
    try:
        normalize_server_url(value)
    except ValueError:
        return False
    return True


FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checks("opsgenie-time")(lambda v: not isinstance(v, (str, int)) or is_user_time(v))
FORMAT_CHECKER.checks("opsgenie-checkpoint")(lambda v: not isinstance(v, str) or is_checkpoint(v))
FORMAT_CHECKER.checks("opsgenie-server-url")(_is_server_url)


def _is_enclosable_query(value: object) -> bool:
    """True when a search query can be wrapped in parentheses safely: its parentheses balance and
    its double quotes close (outside quotes; a backslash escapes). Not a parser: OpsGenie parses."""
    if not isinstance(value, str):
        return True
    depth, quoted, escaped = 0, False, False
    for char in value:
        if escaped:
            if not quoted and char in "()":
                return False  # \( or \): grammars differ on them; quote the value instead
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                return False
    return (
        depth == 0 and not quoted and not escaped
    )  # a trailing backslash would escape the wrapping ")"


FORMAT_CHECKER.checks("opsgenie-alert-query")(_is_enclosable_query)
#: The Search Condition's check, for every other query joined to the time window (a Saved
#: Search's, read from OpsGenie).
is_enclosable_query = _is_enclosable_query
FORMAT_CHECKER.checks("opsgenie-identifier")(
    lambda v: not isinstance(v, str) or v.strip() not in (".", "..")
)

_FORMAT_EXPECTED = {
    "opsgenie-time": f"expected {TIME_FORMATS_HELP}",
    "opsgenie-checkpoint": "expected the checkpoint string of an earlier Fetch Event result (ck1....)",
    "opsgenie-identifier": "expected a name or id other than '.' or '..' (those cannot travel as one URL path "
    "segment)",
    "opsgenie-alert-query": "expected an OpsGenie search query whose parentheses and double quotes are "
    "balanced, without \\( \\) outside quotes or a trailing \\ (it is sent as (<query>) AND <time window>)",
    "opsgenie-server-url": "expected https://api.opsgenie.com (US) or https://api.eu.opsgenie.com (EU); "
    "http only for loopback hosts; no path, query or credentials",
}
#: Fetch Event's default End Time is the time of the call minus this many seconds
#: (``commands.fetch_window.SETTLE_MS``; a test keeps the two equal).
DEFAULT_END_LAG_S = 5

_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "text",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
_INT_TEXT = re.compile(r"^\s*[+-]?\d{1,18}\s*$")
_NUMBER_TEXT = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def compile_validator(schema: dict, *, check: bool = False) -> Draft202012Validator:
    """Compile a schema's validator (with the project's format checks switched on).

    The packaged schemas are checked against the JSON Schema meta-schema by the test suite
    (``check_schema`` costs more than everything else at start-up); pass ``check=True`` for a
    schema that did not ship with the package.

    Raises:
        jsonschema.exceptions.SchemaError: with ``check``, the schema itself is invalid.
    """
    if check:
        Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def _show(value: Any, size: int = 60, redactor: Redactor | None = None) -> str:
    """A short, safe rendering of a value for a message: never the whole of a huge or deeply
    nested value (no full ``repr``), never a secret."""
    if isinstance(value, str):
        text = value[: size * 2]
        if redactor is not None:
            text = redactor.text(text)
        text = repr(text[:size]) + ("..." if len(value) > size else "")
    elif isinstance(value, (dict, list, tuple)):
        text = f"{type(value).__name__} of {len(value)} items"
    elif isinstance(value, (bool, int, float)) or value is None:
        text = (
            repr(value)
            if not (isinstance(value, int) and abs(value) > 10**30)
            else "a very large number"
        )
    else:
        text = type(value).__name__
    return text


def _unsendable(value: Any, types: Sequence[Any]) -> str | None:
    """Why a value cannot be used at all, or None. Checked before the schema looks at it, so
    jsonschema never renders a huge or deeply nested value in a message."""
    if isinstance(value, (dict, list, tuple)) and not {"object", "array"} & set(types):
        return f"expected {' or '.join(_TYPE_NAMES.get(t, str(t)) for t in types if t)}, got {_show(value)}"
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "expected a finite number, got " + repr(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains characters that are not valid Unicode (invalid UTF-8 in the input?)"
    return None


class InputValidator:
    """Validates the inputs of one command (or the connection) against its schema and parameters.

    Args:
        parameters: the manifest's parameters (ids, display names, defaults, required).
        schema: the JSON Schema of the inputs (types and constraints).
    """

    def __init__(
        self, parameters: Sequence[Parameter], schema: dict, *, noun: str = "input"
    ) -> None:
        self.noun = noun
        self.parameters = {p.id: p for p in parameters}
        self.schema = schema
        self.validator = compile_validator(schema)
        self._names: dict[str, str] = {}
        for parameter in parameters:
            self._names[fold_name(parameter.id)] = parameter.id
            self._names[fold_name(parameter.title)] = parameter.id
        self._properties: dict[str, dict] = schema.get("properties", {})

    def by_id(self, given: Mapping[Any, Any]) -> dict[str, Any]:
        """The values of ``given`` whose names are known, keyed by id (the first spelling wins),
        unchecked."""
        found: dict[str, Any] = {}
        for name, value in given.items():
            input_id = self._names.get(fold_name(name)) if isinstance(name, str) else None
            if input_id is not None and input_id not in found:
                found[input_id] = value
        return found

    def label(self, input_id: str) -> str:
        """``Display Name (id)`` of an input."""
        parameter = self.parameters.get(input_id)
        return f"{parameter.title} ({input_id})" if parameter else input_id

    def _problem(self, input_id: str, text: str) -> dict[str, str]:
        parameter = self.parameters.get(input_id)
        name = parameter.title if parameter else input_id
        return {"parameter": name, "id": input_id, "message": f"{self.label(input_id)}: {text}"}

    def validate(
        self,
        given: Any,
        *,
        redactor: Redactor | None = None,
        time_inputs: TimeInputSettings | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Return the inputs keyed by id, coerced, with defaults applied.

        Args:
            redactor: hides the secrets (the API key, when it is known) in every message.
            time_inputs: the connection's Date Format and Time Zone, for reading time inputs
                (None: unknown, so a day/month-ordered date is left to the command).
            now: the reference for ``now`` and relative times (default: the current time).

        Raises:
            InputError: every problem at once (see ``check``).
        """
        values, problems, hint = self.check(
            given, redactor=redactor, time_inputs=time_inputs, now=now
        )
        if problems:
            raise InputError(problems, hint=hint)
        return values

    def check(
        self,
        given: Any,
        *,
        redactor: Redactor | None = None,
        time_inputs: TimeInputSettings | None = None,
        now: datetime | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, str]], str | None]:
        """``(values, problems, hint)``: the inputs that passed every check, keyed by id, coerced,
        with defaults applied where nothing was given; every problem found, in parameter order;
        a hint (the known names, after an unknown one). Format checks, the checks that read
        time inputs with ``time_inputs`` and field mapping files, and the checks across inputs
        (``cross_problems``) all run, so one call names every bad input."""
        hidden = redactor
        if given is None:
            given = {}
        if not isinstance(given, Mapping):
            whole = "connection" if self.noun == "setting" else "inputs"
            return (
                {},
                [
                    {
                        "parameter": whole,
                        "id": whole,
                        "message": f"{whole} must be an object of {self.noun}: value, got "
                        f"{type(given).__name__}",
                    }
                ],
                None,
            )
        problems: list[dict[str, str]] = []
        values: dict[str, Any] = {}
        given_as: dict[str, str] = {}
        hint = None
        for name, value in given.items():
            input_id = self._names.get(fold_name(name)) if isinstance(name, str) else None
            if input_id is None:
                known = ", ".join(self.label(i) for i in self.parameters) or "none"
                hint = f"Known {self.noun}s: {known}."
                problems.append(
                    {
                        "parameter": _show(name, 40, hidden).strip("'"),
                        "id": str(name)[:60],
                        "message": f"Unknown {self.noun} {_show(name, 60, hidden)}",
                    }
                )
                continue
            if input_id in given_as:
                problems.append(
                    self._problem(
                        input_id,
                        f"given twice, as {_show(given_as[input_id], 40, hidden)} and "
                        f"{_show(name, 40, hidden)}",
                    )
                )
                continue
            given_as[input_id] = name
            if value is None:
                continue
            if (
                isinstance(value, str)
                and not value.strip()
                and not self.parameters[input_id].required
            ):
                continue
            values[input_id] = self._coerce(input_id, value)
        for input_id, value in list(values.items()):
            wanted = self._properties.get(input_id, {}).get("type")
            problem = _unsendable(value, wanted if isinstance(wanted, list) else [wanted])
            if problem:
                problems.append(self._problem(input_id, problem))
                del values[input_id]
        for error in list(self.validator.iter_errors(values)):
            problems.extend(self._translate(error, values, hidden))
        values = {k: v for k, v in values.items() if k not in {p["id"] for p in problems}}
        problems.extend(self.cross_problems(values, time_inputs=time_inputs, now=now))
        bad = {p["id"] for p in problems}
        values = {k: v for k, v in values.items() if k not in bad}
        if problems:
            order = list(self.parameters)
            problems.sort(key=lambda p: order.index(p["id"]) if p["id"] in order else -1)
        for input_id, parameter in self.parameters.items():
            if input_id not in values and input_id not in bad and parameter.default is not None:
                values[input_id] = parameter.default
        return values, problems, hint

    def cross_problems(
        self,
        values: Mapping[str, Any],
        *,
        time_inputs: TimeInputSettings | None = None,
        now: datetime | None = None,
    ) -> list[dict[str, str]]:
        """The problems the schema cannot see, found without any request: each time input read
        with the connection's Date Format and Time Zone (``time_inputs``; None leaves a
        day/month-ordered date to the command, which knows them), a Start Time not before the
        End Time (given, or Fetch Event's default: the call minus ``DEFAULT_END_LAG_S``), and a
        Field Mapping File that cannot be read or maps fields the alert list lacks while Enrich
        is off. ``values``: inputs that passed the schema, by id."""
        problems: list[dict[str, str]] = []
        now = now or utc_now()
        moments: dict[str, datetime] = {}
        for input_id, schema in self._properties.items():
            if input_id not in values or schema.get("format") != "opsgenie-time":
                continue
            value = values[input_id]
            if time_inputs is None and isinstance(value, str) and looks_numeric_date(value):
                continue
            try:
                moments[input_id] = parse_user_time(value, now=now, settings=time_inputs)
            except (ValueError, TypeError, OverflowError) as exc:
                problems.append(self._problem(input_id, str(exc)))
        window = {"start_time", "end_time"} <= set(self._properties)
        if window and "checkpoint" not in values and "start_time" in moments:
            start = moments["start_time"]
            if "end_time" in moments and start >= moments["end_time"]:
                problems.append(
                    self._problem("start_time", f"must be before {self.label('end_time')}")
                )
            elif "end_time" not in values and start >= now - timedelta(seconds=DEFAULT_END_LAG_S):
                problems.append(
                    self._problem(
                        "start_time",
                        f"must be before the default {self.label('end_time')}: the time of the "
                        f"call minus {DEFAULT_END_LAG_S} s (alerts still being indexed are left to "
                        "the next call); give an earlier Start Time",
                    )
                )
        if "field_mapping" in self._properties and values.get("field_mapping"):
            problems.extend(self._field_mapping_problems(values))
        return problems

    def _field_mapping_problems(self, values: Mapping[str, Any]) -> list[dict[str, str]]:
        # lazy: jsonpath-ng is imported only when a mapping file is given (and mapping imports
        # this module)
        from .mapping import FieldMappingError, load_field_mapping_cached

        parameter = self.parameters.get("field_mapping")
        title = parameter.title if parameter else "Field Mapping File"
        try:
            mapping = load_field_mapping_cached(str(values["field_mapping"]), parameter=title)
        except FieldMappingError as exc:
            return list(exc.problems)
        if values.get("enrich") or "enrich" not in self._properties:
            return []
        missing = mapping.fields_missing_from_list()
        if not missing:
            return []
        named = ", ".join(f"{name!r} ({top})" for name, top in missing)
        return [
            self._problem(
                "field_mapping",
                f"maps {named}: the alert list (GET /v2/alerts) never carries "
                f"{', '.join(sorted({top for _, top in missing}))}, so every event would have "
                "null there. Turn Enrich on (one GET /v2/alerts/{id} per event, counted against "
                "the rate limit), or map a field the list carries",
            )
        ]

    def _coerce(self, input_id: str, value: Any) -> Any:
        wanted = self._properties.get(input_id, {}).get("type")
        types = wanted if isinstance(wanted, list) else [wanted]
        if isinstance(value, float) and value.is_integer() and "integer" in types:
            return int(value)  # 1700000000000.0 from a JSON playbook is the integer it means
        if not isinstance(value, str):
            return value
        if "string" in types:
            return value
        if "integer" in types and _INT_TEXT.match(value) and value.strip().isascii():
            return int(value)
        if "number" in types and _NUMBER_TEXT.match(value):
            number = float(value)
            return int(number) if number.is_integer() and "." not in value else number
        if "boolean" in types and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value

    def _shown(self, input_id: str, value: Any, hidden: Redactor | None) -> str:
        parameter = self.parameters.get(input_id)
        if parameter is not None and parameter.secret:
            return "a value that is not shown (secret)" if value is not None else "null"
        return _show(value, redactor=hidden)

    def _translate(
        self, error: ValidationError, values: Mapping[str, Any], hidden: Redactor | None
    ) -> list[dict[str, str]]:
        if error.validator == "required":
            return [
                self._problem(i, "is required") for i in error.validator_value if i not in values
            ]
        if error.validator == "additionalProperties":
            return [
                self._problem(str(k), "is not an input of this command")
                for k in values
                if k not in self._properties
            ]
        input_id = str(error.absolute_path[0]) if error.absolute_path else "inputs"
        schema = error.schema if isinstance(error.schema, dict) else {}
        value = error.instance
        kind = error.validator
        if kind == "type":
            wanted = (
                error.validator_value
                if isinstance(error.validator_value, list)
                else [error.validator_value]
            )
            expected = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
            text = f"expected {expected}, got {self._shown(input_id, value, hidden)}"
        elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            bounds = []
            if "exclusiveMinimum" in schema:
                bounds.append(f"above {schema['exclusiveMinimum']}")
            elif "minimum" in schema:
                bounds.append(f"at least {schema['minimum']}")
            if "exclusiveMaximum" in schema:
                bounds.append(f"below {schema['exclusiveMaximum']}")
            elif "maximum" in schema:
                bounds.append(f"at most {schema['maximum']}")
            text = f"expected a number {' and '.join(bounds)}, got {self._shown(input_id, value, hidden)}"
        elif kind == "enum":
            text = f"expected one of {', '.join(map(str, error.validator_value))}, got {self._shown(input_id, value, hidden)}"
        elif kind == "pattern" and error.validator_value == "\\S":
            text = "must not be empty or only whitespace"
        elif kind == "pattern":
            text = f"expected {schema.get('x-expected', 'a value matching ' + error.validator_value)}, got {self._shown(input_id, value, hidden)}"
        elif kind == "format":
            text = f"{_FORMAT_EXPECTED.get(error.validator_value, 'invalid format')}, got {self._shown(input_id, value, hidden)}"
        elif kind == "maxLength":
            text = f"must be at most {error.validator_value} characters long (got {len(value)})"
        elif kind == "minLength":
            text = "must not be empty"
        else:
            text = f"is not valid (JSON Schema keyword {kind!r})"
        return [self._problem(input_id, text)]
