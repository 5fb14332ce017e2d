"""Input validation: names, coercion, defaults, every error at once."""

from __future__ import annotations

import pytest

from opsgenie_integration.errors import InputError


def validator(integration, command):
    return integration._commands[integration.command(command).id].validator


def test_inputs_by_display_name_or_id_with_defaults(integration):
    v = validator(integration, "Fetch Event")
    assert v.validate({"Start Time": "2020-06-03 00:00"}) == {
        "start_time": "2020-06-03 00:00",
        "limit": 20,
    }
    assert v.validate({"start_time": "2020-06-03", "number of event(s) fetched": "100"}) == {
        "start_time": "2020-06-03",
        "limit": 100,
    }


def test_blank_optional_inputs_count_as_left_out(integration):
    v = validator(integration, "Fetch Event")
    assert v.validate({"Search Condition": "", "End Time": "   ", "Start Time": None}) == {
        "limit": 20
    }


@pytest.mark.parametrize("value", ["0", 101, "1.5", "ten", True, -3])
def test_limit_out_of_range(integration, value):
    with pytest.raises(InputError) as caught:
        validator(integration, "Fetch Event").validate({"limit": value})
    assert caught.value.problems[0]["parameter"] == "Number of Event(s) Fetched"
    assert caught.value.problems[0]["message"].startswith(
        "Number of Event(s) Fetched (limit): expected"
    )


def test_required_and_whitespace_only(integration):
    v = validator(integration, "Get Schedule Timeline")
    with pytest.raises(InputError) as caught:
        v.validate({})
    assert caught.value.problems == [
        {
            "parameter": "Schedule Name",
            "id": "schedule_name",
            "message": "Schedule Name (schedule_name): is required",
        }
    ]
    with pytest.raises(InputError, match="must not be empty or only whitespace"):
        v.validate({"schedule_name": " \t\n"})


def test_all_errors_at_once(integration):
    with pytest.raises(InputError) as caught:
        validator(integration, "Fetch Event").validate(
            {
                "Start Time": "soon",
                "End Time": "2020-13-45",
                "limit": 0,
                "Checkpoint": "xyz",
                "extra": 1,
            }
        )
    assert {p["id"] for p in caught.value.problems} == {
        "start_time",
        "end_time",
        "limit",
        "checkpoint",
        "extra",
    }


def test_same_input_twice(integration):
    with pytest.raises(InputError, match="given twice"):
        validator(integration, "Get Single User").validate({"user": "a", "Username or ID": "b"})


def test_inputs_must_be_an_object(integration):
    with pytest.raises(InputError, match="inputs must be an object"):
        validator(integration, "Get Schedules").validate(["x"])


@pytest.mark.parametrize(
    "query", ['message: "a (b"', 'tags: (x OR y) AND message: "a \\" (b"', "", "((a))"]
)
def test_balanced_queries_are_accepted(integration, query):
    validator(integration, "Fetch Event").validate({"Search Condition": query})


def test_unknown_names_share_one_hint(integration):
    with pytest.raises(InputError) as caught:
        validator(integration, "Get Single User").validate({"usr": "a", "Username": "b"})
    assert [p["message"] for p in caught.value.problems] == [
        "Unknown input 'usr'",
        "Unknown input 'Username'",
        "Username or ID (user): is required",
    ]
    assert caught.value.hint == "Known inputs: Username or ID (user)."


@pytest.mark.parametrize(
    "name", ["Ops Team/EU #1", "O'Brien", "team.name", "Équipe Nuit", "a", "x" * 1000]
)
def test_names_are_not_stricter_than_opsgenie(integration, name):
    assert (
        validator(integration, "Get On-call User").validate({"Schedule Name": name})[
            "schedule_name"
        ]
        == name
    )
