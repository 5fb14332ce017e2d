"""Field mapping files: what loads, what is refused (naming the field), and how answers map."""

from __future__ import annotations

import dataclasses

import pytest

from opsgenie_integration.mapping import (
    FieldMappingError,
    _schema_problem,
    compile_path,
    default_field_mapping,
    load_field_mapping,
)

NINE_FIELDS = (
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


def _write(tmp_path, text, name="mapping.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_mapping_gives_the_nine_fields_in_order():
    mapping = default_field_mapping()
    assert mapping.field_names == NINE_FIELDS
    assert mapping.main_event_json_path == "$.data"


def test_a_field_named_twice_is_refused_naming_it(tmp_path):
    path = _write(
        tmp_path,
        "main_event_json_path: $.data\n"
        "fields:\n"
        "  - {field_name: Status, source_field: .status}\n"
        "  - {field_name: Message, source_field: .message}\n"
        "  - {field_name: Status, source_field: .priority}\n",
    )
    with pytest.raises(FieldMappingError) as caught:
        load_field_mapping(path)
    messages = [p["message"] for p in caught.value.problems]
    assert len(messages) == 1
    assert "fields[2].field_name: 'Status' appears twice" in messages[0]
    assert caught.value.problems[0]["parameter"] == "Field Mapping File"


def test_every_bad_path_is_reported_at_once_with_its_field(tmp_path):
    path = _write(
        tmp_path,
        "main_event_json_path: '$.['\n"
        "fields:\n"
        "  - {field_name: A, source_field: '.a[?'}\n"
        "  - {field_name: B, source_field: .b}\n"
        "  - {field_name: C, source_field: '$$'}\n",
    )
    with pytest.raises(FieldMappingError) as caught:
        load_field_mapping(path, parameter="Field Mapping")
    messages = [p["message"] for p in caught.value.problems]
    assert len(messages) == 3
    assert "main_event_json_path:" in messages[0]
    assert "fields[0] (A):" in messages[1]
    assert "fields[2] (C):" in messages[2]
    assert all(m.startswith("Field Mapping ") for m in messages)


@pytest.mark.parametrize(
    "data, expected",
    [
        ([None, 5], [dict.fromkeys(NINE_FIELDS), dict.fromkeys(NINE_FIELDS)]),
        (["text", []], [dict.fromkeys(NINE_FIELDS), dict.fromkeys(NINE_FIELDS)]),
        ([], []),
        (None, []),
    ],
)
def test_items_that_are_not_alerts_map_to_empty_events(data, expected):
    assert default_field_mapping().map_answer({"data": data}) == expected


def test_a_single_alert_object_is_one_event():
    events = default_field_mapping().map_answer({"data": {"id": "a1", "count": 0}})
    assert events == [
        {
            **dict.fromkeys(NINE_FIELDS),
            "Unique Event Key": "a1",
            "Aggregated / Correlated Event count": 0,
        }
    ]


def test_answers_without_the_main_path_give_no_events():
    mapping = default_field_mapping()
    for answer in (None, [], "x", 5, {"took": 0.1}):
        assert mapping.map_answer(answer) == []


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (".a.b", {"a": {"b": 3}}, 3),
        ("$.a[1]", {"a": [1, 2]}, 2),
        ("$.a[-1]", {"a": [1, 2]}, 2),
        ("$.a[2]", {"a": [1, 2]}, None),
        ("$.a[-3]", {"a": [1, 2]}, None),
        ("$.a.b", {"a": [1]}, None),
        ("$.a[0]", {"a": {"0": 1}}, None),
        ("$.a[*].b", {"a": [{"b": 1}, {"b": 2}]}, [1, 2]),
        ("$.a[*].b", {"a": [{"b": 1}]}, 1),
        ("$.a[*].b", {"a": []}, None),
        ("$", {"x": 1}, {"x": 1}),
    ],
)
def test_paths_give_none_one_value_or_a_list(path, value, expected):
    accessor, _steps = compile_path(path)
    assert accessor(value) == expected


def test_simple_paths_compile_to_steps_and_others_do_not():
    assert compile_path(".a.b[0]")[1] == ["a", "b", 0]
    assert compile_path("$.a[*]")[1] is None
    with pytest.raises(ValueError, match="longer than 4096"):
        compile_path("$." + "a" * 4100)


def test_a_path_of_4096_characters_compiles_and_one_more_is_refused_showing_60():
    longest = "$." + "a" * 4094
    assert len(longest) == 4096
    compile_path(longest)
    too_long = longest + "b"
    with pytest.raises(ValueError) as caught:
        compile_path(too_long)
    assert str(caught.value) == f"{too_long[:60]!r}... is longer than 4096 characters"


def test_a_path_that_does_not_parse_is_quoted_to_80_characters():
    bad = "$.a[?(" + "x" * 200
    with pytest.raises(ValueError) as caught:
        compile_path(bad)
    assert str(caught.value).startswith(f"{bad[:80]!r} is not a valid JSONPath (")


def test_a_loaded_mapping_cannot_be_changed():
    mapping = default_field_mapping()
    with pytest.raises(dataclasses.FrozenInstanceError):
        mapping.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("size, kept", [(200, True), (201, False)])
def test_schema_messages_are_kept_up_to_200_characters(size, kept):
    class Error:
        message = "m" * size
        validator = "type"

    shown = _schema_problem(Error())
    if kept:
        assert shown == "m" * size
    else:
        assert shown == f"does not satisfy 'type' ({'m' * 120}...)"
