"""The manifest (``integration.yaml``): connection parameters, commands, event sources.

Loaded once, validated against ``schemas/integration.schema.json`` and checked for consistency
(unique ids and names, known rights, existing schema and mapping files); every problem is reported
at once with its path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from .resources import data_path, data_root

#: libyaml's safe loader when PyYAML was built with it (several times faster), else the pure one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str, *, untrusted: bool = False):
    """Parse YAML safely (no tags, no objects), with libyaml when available.

    With ``untrusted`` (a user's file), anchors/aliases and nesting deeper than 64 levels are
    refused, so a "billion laughs" file cannot make the checks after it walk billions of nodes.

    Raises:
        yaml.YAMLError: not YAML; ValueError: aliases or too deep (untrusted only).
    """
    value = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    if untrusted:
        check_plain_tree(value)
    return value


def check_plain_tree(value: Any, max_depth: int = 64) -> None:
    seen: set = set()
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        if id(node) in seen:
            raise ValueError(
                "uses YAML anchors/aliases (or repeats a node), which are not allowed here"
            )
        seen.add(id(node))
        if depth >= max_depth:
            raise ValueError(f"is nested more than {max_depth} levels deep")
        children = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children)


class ManifestError(Exception):
    """The manifest, a schema or a field mapping file is inconsistent. ``problems`` lists them all."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("Invalid integration manifest:\n- " + "\n- ".join(self.problems))


@dataclass(frozen=True)
class Parameter:
    """One input or connection parameter: ``id`` (snake_case), ``title`` (display name), ..."""

    id: str
    title: str
    description: str
    example: Any
    required: bool
    default: Any = None
    secret: bool = False


@dataclass(frozen=True)
class CommandDefinition:
    """One command of the manifest."""

    id: str
    name: str
    description: str
    input_schema: str
    right: str
    inputs: tuple[Parameter, ...]
    outputs: tuple[dict[str, str], ...]

    def input_by_id(self) -> dict[str, Parameter]:
        return {p.id: p for p in self.inputs}


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest. ``path`` is the file it came from."""

    name: str
    display_name: str
    description: str
    connection_schema: str
    connection_parameters: tuple[Parameter, ...]
    commands: tuple[CommandDefinition, ...]
    rights: dict[str, str]
    event_sources: tuple[dict[str, str], ...]
    path: Path = field(default=Path("integration.yaml"))

    def command(self, name_or_id: str) -> CommandDefinition | None:
        """The command whose display name or id is ``name_or_id`` (case and spacing ignored)."""
        wanted = fold_name(name_or_id)
        for command in self.commands:
            if wanted in (fold_name(command.name), fold_name(command.id)):
                return command
        return None

    def event_source_for(self, command_id: str) -> dict[str, str] | None:
        for source in self.event_sources:
            if source["command"] == command_id:
                return source
        return None


def fold_name(text: str) -> str:
    """A name as compared: case folded, without ``_``, ``-`` and spaces, so ``api_key``,
    ``API Key``, ``api-key`` and OpsGenie's own ``apiKey`` are one name."""
    return "".join(str(text).replace("_", " ").replace("-", " ").split()).casefold()


def load_json(relative: str) -> Any:
    """Parse a JSON data file given relative to the data root."""
    with open(data_path(relative), encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=1)
def _manifest_schema_validator() -> Draft202012Validator:
    return Draft202012Validator(
        load_json("schemas/integration.schema.json")
    )  # checked by the tests


def format_path(path: Any) -> str:
    """``commands[2].inputs[0].title`` from a jsonschema error path."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def load_manifest(path: Path | None = None) -> Manifest:
    """Load and check the manifest.

    Args:
        path: a manifest file; default the packaged ``integration.yaml``.

    Raises:
        ManifestError: with every problem found (schema errors with their paths, duplicate ids or
            names, unknown rights, missing schema or mapping files).
    """
    path = Path(path) if path else data_root() / "integration.yaml"
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.load(handle, Loader=_YAML_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError([f"{path}: cannot be read: {exc}"]) from None
    problems = [
        f"{format_path(err.absolute_path)}: {err.message}"
        for err in sorted(
            _manifest_schema_validator().iter_errors(raw),
            key=lambda e: list(map(str, e.absolute_path)),
        )
    ]
    if problems:
        raise ManifestError(problems)
    problems.extend(_consistency_problems(raw))
    if problems:
        raise ManifestError(problems)
    return _build(raw, path)


def _consistency_problems(raw: dict) -> list[str]:
    problems: list[str] = []
    root = data_root()
    seen_ids: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for index, command in enumerate(raw["commands"]):
        where = f"commands[{index}]"
        for table, key in ((seen_ids, "id"), (seen_names, "name")):
            folded = fold_name(command[key])
            if folded in table:
                problems.append(
                    f"{where}.{key}: {command[key]!r} is already used by commands[{table[folded]}]"
                )
            table[folded] = index
        if command["right"] not in raw["rights"]:
            problems.append(
                f"{where}.right: {command['right']!r} is not one of the rights {sorted(raw['rights'])}"
            )
        if not (root / command["input_schema"]).is_file():
            problems.append(f"{where}.input_schema: {command['input_schema']} does not exist")
        input_ids: dict[str, int] = {}
        for j, parameter in enumerate(command["inputs"]):
            for key in ("id", "title"):
                folded = fold_name(parameter[key])
                if folded in input_ids and input_ids[folded] != j:
                    problems.append(
                        f"{where}.inputs[{j}].{key}: {parameter[key]!r} is already used by inputs[{input_ids[folded]}]"
                    )
                input_ids[folded] = j
    if not (root / raw["connection"]["schema"]).is_file():
        problems.append(f"connection.schema: {raw['connection']['schema']} does not exist")
    command_ids = {c["id"] for c in raw["commands"]}
    for index, source in enumerate(raw["event_sources"]):
        if source["command"] not in command_ids:
            problems.append(f"event_sources[{index}].command: no command {source['command']!r}")
        if not (root / source["field_mapping"]).is_file():
            problems.append(
                f"event_sources[{index}].field_mapping: {source['field_mapping']} does not exist"
            )
    return problems


def _parameter(raw: dict) -> Parameter:
    return Parameter(
        id=raw["id"],
        title=raw["title"],
        description=raw["description"],
        example=raw["example"],
        required=raw["required"],
        default=raw.get("default"),
        secret=raw.get("secret", False),
    )


def _build(raw: dict, path: Path) -> Manifest:
    return Manifest(
        name=raw["name"],
        display_name=raw["display_name"],
        description=raw["description"],
        connection_schema=raw["connection"]["schema"],
        connection_parameters=tuple(_parameter(p) for p in raw["connection"]["parameters"]),
        commands=tuple(
            CommandDefinition(
                id=c["id"],
                name=c["name"],
                description=c["description"],
                input_schema=c["input_schema"],
                right=c["right"],
                inputs=tuple(_parameter(p) for p in c["inputs"]),
                outputs=tuple(dict(o) for o in c["outputs"]),
            )
            for c in raw["commands"]
        ),
        rights=dict(raw["rights"]),
        event_sources=tuple(dict(s) for s in raw["event_sources"]),
        path=path,
    )
