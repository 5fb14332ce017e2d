"""Conformance with OpsGenie's own description and recordings (read from the shared folder).

1. Every endpoint's answers, successes and errors, validate against
   ``opsgenie/openapi/opsgenie-v2-subset.openapi3.json`` (openapi-core, the description's servers
   pointed at the sandbox in memory).
2. The recorded bodies in ``opsgenie/recorded/`` could have come from the sandbox: every
   ``(key path, JSON type)`` of a recording appears in the sandbox's answers to the same call, and
   what the sandbox adds beyond a recording is a short, explained list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from .sandbox_helpers import CLOCK_MS, make_api, shared_dir

pytestmark = pytest.mark.conformance

READ_ONLY = "55555555-5555-4555-8555-555555555555"
CONFIG_ONLY = "66666666-6666-4666-8666-666666666666"


@pytest.fixture(scope="module")
def shared() -> Path:
    return shared_dir()


@pytest.fixture(scope="module")
def openapi(shared: Path, sandbox) -> OpenAPI:
    spec = json.loads(
        (shared / "opsgenie" / "openapi" / "opsgenie-v2-subset.openapi3.json").read_text("utf-8")
    )
    spec["servers"] = [{"url": sandbox.url}]
    return OpenAPI.from_dict(spec)


@pytest.fixture(scope="module")
def keys(sandbox):
    sandbox.add_key(READ_ONLY, ("read",))
    sandbox.add_key(CONFIG_ONLY, ("configuration",))


def _schedule_ids(sandbox) -> list[str]:
    return [s["id"] for s in sandbox.store.schedules]


def _cases(sandbox) -> list[tuple[str, dict, str | None, int]]:
    """(path, params, key: None=full | READ_ONLY | CONFIG_ONLY | a literal bad key, expected status)."""
    alert = sandbox.store.alerts[3]
    user = sandbox.store.users[0]
    sid = _schedule_ids(sandbox)[0]
    team = sandbox.store.teams[0]
    escalation = sandbox.store.escalations[1]
    unknown = "77777777-7777-4777-8777-777777777777"
    return [
        ("/v2/alerts", {}, None, 200),
        (
            "/v2/alerts",
            {"query": "status:open", "limit": 100, "sort": "updatedAt", "order": "asc"},
            None,
            200,
        ),
        ("/v2/alerts", {"limit": 0}, None, 422),
        ("/v2/alerts", {"offset": 19990, "limit": 20}, None, 422),
        ("/v2/alerts", {"query": "status:(open"}, None, 422),
        ("/v2/alerts", {}, CONFIG_ONLY, 403),
        ("/v2/alerts", {}, unknown, 401),
        ("/v2/alerts", {}, "bad-key", 422),
        ("/v2/alerts/count", {"query": "priority:P1"}, None, 200),
        ("/v2/alerts/count", {"query": "count >"}, None, 422),
        (f"/v2/alerts/{alert['id']}", {}, None, 200),
        (f"/v2/alerts/{alert['tinyId']}", {"identifierType": "tiny"}, None, 200),
        (f"/v2/alerts/{alert['alias']}", {"identifierType": "alias"}, None, 200),
        ("/v2/alerts/nope", {}, None, 404),
        ("/v2/schedules", {}, None, 200),
        ("/v2/schedules", {"expand": "rotation"}, None, 200),
        ("/v2/schedules", {}, READ_ONLY, 403),
        (f"/v2/schedules/{sid}", {}, None, 200),
        ("/v2/schedules/Ops%20Team%2FEU%20%231", {"identifierType": "name"}, None, 200),
        ("/v2/schedules/nope", {}, None, 404),
        (
            f"/v2/schedules/{sid}/timeline",
            {"expand": "base,forwarding,override", "interval": 2},
            None,
            200,
        ),
        (f"/v2/schedules/{sid}/timeline", {"intervalUnit": "years"}, None, 422),
        (f"/v2/schedules/{sid}/on-calls", {}, None, 200),
        (
            f"/v2/schedules/{sid}/on-calls",
            {"flat": "true", "date": "2024-03-07T08:00:00+02:00"},
            None,
            200,
        ),
        ("/v2/schedules/nope/on-calls", {}, None, 404),
        (f"/v2/schedules/{sid}/next-on-calls", {}, None, 200),
        (f"/v2/schedules/{sid}/next-on-calls", {"flat": "true"}, None, 200),
        ("/v2/schedules/on-calls", {"flat": "true"}, None, 200),
        ("/v2/users", {"limit": 5, "offset": 2}, None, 200),
        ("/v2/users", {"limit": 0}, None, 422),
        (f"/v2/users/{user['username']}", {"expand": "contact"}, None, 200),
        (f"/v2/users/{user['id']}", {}, None, 200),
        ("/v2/users/nobody@example.com", {}, None, 404),
        ("/v2/account", {}, None, 200),
        ("/v2/account", {}, READ_ONLY, 403),
        ("/v2/teams", {}, None, 200),
        (f"/v2/teams/{team['id']}", {}, None, 200),
        (f"/v2/teams/{team['name']}", {"identifierType": "name"}, None, 200),
        ("/v2/teams/nope", {}, None, 404),
        ("/v2/teams/nope", {}, READ_ONLY, 403),
        ("/v2/escalations", {}, None, 200),
        (f"/v2/escalations/{escalation['id']}", {}, None, 200),
        (f"/v2/escalations/{escalation['name']}", {"identifierType": "name"}, None, 200),
        ("/v2/escalations/nope", {}, None, 404),
        ("/v2/schedules/on-calls", {"date": "2024-03-07T08:00:00+02:00"}, None, 200),
    ]


def _get(sandbox, path: str, params: dict, key: str | None) -> requests.Response:
    with make_api(sandbox, key=key) as api:
        return api.get(path, params=params)


def test_every_endpoint_answer_validates_against_the_openapi_description(openapi, sandbox, keys):
    problems = []
    for path, params, key, status in _cases(sandbox):
        r = _get(sandbox, path, params, key)
        assert r.status_code == status, (path, params, r.text)
        try:
            openapi.validate_response(RequestsOpenAPIRequest(r.request), RequestsOpenAPIResponse(r))
        except Exception as exc:  # noqa: BLE001 - collect every failure, report them together
            problems.append(f"{path} {params} -> {status}: {exc!r}")
    assert not problems, "\n".join(problems)


def test_throttled_answer_validates(openapi, sandbox):
    sandbox.rate_limits.set("search", per_second=1)
    try:
        answers = [_get(sandbox, "/v2/alerts/count", {}, None) for _ in range(2)]
    finally:
        sandbox.rate_limits.clear()
    assert answers[1].status_code == 429
    openapi.validate_response(
        RequestsOpenAPIRequest(answers[1].request), RequestsOpenAPIResponse(answers[1])
    )


# --------------------------------------------------------------------------- recorded bodies
def shape(value: Any, path: str = "") -> set[tuple[str, str]]:
    """``{(key path, JSON type)}``; list items share the path ``<list>[]``, the keys of a ``details``
    map the path ``details.*``; int and float are both number."""
    kind = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )
    out = {(path or "$", kind)}
    if isinstance(value, dict):
        is_map = path.endswith(".details")  # free-form keys (a map of string lists): one path
        for key, item in value.items():
            out |= shape(item, f"{path}.{'*' if is_map else key}")
    elif isinstance(value, list):
        for item in value:
            out |= shape(item, f"{path}[]")
    return out


def _answers(sandbox, calls: list[tuple[str, dict, str | None]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path, params, key in calls:
        r = _get(sandbox, path, params, key)
        found |= shape(r.json())
    return found


def _dates() -> list[str]:
    from datetime import datetime, timezone

    return [
        datetime.fromtimestamp((CLOCK_MS + i * 12 * 3_600_000) / 1000, timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        for i in range(16)
    ]


# What the sandbox adds beyond the recordings of a call, and why. Every item is in the OpenAPI
# description or in API.md; the recordings simply do not show it.
_RESTRICTION = ("startHour", "startMin", "endHour", "endMin")
_TIME_RESTRICTION = {  # both shapes of timeRestriction: "restriction" (time-of-day), "restrictions"
    ".timeRestriction", ".timeRestriction.type", ".timeRestriction.restriction",
    *(f".timeRestriction.restriction.{k}" for k in _RESTRICTION),
    ".timeRestriction.restrictions", ".timeRestriction.restrictions[]",
    *(f".timeRestriction.restrictions[].{k}" for k in (*_RESTRICTION, "startDay", "endDay")),
}  # fmt: skip
_FLATTENED = ".data.finalTimeline.rotations[].periods[].flattenedRecipients"
EXTRAS: dict[str, set[str]] = {
    # the recorded alerts belong to no team
    "alerts_list": {".data[].teams[]", ".data[].teams[].id"},
    # a forwarded user names whom it replaces (spec: Participant.forwardedFrom)
    "oncalls_nonflat": {f".data.onCallParticipants[].forwardedFrom{k}" for k in ("", ".id", ".name", ".type")},
    # weekday restrictions; team and escalation participants carry a name
    "schedule_get": {f".data.rotations[]{p}" for p in _TIME_RESTRICTION}
    | {".data.rotations[].participants[].name"},
    # past periods are historical with their flattened users; forwarded periods name fromUser
    "timeline": {_FLATTENED, f"{_FLATTENED}[]", *(f"{_FLATTENED}[].{k}" for k in ("id", "type", "name")),
                 ".data.finalTimeline.rotations[].periods[].fromUser"},
    # rotations with restrictions and with an end
    "schedules_list": {f".data[].rotations[]{p}" for p in _TIME_RESTRICTION} | {".data[].rotations[].endDate"},
    # a disabled contact says why (spec: UserContact.disabledReason)
    "user_get": {".data.userContacts[].disabledReason"},
}  # fmt: skip


def _recorded_cases(sandbox) -> list[tuple[str, str, list[tuple[str, dict, str | None]]]]:
    ids = _schedule_ids(sandbox)
    users = sandbox.store.users
    on_calls = [(f"/v2/schedules/{s}/on-calls", {"date": d}, None) for s in ids for d in _dates()]
    unknown = "77777777-7777-4777-8777-777777777777"
    return [
        ("account_get.docs.json", "account", [("/v2/account", {}, None)]),
        ("alerts_count.docs.json", "alerts_count", [("/v2/alerts/count", {}, None)]),
        ("alerts_list.docs.json", "alerts_list", [("/v2/alerts", {"limit": 100}, None)]),
        ("alerts_list.demisto_testdata.json", "alerts_list", [("/v2/alerts", {"limit": 100}, None)]),
        ("oncalls_flat.docs.json", "oncalls_flat", [(p, dict(q, flat="true"), k) for p, q, k in on_calls]),
        ("oncalls_nonflat.docs.json", "oncalls_nonflat", on_calls),
        ("schedule_get.sdk_fixture.json", "schedule_get", [(f"/v2/schedules/{s}", {}, None) for s in ids]),
        ("schedules_list.docs.json", "schedules_list", [("/v2/schedules", {"expand": "rotation"}, None)]),
        ("timeline_full_envelope.third_party_test.json", "timeline", [(f"/v2/schedules/{s}/timeline", {"date": d}, None) for s in ids for d in _dates()[::4]]),
        ("user_get_expand_contact.sdk_fixture.json", "user_get", [(f"/v2/users/{u['id']}", {"expand": "contact"}, None) for u in users]),
        ("errors/401_could_not_authenticate.json", "error", [("/v2/account", {}, unknown)]),
        ("errors/403_40301_use_api_integration_key.json", "error", [("/v2/account", {}, READ_ONLY)]),
        ("errors/422_key_format_not_valid.json", "error", [("/v2/account", {}, "bad-key")]),
    ]  # fmt: skip


def test_recorded_bodies_could_have_come_from_the_sandbox(shared, sandbox, keys):
    cases = _recorded_cases(sandbox)
    recorded = {
        name: shape(json.loads((shared / "opsgenie" / "recorded" / name).read_text("utf-8")))
        for name, _, _ in cases
    }
    by_kind: dict[str, set[str]] = {}
    for name, kind, _ in cases:  # recordings of the same call together (the two alert lists)
        by_kind.setdefault(kind, set()).update(p for p, _ in recorded[name])
    for name, kind, calls in cases:
        ours = _answers(sandbox, calls)
        missing = recorded[name] - ours
        assert not missing, f"{name}: the sandbox never answers {sorted(missing)}"
        extra = {p for p, _ in ours} - by_kind[kind] - EXTRAS.get(kind, set())
        assert not extra, f"{name}: the sandbox adds unexplained {sorted(extra)}"


def test_recorded_throttled_body_shape(shared, sandbox):
    recorded = shape(
        json.loads(
            (shared / "opsgenie/recorded/errors/429_throttled.go_sdk_test.json").read_text("utf-8")
        )
    )
    sandbox.rate_limits.set("configuration", per_second=1)
    try:
        answers = [_get(sandbox, "/v2/account", {}, None) for _ in range(2)]
    finally:
        sandbox.rate_limits.clear()
    assert answers[1].status_code == 429 and shape(answers[1].json()) == recorded
