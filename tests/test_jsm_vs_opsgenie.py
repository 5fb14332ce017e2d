"""The same seeded account served by the sandbox as OpsGenie and as JSM Operations: the backend
seam gives results of the same shape, field by field, through both implementations.

Documented differences (README, migration section), and only these:

- a person's ``id`` is an Atlassian account id in JSM (the sandbox serves user ``U`` as
  ``712020:U``); their ``name`` is the e-mail address (OpsGenie's username) where the profile
  shows it, else the display name;
- escalations carry no name in JSM (there is no escalation endpoint in its read API);
- a timeline period's ``type`` is ``base`` in JSM where OpsGenie says ``default``; a forwarding
  period's ``fromUser`` is a person ``{id, type, name}`` instead of a username;
- Get Single User: ``role``, ``userAddress``, ``tags``, ``details``, ``verified``, ``createdAt``
  do not exist in the Jira user API; ``accountType`` is added;
- alerts: ``status`` is ``acked`` / ``snoozed`` for open alerts acknowledged or snoozed; the alert
  carries ``lastOccuredAt`` (JSM's spelling), ``integrationName``/``integrationType``,
  ``extraProperties`` instead of ``details``.
"""

from __future__ import annotations

import copy

import pytest

from opsgenie_integration import errors
from opsgenie_integration.backends.jsm import JsmBackend, JsmClient
from opsgenie_integration.client import OpsGenieClient
from opsgenie_integration.sandbox import Sandbox

CLOCK = "2024-03-06T12:00:00Z"
ACCT = "712020:"


@pytest.fixture(scope="module")
def pair():
    with (
        Sandbox(alerts=200, seed=9, clock=CLOCK) as og,
        Sandbox(alerts=200, seed=9, clock=CLOCK, platform="jsm") as jsm,
    ):
        assert og.store.alerts == jsm.store.alerts  # the same seeded account
        og_client = OpsGenieClient(og.url, og.api_key, max_retry_time=0)
        conn = jsm.connection
        jsm_client = JsmClient(
            email=conn["email"], api_token=conn["api_token"], site=conn["site"], api_url=conn["server_url"],
            max_retry_time=0,
        )  # fmt: skip
        with og_client, jsm_client:
            yield og, og_client, jsm, JsmBackend(jsm_client)


def hidden_accounts(jsm: Sandbox) -> set[str]:
    return set(jsm.jsm_api.hidden_emails)


def people_of(og: Sandbox) -> dict[str, dict]:
    return {u["id"]: u for u in og.store.users}


def expected_person(og_node: dict, og: Sandbox, jsm: Sandbox) -> dict:
    """An OpsGenie participant/recipient as JSM mode must give it (the documented differences)."""
    out = dict(og_node)
    kind = og_node.get("type")
    if kind == "user":
        user = people_of(og)[og_node["id"]]
        out["id"] = ACCT + og_node["id"]
        out["name"] = user["fullName"] if out["id"] in hidden_accounts(jsm) else user["username"]
    elif kind == "escalation":
        out["name"] = None
    return out


def normalise_tree(nodes: list, og: Sandbox, jsm: Sandbox) -> list:
    result = []
    for node in nodes:
        item = expected_person({k: node[k] for k in ("id", "name", "type")}, og, jsm)
        if "forwardedFrom" in node:
            item["forwardedFrom"] = expected_person(node["forwardedFrom"], og, jsm)
        if node.get("onCallParticipants"):
            item["onCallParticipants"] = normalise_tree(node["onCallParticipants"], og, jsm)
        result.append(item)
    return result


def test_schedules_field_by_field(pair):
    _og, og_client, _jsm, backend = pair
    ours = og_client.list_schedules()["data"]
    theirs = backend.list_schedules()["data"]
    assert [s["id"] for s in ours] == [s["id"] for s in theirs]
    for a, b in zip(ours, theirs):
        for key in ("id", "name", "description", "timezone", "enabled"):
            assert a.get(key) == b.get(key), key
        assert a.get("ownerTeam") == b.get("ownerTeam")


@pytest.mark.parametrize("date", [None, "2024-03-02T10:00:00+00:00", "2024-03-09T03:00:00+00:00"])
def test_on_calls_field_by_field(pair, date):
    og, og_client, jsm, backend = pair
    for schedule in og.store.schedule_list():
        backend.begin_command()
        name = schedule["name"]
        ours = og_client.get_on_calls(name, identifier_type="name", date=date)["data"]
        theirs = backend.get_on_calls(name, identifier_type="name", date=date)["data"]
        assert theirs["_parent"] == ours["_parent"]
        expected = normalise_tree(ours["onCallParticipants"], og, jsm)
        assert theirs["onCallParticipants"] == expected, name
        flat_ours = og_client.get_on_calls(name, identifier_type="name", flat=True, date=date)[
            "data"
        ]
        flat_theirs = backend.get_on_calls(name, identifier_type="name", flat=True, date=date)[
            "data"
        ]
        by_username = {u["username"]: u for u in og.store.users}
        assert flat_theirs["onCallRecipients"] == [
            expected_person({"type": "user", "id": by_username[n]["id"], "name": n}, og, jsm)[
                "name"
            ]
            for n in flat_ours["onCallRecipients"]
        ]


def test_people_resolved_in_one_bulk_call_per_command(pair):
    """Get On-call User's calls (the tree, then the flat list when the tree names a team without
    members) resolve their people in one bulk call: the flat list is read ahead with the tree.
    A timeline command resolves all its people in one call."""
    og, _, jsm, backend = pair
    for schedule in og.store.schedule_list():
        backend.begin_command()
        jsm.requests.clear()
        backend.get_on_calls(schedule["name"])
        backend.get_on_calls(schedule["name"], flat=True)
        bulk = [r for r in jsm.requests if r.path.endswith("/user/bulk")]
        lookups = [r for r in jsm.requests if r.path.endswith("/v1/schedules")]
        assert len(lookups) <= 2  # the name once (and the schedule names of escalation rules)
        assert len(bulk) <= 1  # the flat list, read ahead when the tree needs it, shares it
        on_calls = [r for r in jsm.requests if r.path.endswith("/on-calls")]
        assert len(on_calls) <= 2  # the tree and the flat list, each asked once
        backend.begin_command()
        jsm.requests.clear()
        backend.get_schedule_timeline(schedule["name"], interval=2, interval_unit="weeks")
        assert len([r for r in jsm.requests if r.path.endswith("/user/bulk")]) <= 1


def test_timeline_field_by_field(pair):
    og, og_client, jsm, backend = pair
    for schedule in og.store.schedule_list():
        backend.begin_command()
        kwargs = {
            "interval": 2,
            "interval_unit": "weeks",
            "date": "2024-03-04T00:00:00+00:00",
            "expand": ["base", "override"],
        }
        ours = og_client.get_schedule_timeline(schedule["name"], identifier_type="name", **kwargs)[
            "data"
        ]
        theirs = backend.get_schedule_timeline(schedule["name"], identifier_type="name", **kwargs)[
            "data"
        ]
        assert (theirs["startDate"], theirs["endDate"]) == (ours["startDate"], ours["endDate"])
        assert theirs["_parent"] == ours["_parent"]
        for layer in ("finalTimeline", "baseTimeline", "overrideTimeline"):
            a_rot, b_rot = ours[layer]["rotations"], theirs[layer]["rotations"]
            assert [(r["id"], r["name"], r["order"]) for r in a_rot] == [
                (r["id"], r["name"], r["order"]) for r in b_rot
            ]
            for ra, rb in zip(a_rot, b_rot):
                assert len(ra["periods"]) == len(rb["periods"])
                for pa, pb in zip(ra["periods"], rb["periods"]):
                    assert (pa["startDate"], pa["endDate"]) == (pb["startDate"], pb["endDate"])
                    kind = "base" if pa["type"] == "default" else pa["type"]
                    assert pb["type"] == kind
                    recipient = copy.deepcopy(pa["recipient"])
                    if recipient.get("type") == "none" or not recipient.get("id"):
                        assert pb["recipient"]["type"] == "none"
                        continue
                    assert pb["recipient"] == expected_person(recipient, og, jsm)
                    if "flattenedRecipients" in pa:
                        assert pb["flattenedRecipients"] == [
                            expected_person(r, og, jsm) for r in pa["flattenedRecipients"]
                        ]


def test_single_user_field_by_field(pair):
    og, og_client, jsm, backend = pair
    for user in og.store.users:
        ours = og_client.get_user(user["id"])["data"]
        acct = ACCT + user["id"]
        theirs = backend.get_user(acct)["data"]
        assert theirs["id"] == acct and theirs["fullName"] == ours["fullName"]
        for key in ("timeZone", "locale", "blocked"):
            assert theirs[key] == ours.get(key, False if key == "blocked" else None), key
        if acct in hidden_accounts(jsm):
            assert theirs["username"] is None
            with pytest.raises(errors.NotFoundError):
                backend.get_user(user["username"])
        else:
            assert theirs["username"] == ours["username"]
            assert backend.get_user(user["username"])["data"]["id"] == acct


def test_alert_fields_of_the_default_mapping(pair):
    """The nine fields of the default field mapping read the same from both alert shapes (status:
    JSM's finer states of an open alert are the documented difference)."""
    _og, og_client, _jsm, backend = pair
    ours = og_client.list_alerts(limit=100, sort="createdAt", order="asc")["data"]
    theirs = backend.list_alerts(limit=100, sort="createdAt", order="asc")["data"]
    assert [a["id"] for a in ours] == [a["id"] for a in theirs]
    for a, b in zip(ours, theirs):
        for key in (
            "id",
            "tinyId",
            "alias",
            "message",
            "count",
            "priority",
            "createdAt",
            "acknowledged",
        ):
            assert a[key] == b[key], key
        if a["status"] == "closed":
            assert b["status"] == "closed"
        else:
            assert b["status"] in ("open", "acked", "snoozed")


def test_retries_over_real_sockets(pair):
    _og, _og_client, jsm, _backend = pair
    conn = jsm.connection
    jsm.rate_limits.set("search", per_second=2, period_seconds=1)
    jsm.faults.add("html_5xx", paths=f"{jsm.jsm_prefix}/alerts", count=2, status=503)
    try:
        with JsmClient(email=conn["email"], api_token=conn["api_token"], site=conn["site"],
                       api_url=conn["server_url"], max_retry_time=10) as client:  # fmt: skip
            retrying = JsmBackend(client)
            for _ in range(6):
                assert retrying.list_alerts(limit=1)["data"]
            statuses = [r.status for r in jsm.requests if r.path.endswith("/v1/alerts")]
        assert 503 in statuses and 429 in statuses
        assert client.requests_sent > 6
    finally:
        jsm.rate_limits.clear()
        jsm.faults.clear()
