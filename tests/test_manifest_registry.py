"""The manifest, the registry and the schemas must agree; the registry refuses them when they drift."""

from __future__ import annotations

import inspect
import json
import re
import types
from importlib.metadata import entry_points
from pathlib import Path

import pluggy
import pytest
import requests_mock as rm
import yaml
from conftest import REPO
from jsonschema import Draft202012Validator

from opsgenie_integration import Integration, hookspecs
from opsgenie_integration.command import CommandResult, CommandSpec, hookimpl
from opsgenie_integration.manifest import ManifestError, load_manifest
from opsgenie_integration.mapping import default_field_mapping
from opsgenie_integration.registry import RegistryError, schema_drift

COMMANDS = [
    "fetch_event",
    "get_on_call_user",
    "get_schedules",
    "get_schedule_timeline",
    "get_single_user",
    "get_next_on_call_user",
    "get_on_call_users_across_schedules",
    "is_user_on_call",
    "get_team",
    "list_teams",
    "get_escalation",
    "list_escalations",
    "test_connection",
]
ALERT_ACTIONS = [
    "create_alert",
    "get_alert",
    "delete_alert",
    "acknowledge_alert",
    "unacknowledge_alert",
    "close_alert",
    "snooze_alert",
    "escalate_alert",
    "assign_alert",
    "add_responder",
    "add_note",
    "add_tags",
    "remove_tags",
    "add_details",
    "remove_details",
    "list_alert_notes",
    "list_alert_logs",
    "list_alert_recipients",
    "count_alerts",
    "get_request_status",
]
ALL_IDS = COMMANDS + ALERT_ACTIONS


def test_manifest_declares_the_commands():
    manifest = load_manifest()
    assert [c.id for c in manifest.commands] == ALL_IDS
    assert [c.name for c in manifest.commands] == [
        "Fetch Event",
        "Get On-call User",
        "Get Schedules",
        "Get Schedule Timeline",
        "Get Single User",
        "Get Next On-call User",
        "Get On-call Users Across Schedules",
        "Is User On Call",
        "Get Team",
        "List Teams",
        "Get Escalation",
        "List Escalations",
        "Test Connection",
        *[
            "Create Alert",
            "Get Alert",
            "Delete Alert",
            "Acknowledge Alert",
            "Unacknowledge Alert",
            "Close Alert",
            "Snooze Alert",
            "Escalate Alert",
            "Assign Alert",
            "Add Responder",
            "Add Note",
            "Add Tags",
            "Remove Tags",
            "Add Details",
            "Remove Details",
            "List Alert Notes",
            "List Alert Logs",
            "List Alert Recipients",
            "Count Alerts",
            "Get Request Status",
        ],
    ]
    params = {p.id: p for p in manifest.connection_parameters}
    assert params["server_url"].default == "https://api.opsgenie.com"
    assert params["api_key"].secret and params["api_key"].required
    assert params["api_version"].default == "v2"
    for command in manifest.commands:
        for parameter in command.inputs:
            assert parameter.title and parameter.description and parameter.example is not None


def test_every_schema_is_valid_and_documented():
    for path in sorted((REPO / "schemas").glob("*.json")):
        Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_registry_matches_manifest_and_schemas(integration):
    """Drift test: handlers, manifest commands and schema properties line up one to one."""
    assert [c.id for c in integration.commands] == ALL_IDS
    for command in integration.manifest.commands:
        schema = json.loads((REPO / command.input_schema).read_text())
        assert schema_drift(schema, command.inputs) == [], command.id


def test_schema_drift_is_detected():
    manifest = load_manifest()
    command = manifest.command("Get On-call User")
    schema = json.loads((REPO / command.input_schema).read_text())
    schema["properties"]["flat"] = {"type": "boolean"}
    del schema["properties"]["date"]
    schema["required"] = []
    schema.pop("additionalProperties")
    problems = schema_drift(schema, command.inputs)
    assert any("'date' is in integration.yaml but not in the schema" in p for p in problems)
    assert any("'flat' is in the schema but not in integration.yaml" in p for p in problems)
    assert any("required inputs differ" in p for p in problems)
    assert any("additionalProperties" in p for p in problems)


def _manifest_copy(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((REPO / "integration.yaml").read_text())
    change(raw)
    path = tmp_path / "integration.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def test_manifest_problems_are_reported_together(tmp_path):
    def break_it(raw):
        raw["commands"][0]["name"] = ""
        raw["commands"][1]["right"] = 7
        del raw["commands"][2]["description"]
        raw["connection"]["parameters"][0]["colour"] = "red"

    with pytest.raises(ManifestError) as caught:
        load_manifest(_manifest_copy(tmp_path, break_it))
    text = str(caught.value)
    for where in (
        "commands[0].name",
        "commands[1].right",
        "commands[2]",
        "connection.parameters[0]",
    ):
        assert where in text
    assert len(caught.value.problems) >= 4


def test_manifest_duplicates_and_unknown_rights(tmp_path):
    def break_it(raw):
        raw["commands"][1]["id"] = "fetch_event"
        raw["commands"][2]["right"] = "admin"
        raw["commands"][3]["input_schema"] = "schemas/nope.schema.json"

    with pytest.raises(ManifestError) as caught:
        load_manifest(_manifest_copy(tmp_path, break_it))
    text = str(caught.value)
    assert "'fetch_event' is already used by commands[0]" in text
    assert "'admin' is not one of the rights" in text
    assert "schemas/nope.schema.json does not exist" in text


def test_manifest_command_without_handler_is_refused(tmp_path):
    def add(raw):
        raw["commands"].append({**raw["commands"][2], "id": "get_teams", "name": "Get Teams"})

    with pytest.raises(
        RegistryError, match="declares command 'get_teams' .* no plugin provides a handler"
    ):
        Integration.load(entry_points=False, manifest_path=_manifest_copy(tmp_path, add))


def test_handler_without_manifest_entry_is_refused():
    plugin = types.SimpleNamespace()

    @hookimpl
    def opsgenie_register_commands():
        return [CommandSpec("get_teams", lambda ctx: CommandResult(None))]

    plugin.opsgenie_register_commands = opsgenie_register_commands
    with pytest.raises(
        RegistryError, match="provides command 'get_teams', which integration.yaml does not declare"
    ):
        Integration.load(plugins=[plugin], entry_points=False)


def test_duplicate_handler_is_refused_naming_both_plugins():
    class Shadow:
        @hookimpl
        def opsgenie_register_commands(self):
            return [CommandSpec("get_schedules", lambda ctx: CommandResult(None))]

    with pytest.raises(RegistryError) as caught:
        Integration.load(plugins=[Shadow()], entry_points=False)
    assert "'get_schedules' is provided twice" in str(caught.value) and "builtin_commands" in str(
        caught.value
    )


def test_misspelt_hook_implementation_is_refused():
    class Typo:
        @hookimpl
        def opsgenie_register_comands(self):  # sic
            return []

    with pytest.raises(
        pluggy.PluginValidationError, match="unknown hook 'opsgenie_register_comands'"
    ):
        Integration.load(plugins=[Typo()], entry_points=False)


class _Audit:
    """A plugin observing every command through the before and after hooks."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    @hookimpl
    def opsgenie_before_command(self, command, inputs):
        self.seen.append(("before", command, dict(inputs)))

    @hookimpl
    def opsgenie_after_command(self, command, envelope, seconds):
        self.seen.append(("after", command, envelope["return_data"], seconds >= 0))


def test_third_party_plugin_can_replace_nothing_but_can_observe():
    audit = _Audit()
    integration = Integration.load(plugins=[audit], entry_points=False)
    envelope = integration.run("Get Single User", {"user": "  "}, {"api_key": "k" * 36})
    assert envelope["return_data"] == "Failed"
    # invalid input: the command never started
    assert audit.seen == [("after", "Get Single User", "Failed", True)]


@pytest.mark.parametrize(
    "command, inputs, settings, shown",
    [
        ("Delete Everything", {}, {"api_key": "k" * 36}, "Delete Everything"),  # unknown command
        ("Get Schedules", {}, None, "Get Schedules"),  # no settings
        ("Get Schedules", {}, {"api_key": "k" * 36, "server_url": "http://x"}, "Get Schedules"),
    ],
)
def test_after_hook_sees_every_early_failure_and_before_hook_none(command, inputs, settings, shown):
    audit = _Audit()
    integration = Integration.load(plugins=[audit], entry_points=False)
    envelope = integration.run(command, inputs, settings)
    assert envelope["return_data"] == "Failed"
    assert audit.seen == [("after", shown, "Failed", True)]


def test_before_hook_gets_the_validated_inputs_by_id(conn):
    audit = _Audit()
    integration = Integration.load(plugins=[audit], entry_points=False)
    with rm.Mocker() as m:
        m.get(rm.ANY, json={"data": {"username": "a@example.com"}, "requestId": "r"})
        integration.run("Get Single User", {"Username or ID": "a@example.com"}, conn)
    assert audit.seen == [
        ("before", "Get Single User", {"user": "a@example.com"}),
        ("after", "Get Single User", "Successful", True),
    ]


def test_builtins_are_the_entry_point_plugins():
    """The built-in commands are registered under their entry-point name, exactly as a third party's."""
    names = {ep.name: ep.value for ep in entry_points(group="opsgenie_integration")}
    assert names.get("builtin_commands") == "opsgenie_integration.commands"
    integration = Integration.load()  # loading entry points does not register them twice
    assert [c.id for c in integration.commands] == ALL_IDS


def test_event_source_mapping_is_declared_and_compiles():
    manifest = load_manifest()
    source = manifest.event_source_for("fetch_event")
    mapping = default_field_mapping(source["field_mapping"])
    assert mapping.main_event_json_path == "$.data"
    assert mapping.field_names == (
        "Unique Event Key",
        "Original event ID",
        "Event name",
        "Status",
        "Message",
        "Aggregated / Correlated Event count",
        "Priority",
        "Start Time",
        "Acknowledged",
    )


def _readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _hookspecs() -> dict[str, list[str]]:
    """Every hook specification in hookspecs.py, with its argument names in order."""
    specs = {}
    for name, function in vars(hookspecs).items():
        if callable(function) and hasattr(function, f"{hookspecs.PROJECT}_spec"):
            specs[name] = list(inspect.signature(function).parameters)
    return specs


def test_hookspecs_are_the_four_known_hooks():
    assert _hookspecs() == {
        "opsgenie_register_commands": [],
        "opsgenie_resolve_secret": ["scheme", "reference"],
        "opsgenie_before_command": ["command", "inputs"],
        "opsgenie_after_command": ["command", "envelope", "seconds"],
    }


def test_every_hook_is_documented_in_the_readme_with_its_arguments():
    """As datasette does: the README's plugin section names each hook as ``name(arg, ...)``."""
    section = _readme_section("Plugins")
    undocumented = [
        f"{name}({', '.join(args)})"
        for name, args in _hookspecs().items()
        if f"`{name}({', '.join(args)})`" not in section
    ]
    assert not undocumented, f"hooks missing from README.md's Plugins section: {undocumented}"
    documented = set(re.findall(r"`(opsgenie_\w+)\(", section))
    assert documented == set(_hookspecs()), "the README documents a hook that does not exist"
