"""Field mapping files: deep paths and wildcards mapped through a loaded file, the alert field a path
starts with (for the fields the alert list lacks), the mapping's name, the cache per file version,
and every way a file is refused, with its exact message."""

from __future__ import annotations

import json
import os

import pytest
from jsonpath_ng.ext import parse as parse_jsonpath

from opsgenie_integration.mapping import (
    FieldMappingError,
    compile_path,
    fields_the_list_lacks,
    load_field_mapping,
    load_field_mapping_cached,
)

ALERT = {
    "id": "a1",
    "details": {"host": "db1"},
    "teams": [{"id": "t1"}, {"id": "t2"}],
    "responders": [{"id": "r1"}],
}


def _write(tmp_path, text, name="mapping.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path, **kwargs) -> list[str]:
    with pytest.raises(FieldMappingError) as caught:
        load_field_mapping(path, **kwargs)
    assert caught.value.error_type == "configuration"
    assert all(p["id"] == "field_mapping" for p in caught.value.problems)
    return [p["message"] for p in caught.value.problems]


def test_a_file_mixing_names_deep_paths_indexes_and_wildcards_maps_each(tmp_path):
    path = _write(
        tmp_path,
        "name: Mixed\n"
        "main_event_json_path: $.data\n"
        "fields:\n"
        "  - {field_name: Key, source_field: .id}\n"
        "  - {field_name: Host, source_field: .details.host}\n"
        "  - {field_name: Teams, source_field: '$.teams[*].id'}\n"
        "  - {field_name: First team, source_field: '$.teams[0].id'}\n"
        "  - {field_name: Responder, source_field: '$.responders[*].id'}\n"
        "  - {field_name: Whole, source_field: $}\n",
    )
    mapping = load_field_mapping(path)
    assert mapping.name == "Mixed" and mapping.main_event_json_path == "$.data"
    assert mapping.field_names == ("Key", "Host", "Teams", "First team", "Responder", "Whole")
    expected = {
        "Key": "a1",
        "Host": "db1",
        "Teams": ["t1", "t2"],
        "First team": "t1",
        "Responder": "r1",
        "Whole": ALERT,
    }
    assert mapping.map_event(ALERT) == expected
    assert mapping.map_answer({"data": [ALERT, None]}) == [expected, dict.fromkeys(expected)]
    assert mapping.map_answer({"data": ALERT}) == [expected]  # one object: one event


def test_the_name_is_the_files_stem_when_the_file_names_none(tmp_path):
    path = _write(
        tmp_path,
        "main_event_json_path: $.data\nfields:\n  - {field_name: K, source_field: .id}\n",
        name="my_source.yml",
    )
    assert load_field_mapping(path).name == "my_source"


def test_the_fields_the_alert_list_lacks_are_named_with_their_alert_field(tmp_path):
    path = _write(
        tmp_path,
        "main_event_json_path: $.data\n"
        "fields:\n"
        "  - {field_name: Key, source_field: .id}\n"
        "  - {field_name: Host, source_field: .details.host}\n"
        "  - {field_name: Any, source_field: '$.*'}\n"
        "  - {field_name: Text, source_field: '$.description'}\n"
        "  - {field_name: Deep, source_field: '$..x'}\n"
        "  - {field_name: Team, source_field: '$.teams[0].name'}\n",
    )
    assert load_field_mapping(path).fields_missing_from_list() == [
        ("Host", "details"),
        ("Text", "description"),
    ]


@pytest.mark.parametrize(
    "path, fields",
    [
        (".details.host", ("details",)),
        ("$.details", ("details",)),
        ("$..details.host", ("details",)),
        ("$['entity','details']", ("details", "entity")),
        ("@.x", ("x",)),
        ("$.teams[0].name", ()),
        ("$.id", ()),
        ("$.*", ()),
        ("$..x", ()),
        ("$", ()),
        ("$.a[?", ()),  # does not parse: compile_path reports it
        ("$.details | $.entity", ("details", "entity")),  # a union reads both sides
        ("$.details where host", ("details",)),
        ("($..x).details", ()),  # below a descendant: not the alert's own field
        ("($.teams..x).details", ()),
    ],
)
def test_the_alert_fields_a_path_reads_that_the_list_lacks(path, fields):
    assert fields_the_list_lacks(path) == fields


def test_an_index_with_several_positions_is_not_a_simple_path():
    accessor, steps = compile_path("$.a[0,2]")
    assert steps is None
    assert accessor({"a": [5, 6, 7]}) == [5, 7]


@pytest.mark.parametrize("index, value", [(-2, 1), (-1, 2), (0, 1), (1, 2)])
def test_every_index_inside_the_list_reads_it(index, value):
    accessor, steps = compile_path(f"$.a[{index}]")
    assert steps == ["a", index] and accessor({"a": [1, 2]}) == value


def test_a_step_through_a_null_gives_none():
    accessor, _ = compile_path("$.a.b.c")
    assert accessor({"a": None}) is None and accessor({"a": {"b": None}}) is None


def test_an_unparsable_path_quotes_the_parser_up_to_200_characters():
    bad = "$.a " + "b" * 300
    try:
        parse_jsonpath(bad)
    except Exception as exc:  # noqa: BLE001 - jsonpath-ng raises plain Exception
        detail = str(exc)
    assert len(detail) > 200
    with pytest.raises(ValueError) as caught:
        compile_path(bad)
    assert str(caught.value) == f"{bad[:80]!r} is not a valid JSONPath ({detail[:200]})"


def test_a_missing_file_is_refused_naming_the_parameter_and_path(tmp_path):
    path = tmp_path / "none.yaml"
    assert _problems(path, parameter="Field Mapping") == [
        f"Field Mapping {str(path)!r}: does not exist"
    ]


def test_a_yaml_error_is_quoted_to_200_characters_of_its_first_line(tmp_path):
    path = _write(tmp_path, "x: !" + "t" * 300 + " 1\n")
    first = ("could not determine a constructor for the tag '!" + "t" * 300)[:200]
    assert _problems(path) == [
        f"Field Mapping File {str(path)!r}: is not valid YAML or JSON, or is not a plain tree "
        f"({first})"
    ]


@pytest.mark.parametrize("name", ["deep.json", "deep.JSON"])
def test_a_json_file_nested_too_deeply_is_refused(tmp_path, name):
    deep: object = 1
    for _ in range(70):
        deep = [deep]
    body = {
        "main_event_json_path": "$.data",
        "fields": [{"field_name": "K", "source_field": ".id"}],
        "x": deep,
    }
    path = _write(tmp_path, json.dumps(body), name=name)
    assert _problems(path) == [
        f"Field Mapping File {str(path)!r}: is not valid YAML or JSON, or is not a plain tree "
        "(is nested more than 64 levels deep)"
    ]


def test_a_json_file_is_read_as_json(tmp_path):
    body = {
        "main_event_json_path": "$.data",
        "fields": [{"field_name": "K", "source_field": ".id"}],
    }
    path = _write(tmp_path, json.dumps(body), name="m.json")
    assert load_field_mapping(path).map_answer({"data": [{"id": 1}]}) == [{"K": 1}]


def test_schema_errors_are_each_reported_with_their_path(tmp_path):
    path = _write(tmp_path, "main_event_json_path: 5\nfields:\n  - {field_name: K}\n")
    messages = _problems(path)
    assert len(messages) == 2
    assert messages[0].startswith(f"Field Mapping File {str(path)!r}: fields")
    assert "'source_field' is a required property" in messages[0]
    assert messages[1].startswith(f"Field Mapping File {str(path)!r}: main_event_json_path")


def test_the_cached_load_is_the_same_until_the_file_changes(tmp_path):
    text = "main_event_json_path: $.data\nfields:\n  - {field_name: K, source_field: .id}\n"
    path = _write(tmp_path, text)
    first = load_field_mapping_cached(path)
    assert load_field_mapping_cached(str(path)) is first
    path.write_text(text.replace("K,", "Key,"), encoding="utf-8")
    os.utime(path, ns=(1, 1))
    changed = load_field_mapping_cached(path)
    assert changed is not first and changed.field_names == ("Key",)


def test_the_cached_load_of_a_missing_file_reports_it(tmp_path):
    with pytest.raises(FieldMappingError, match="does not exist"):
        load_field_mapping_cached(tmp_path / "none.yaml")
