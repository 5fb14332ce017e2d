"""Contract check: every request the client sends must exist in OpsGenie's OpenAPI description.

For each request: the operation (method + path template) exists, every query parameter is declared
for that operation, required ones are there, enum / integer / boolean values are allowed, and a
JSON body is valid against the operation's request body schema (a write without a body is checked
as ``{}``; an operation without a request body takes none). Path templates with literal
segments win over ``{identifier}`` ones (``/v2/schedules/on-calls`` before ``/v2/schedules/{identifier}``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit


@lru_cache(maxsize=2)
def load_spec(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _resolve(spec: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operations(spec: dict) -> list[tuple[str, list[str], str, dict]]:
    ops = []
    for template, item in spec["paths"].items():
        segments = template.strip("/").split("/")
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                ops.append((method.upper(), segments, template, op))
    # literal segments first
    ops.sort(key=lambda o: -sum(1 for s in o[1] if not s.startswith("{")))
    return ops


def find_operation(
    spec: dict, method: str, raw_path: str
) -> tuple[str, dict, dict[str, str]] | None:
    """(template, operation, path params decoded) for a raw (percent-encoded) path."""
    segments = raw_path.strip("/").split("/")
    for op_method, template_segments, template, op in _operations(spec):
        if op_method != method or len(template_segments) != len(segments):
            continue
        params = {}
        for want, got in zip(template_segments, segments):
            if want.startswith("{"):
                params[want.strip("{}")] = unquote(got)
            elif want != got:
                break
        else:
            return template, op, params
    return None


def _value_ok(schema: dict, value: str) -> str | None:
    kind = schema.get("type")
    if "enum" in schema and value not in [
        str(v).lower() if isinstance(v, bool) else str(v) for v in schema["enum"]
    ]:
        return f"value {value!r} not in enum {schema['enum']}"
    if kind == "integer":
        try:
            number = int(value)
        except ValueError:
            return f"value {value!r} is not an integer"
        if "minimum" in schema and number < schema["minimum"]:
            return f"value {number} below minimum {schema['minimum']}"
        if "maximum" in schema and number > schema["maximum"]:
            return f"value {number} above maximum {schema['maximum']}"
    if kind == "boolean" and value not in ("true", "false"):
        return f"value {value!r} is not a boolean"
    if kind == "array":
        items = _item_schema = schema.get("items", {})
        for part in value.split(","):
            problem = _value_ok(items, part)
            if problem:
                return problem
    return None


def _inline(spec: dict, node, seen: tuple = ()):
    """The schema with every ``$ref`` replaced by its target (the payload schemas have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                return {}
            return _inline(spec, _resolve(spec, {"$ref": ref}), (*seen, ref))
        return {k: _inline(spec, v, seen) for k, v in node.items() if not k.startswith("x-")}
    if isinstance(node, list):
        return [_inline(spec, v, seen) for v in node]
    return node


def _body_problems(
    spec: dict, method: str, template: str, op: dict, body: bytes | None
) -> list[str]:
    from jsonschema import Draft4Validator

    request_body = _resolve(spec, op.get("requestBody", {}))
    schema = ((request_body.get("content") or {}).get("application/json") or {}).get("schema")
    if schema is None:
        return (
            [f"{method} {template}: a body was sent to an operation that takes none"]
            if body
            else []
        )
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return [f"{method} {template}: the body is not JSON"]
    validator = Draft4Validator(_inline(spec, schema))
    return [
        f"{method} {template}: body {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(value)
    ]


#: Operations OpsGenie serves that the shared OpenAPI subset does not describe, with the query
#: parameters they take: ``GET /v2/request-limits/`` (the account's limits per rate-limit domain,
#: read once by ``fetch`` to pace itself; its answer's shape is OpsGenie's own backup tool's).
OFF_SPEC_OPERATIONS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/v2/request-limits/"): frozenset(),
}


def check_request(spec: dict, method: str, url: str, body: bytes | None = None) -> list[str]:
    """Problems of one request against the spec (empty when it conforms)."""
    parts = urlsplit(url)
    off_spec = OFF_SPEC_OPERATIONS.get((method, parts.path))
    if off_spec is not None:
        names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
        return [
            f"{method} {parts.path}: query parameter {n!r} is not declared"
            for n in sorted(names - off_spec)
        ]
    found = find_operation(spec, method, parts.path)
    if found is None:
        return [f"{method} {parts.path}: no such operation in the OpenAPI description"]
    template, op, _ = found
    declared = {}
    for param in op.get("parameters", []):
        param = _resolve(spec, param)
        declared[(param["in"], param["name"])] = _resolve(spec, param.get("schema", {}))
    problems = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        schema = declared.get(("query", name))
        if schema is None:
            problems.append(f"{method} {template}: query parameter {name!r} is not declared")
            continue
        problem = _value_ok(schema, value)
        if problem:
            problems.append(f"{method} {template}: {name}: {problem}")
    sent_names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    for param in op.get("parameters", []):
        param = _resolve(spec, param)
        if param["in"] == "query" and param.get("required") and param["name"] not in sent_names:
            problems.append(
                f"{method} {template}: required query parameter {param['name']!r} missing"
            )
    if method != "GET" or body:
        problems.extend(_body_problems(spec, method, template, op, body))
    return problems
