"""The JSM Operations backend over requests-mock: the requests it sends (Basic auth, cloud id from
the site, encoded path segments, params, paging), what it makes of JSM's answers, and every JSM
error shape mapped into the exception tree. Every JSM request is checked against the JSM
description (``jsm_contract``)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
from jsm_contract import check, load

from opsgenie_integration import errors
from opsgenie_integration.backends import check_platform
from opsgenie_integration.backends.jsm import JsmBackend, JsmClient

SITE = "https://example.atlassian.net"
API = "https://api.atlassian.com"
CLOUD = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
OPS = f"{API}/jsm/ops/api/{CLOUD}/v1"
EMAIL = "ops.bot@example.com"
TOKEN = "ATATT3xFfGF0-test-token"
ACCT_A = "712020:aaaaaaaa-0000-4000-8000-000000000001"
ACCT_B = "5b10ac8d82e05b22cc7d4ef5"


@pytest.fixture
def backend(requests_mock):
    requests_mock.get(f"{SITE}/_edge/tenant_info", json={"cloudId": CLOUD})
    client = JsmClient(email=EMAIL, api_token=TOKEN, site=SITE, max_retry_time=0)
    with client:
        yield JsmBackend(client)


def sent(requests_mock, path_part: str):
    return [r for r in requests_mock.request_history if path_part in r.path]


def test_basic_auth_and_cloud_id_read_once_from_the_site(backend, requests_mock):
    requests_mock.get(f"{OPS}/alerts", json={"values": [], "count": 0, "links": {}})
    backend.list_alerts(limit=1)
    backend.list_alerts(limit=2)
    assert len(sent(requests_mock, "tenant_info")) == 1
    request = sent(requests_mock, "/alerts")[0]
    expected = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert "GenieKey" not in str(request.headers)
    assert request.qs == {"offset": ["0"], "size": ["1"], "sort": ["createdat"], "order": ["desc"]}


def test_cloud_id_given_directly_needs_no_site(requests_mock):
    requests_mock.get(f"{OPS}/teams", json={"platformTeams": []})
    requests_mock.get(
        f"{API}/ex/jira/{CLOUD}/rest/api/3/user", json={"accountId": ACCT_A, "displayName": "A"}
    )
    with JsmClient(email=EMAIL, api_token=TOKEN, cloud_id=CLOUD, max_retry_time=0) as client:
        backend = JsmBackend(client)
        assert backend._team_name("x") is None
        user = backend.get_user(ACCT_A)["data"]
    assert user["id"] == ACCT_A and user["fullName"] == "A"
    assert all("tenant_info" not in r.path for r in requests_mock.request_history)


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"email": EMAIL, "api_token": TOKEN}, "Site"),
        ({"email": "", "api_token": TOKEN, "site": SITE}, "Email"),
        ({"email": EMAIL, "api_token": "has space", "site": SITE}, "printable"),
        ({"email": EMAIL, "api_token": TOKEN, "site": "http://example.atlassian.net"}, "https"),
        ({"email": EMAIL, "api_token": TOKEN, "cloud_id": "a/b"}, "Cloud ID"),
    ],
)
def test_bad_settings_are_refused_before_any_request(kwargs, text, requests_mock):
    with pytest.raises(ValueError, match=text):
        JsmClient(**kwargs)
    assert requests_mock.request_history == []


def test_platform_setting():
    assert check_platform(None) == "opsgenie" and check_platform(" JSM ") == "jsm"
    with pytest.raises(ValueError, match="opsgenie, jsm"):
        check_platform("pagerduty")


def test_list_alerts_refuses_what_jsm_cannot_do(backend, requests_mock):
    from opsgenie_integration.backends.base import NotSupportedError

    for kwargs in ({"limit": 101}, {"offset": 19_950, "limit": 50}, {"order": "up"}):
        with pytest.raises(ValueError):
            backend.list_alerts(**kwargs)
    with pytest.raises(NotSupportedError, match="not by updatedAt"):
        backend.list_alerts(sort="updatedAt")
    assert not sent(requests_mock, "/alerts")


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body, cls, message",
    [
        (401, {"code": 401, "message": "Client must be authenticated to access this resource."},
         errors.AuthenticationError, "Client must be authenticated to access this resource."),
        (403, {"errors": [{"title": "The user lacks read:ops-config", "code": "FORBIDDEN"}]},
         errors.ForbiddenError, "The user lacks read:ops-config"),
        (422, {"errors": [{"title": "size: too big", "code": "INVALID"}, {"title": "sort: bad", "code": "INVALID"}]},
         errors.UnprocessableError, "size: too big; sort: bad"),
        (404, {"message": "Alert does not exist", "took": 0.001, "requestId": "rq-1"},
         errors.NotFoundError, "Alert does not exist"),
        (404, {"errorMessages": ["Specified user does not exist"], "errors": {}},
         errors.NotFoundError, "Specified user does not exist"),
        (400, {"errorMessages": [], "errors": {"accountId": "is required"}},
         errors.BadRequestError, "accountId: is required"),
    ],
)  # fmt: skip
def test_each_error_shape_maps_to_the_tree(backend, requests_mock, status, body, cls, message):
    requests_mock.get(
        f"{OPS}/alerts", status_code=status, json=body, headers={"X-Request-ID": "hdr-1"}
    )
    with pytest.raises(cls) as caught:
        backend.list_alerts()
    exc = caught.value
    assert exc.message == message and exc.status_code == status
    assert exc.request_id == ("rq-1" if "requestId" in body else "hdr-1")
    assert exc.hint and TOKEN not in str(vars(exc))
    if "code" in body and isinstance(body["code"], int):
        assert exc.code == 401
    if isinstance(body.get("errors"), list):
        assert exc.errors == body["errors"]


def test_html_and_empty_answers_and_secrets_never_echoed(backend, requests_mock):
    requests_mock.get(f"{OPS}/alerts", status_code=502, text="<html>Bad gateway</html>",
                      headers={"Content-Type": "text/html"})  # fmt: skip
    with pytest.raises(errors.ServerError, match="HTML page"):
        backend.list_alerts()
    requests_mock.get(f"{OPS}/teams", status_code=200, text="")
    with pytest.raises(errors.BadResponseError, match="empty body"):
        backend._team_name("t")
    credentials = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    requests_mock.get(f"{OPS}/schedules", status_code=400, text=f"echo {TOKEN} {credentials}")
    with pytest.raises(errors.BadRequestError) as caught:
        backend.list_schedules()
    assert TOKEN not in caught.value.message and credentials not in caught.value.message


def test_429_without_retry_time_left_is_rate_limited(requests_mock):
    """(The retries themselves run over real sockets: requests-mock replaces the transport, so
    they are tested against the JSM sandbox in test_jsm_sandbox.py.)"""
    requests_mock.get(f"{SITE}/_edge/tenant_info", json={"cloudId": CLOUD})
    requests_mock.get(
        f"{OPS}/alerts", status_code=429, headers={"Retry-After": "7"},
        json={"errors": [{"title": "Too many requests", "code": "TOO_MANY_REQUESTS"}]},
    )  # fmt: skip
    client = JsmClient(email=EMAIL, api_token=TOKEN, site=SITE, max_retry_time=0)
    with client, pytest.raises(errors.RateLimitedError) as caught:
        JsmBackend(client).list_alerts()
    assert caught.value.retry_after == 7.0 and caught.value.retryable
    assert caught.value.message == "Too many requests"


def test_tenant_info_without_cloud_id_is_a_bad_response(requests_mock):
    requests_mock.get(f"{SITE}/_edge/tenant_info", json={"nope": 1})
    client = JsmClient(email=EMAIL, api_token=TOKEN, site=SITE, max_retry_time=0)
    with client, pytest.raises(errors.BadResponseError, match="cloudId"):
        JsmBackend(client).list_alerts()


# -- schedules, on-calls, timeline ------------------------------------------------------------


def schedule(sid: str, name: str, **extra) -> dict:
    return {"id": sid, "name": name, "description": "", "timezone": "UTC", "enabled": True, **extra}


def test_schedule_by_name_pages_and_matches_exactly(backend, requests_mock):
    page1 = {"values": [schedule("s1", "ops*x"), schedule("s2", "Ops Team/EU #1")],
             "links": {"next": "/v1/schedules?offset=2&size=50"}}  # fmt: skip
    page2 = {"values": [schedule("s3", "Ops Team/EU #10")], "links": {}}
    requests_mock.get(f"{OPS}/schedules", [{"json": page1}, {"json": page2}])
    requests_mock.get(f"{OPS}/schedules/s2/on-calls", json={"onCallParticipants": []})
    data = backend.get_on_calls("Ops Team/EU #1")["data"]
    assert data == {
        "_parent": {"id": "s2", "name": "Ops Team/EU #1", "enabled": True},
        "onCallParticipants": [],
    }
    listing = sent(requests_mock, "/schedules")
    assert [r.qs.get("offset") for r in listing[:2]] == [["0"], ["2"]]
    assert parse_qs(urlsplit(listing[0].url).query)["query"] == ["Ops Team/EU #1"]
    # cached for the command: a second call does not look the name up again
    backend.get_on_calls("Ops Team/EU #1")
    assert len([r for r in requests_mock.request_history if r.path.endswith("/schedules")]) == 2


def test_schedule_names_twice_or_missing(backend, requests_mock):
    twins = [schedule("a", "Dup"), schedule("b", "Dup"), schedule("c", "dup")]
    requests_mock.get(f"{OPS}/schedules", json={"values": twins, "links": {}})
    with pytest.raises(errors.BadRequestError, match="2 schedules are named 'Dup'") as caught:
        backend.schedule_by_name("Dup")
    assert "a, b" in caught.value.message
    assert backend.schedule_by_name("dup")["id"] == "c"  # the exact spelling wins over case
    requests_mock.get(f"{OPS}/schedules", json={"values": [schedule("d", "Night")], "links": {}})
    assert backend.schedule_by_name("NIGHT")["id"] == "d"  # else JSM's case-insensitive match
    requests_mock.get(f"{OPS}/schedules", json={"values": [], "links": {}})
    with pytest.raises(errors.NotFoundError, match=r"Schedule with name \[Nope\] does not exist"):
        backend.schedule_by_name("Nope")
    with pytest.raises(errors.NotFoundError, match="prefix"):
        backend.schedule_by_name("Ops*")


def test_on_call_tree_resolves_people_in_one_bulk_call(backend, requests_mock):
    requests_mock.get(f"{OPS}/schedules/s%2F1/on-calls", json={"onCallParticipants": [
        {"id": "team-1", "type": "team"},
        {"id": ACCT_A, "type": "user"},
        {"id": "esc-1", "type": "escalation", "onCallParticipants": [
            {"id": ACCT_B, "type": "user", "forwardedFrom": {"id": ACCT_A, "type": "user"}}]},
    ]})  # fmt: skip
    requests_mock.get(f"{SITE}/rest/api/3/user/bulk", json={"values": [
        {"accountId": ACCT_A, "displayName": "Ann A", "emailAddress": "ann@example.com"},
        {"accountId": ACCT_B, "displayName": "Bob B"},
    ], "isLast": True})  # fmt: skip
    requests_mock.get(
        f"{OPS}/teams", json={"platformTeams": [{"teamId": "team-1", "teamName": "Ops"}]}
    )
    data = backend.get_on_calls("s/1", identifier_type="id", date="2024-03-01T00:00:00+00:00")[
        "data"
    ]
    nodes = data["onCallParticipants"]
    assert nodes[0] == {"id": "team-1", "name": "Ops", "type": "team"}
    assert nodes[1] == {"id": ACCT_A, "name": "ann@example.com", "type": "user"}
    child = nodes[2]["onCallParticipants"][0]
    assert child["name"] == "Bob B" and child["forwardedFrom"]["name"] == "ann@example.com"
    bulk = sent(requests_mock, "/user/bulk")
    assert len(bulk) == 1 and bulk[0].qs["accountid"] == [ACCT_A.lower(), ACCT_B.lower()]
    oncall = sent(requests_mock, "/on-calls")[0]
    assert "/schedules/s%2F1/on-calls" in oncall.url and oncall.qs["date"] == [
        "2024-03-01t00:00:00+00:00"
    ]
    assert "%2B00%3A00" in oncall.url  # the + of the offset travels encoded
    # flat: account ids and names; the people are cached for the command (no second bulk call)
    requests_mock.get(f"{OPS}/schedules/s%2F1/on-calls", json={"onCallUsers": [ACCT_A, ACCT_B]})
    flat = backend.get_on_calls("s/1", identifier_type="id", flat=True)["data"]
    assert flat["onCallRecipients"] == ["ann@example.com", "Bob B"]
    assert flat["onCallAccountIds"] == [ACCT_A, ACCT_B]
    assert len(sent(requests_mock, "/user/bulk")) == 1
    backend.begin_command()
    backend.get_on_calls("s/1", identifier_type="id", flat=True)
    assert len(sent(requests_mock, "/user/bulk")) == 2


def test_timeline_responder_becomes_recipient(backend, requests_mock):
    requests_mock.get(f"{OPS}/schedules/s1/timeline", json={
        "startDate": "2024-01-29T00:00:00Z", "endDate": "2024-02-05T00:00:00Z",
        "finalTimeline": {"rotations": [{"id": "r1", "name": "Primary", "order": 1, "periods": [
            {"startDate": "2024-01-29T00:00:00Z", "endDate": "2024-02-01T00:00:00Z", "type": "historical",
             "responder": {"id": ACCT_A, "type": "user"}, "flattenedResponders": [{"id": ACCT_A, "type": "user"}]},
            {"startDate": "2024-02-01T00:00:00Z", "endDate": "2024-02-05T00:00:00Z", "type": "base",
             "responder": {"type": "noone"}},
        ]}]},
        "_expands": ["base"],
    })  # fmt: skip
    requests_mock.get(f"{SITE}/rest/api/3/user/bulk", json={"values": [
        {"accountId": ACCT_A, "displayName": "Ann A", "emailAddress": "ann@example.com"}]})  # fmt: skip
    data = backend.get_schedule_timeline("s1", identifier_type="id", interval=1, interval_unit="weeks",
                                         expand=["base", "override"])["data"]  # fmt: skip
    periods = data["finalTimeline"]["rotations"][0]["periods"]
    assert periods[0]["recipient"] == {"id": ACCT_A, "type": "user", "name": "ann@example.com"}
    assert periods[0]["flattenedRecipients"] == [periods[0]["recipient"]]
    assert periods[1]["recipient"] == {"id": None, "type": "none", "name": None}
    request = sent(requests_mock, "/timeline")[0]
    assert parse_qs(urlsplit(request.url).query)["expand"] == ["base,override"]


def test_list_schedules_pages_and_names_owner_teams(backend, requests_mock):
    requests_mock.get(f"{OPS}/schedules", [
        {"json": {"values": [schedule("a", "A", teamId="t1")], "links": {"next": "/v1/schedules?offset=1"}}},
        {"json": {"values": [schedule("b", "B")], "links": {}}},
    ])  # fmt: skip
    requests_mock.get(f"{OPS}/teams", json={"platformTeams": [{"teamId": "t1", "teamName": "Ops"}]})
    data = backend.list_schedules()["data"]
    assert [s["name"] for s in data] == ["A", "B"]
    assert data[0]["ownerTeam"] == {"id": "t1", "name": "Ops"} and "ownerTeam" not in data[1]


# -- users ----------------------------------------------------------------------------------------


def test_get_user_by_account_id_and_by_email(backend, requests_mock):
    requests_mock.get(f"{SITE}/rest/api/3/user", json={
        "accountId": ACCT_A, "displayName": "Ann A", "emailAddress": "ann@example.com", "active": True,
        "timeZone": "Europe/Berlin", "locale": "en_US", "accountType": "atlassian"})  # fmt: skip
    user = backend.get_user(ACCT_A)["data"]
    assert user == {"id": ACCT_A, "username": "ann@example.com", "fullName": "Ann A", "timeZone": "Europe/Berlin",
                    "locale": "en_US", "blocked": False, "accountType": "atlassian"}  # fmt: skip
    assert sent(requests_mock, "/rest/api/3/user")[0].qs == {"accountid": [ACCT_A.lower()]}
    requests_mock.get(f"{SITE}/rest/api/3/user/search", json=[
        {"accountId": ACCT_B, "displayName": "Ann Other", "emailAddress": "ann.other@example.com"},
        {"accountId": ACCT_A, "displayName": "Ann A", "emailAddress": "Ann@Example.com"}])  # fmt: skip
    assert backend.get_user("ann@example.com")["data"]["id"] == ACCT_A
    assert "user%2Boncall%40example.com" in _search_url(
        backend, requests_mock, "user+oncall@example.com"
    )


def _search_url(backend, requests_mock, email: str) -> str:
    requests_mock.get(f"{SITE}/rest/api/3/user/search", json=[])
    with pytest.raises(errors.NotFoundError, match="is visible to this account") as caught:
        backend.get_user(email)
    assert "hide" in caught.value.hint
    return sent(requests_mock, "/user/search")[-1].url


def test_contract_checker_catches_bad_jsm_requests(shared_dir):
    spec = load(shared_dir)
    assert check(spec, "GET", f"{OPS}/alerts?size=100&sort=createdAt&order=asc&query=x") == []
    assert (
        check(spec, "GET", f"{OPS}/schedules/s1/timeline?intervalUnit=days&expand=base,override")
        == []
    )
    assert check(spec, "GET", f"{SITE}/rest/api/3/user/bulk?accountId=a&maxResults=100") == []
    for url in (
        f"{OPS}/alerts?sort=updatedAt",
        f"{OPS}/alerts?size=101",
        f"{OPS}/alerts?limit=10",
        f"{OPS}/schedules?size=51",
        f"{OPS}/schedules/s1/on-calls?scheduleIdentifierType=name",
        f"{OPS}/users",
        f"{SITE}/rest/api/3/user?username=x",
    ):
        assert check(spec, "GET", url), url


def test_opsgenie_only_calls_are_not_supported(backend, requests_mock):
    from opsgenie_integration.backends.base import NotSupportedError

    with pytest.raises(NotSupportedError, match="get account has no equivalent"):
        backend.get_account()
    with pytest.raises(AttributeError):
        backend.no_such_method  # noqa: B018
    assert requests_mock.request_history == []


def test_transport_errors_name_jira_service_management(backend, requests_mock):
    import requests

    requests_mock.get(f"{OPS}/alerts", exc=requests.exceptions.ReadTimeout)
    with pytest.raises(
        errors.RequestTimeoutError, match="^Jira Service Management did not answer GET"
    ):
        backend.list_alerts()


def test_next_on_calls_teams_alert_and_schedule_by_id(backend, requests_mock):
    requests_mock.get(f"{OPS}/schedules/s1/next-on-calls", json={"nextOnCallParticipants": [
        {"id": ACCT_A, "type": "user"}, {"id": "t1", "type": "team"}]})  # fmt: skip
    requests_mock.get(f"{SITE}/rest/api/3/user/bulk", json={"values": [
        {"accountId": ACCT_A, "displayName": "Ann A", "emailAddress": "ann@example.com"}]})  # fmt: skip
    requests_mock.get(f"{OPS}/teams", json={"platformTeams": [{"teamId": "t1", "teamName": "Ops"}]})
    data = backend.get_next_on_calls("s1", identifier_type="id")["data"]
    assert data["exactNextOnCallRecipients"][0] == {
        "id": ACCT_A,
        "name": "ann@example.com",
        "type": "user",
    }
    assert data["nextOnCallRecipients"] == data["exactNextOnCallRecipients"]
    assert backend.list_teams()["data"] == [{"id": "t1", "name": "Ops"}]
    assert backend.get_team("Ops")["data"]["id"] == "t1"
    with pytest.raises(errors.NotFoundError):
        backend.get_team("t2", identifier_type="id")
    requests_mock.get(f"{OPS}/alerts/a%2F1", json={"id": "a/1", "message": "m"})
    assert backend.get_alert("a/1")["data"]["message"] == "m"
    requests_mock.get(
        f"{OPS}/schedules/s1", json={"id": "s1", "name": "S", "teamId": "t1", "rotations": []}
    )
    schedule = backend.get_schedule("s1", identifier_type="id")["data"]
    assert schedule["ownerTeam"] == {"id": "t1", "name": "Ops"} and schedule["rotations"] == []


def test_on_calls_across_schedules_one_bulk_call(backend, requests_mock):
    requests_mock.get(
        f"{OPS}/schedules", json={"values": [schedule("s1", "A"), schedule("s2", "B")], "links": {}}
    )
    requests_mock.get(
        f"{OPS}/schedules/s1/on-calls",
        json={"onCallParticipants": [{"id": ACCT_A, "type": "user"}]},
    )
    requests_mock.get(
        f"{OPS}/schedules/s2/on-calls",
        json={"onCallParticipants": [{"id": ACCT_B, "type": "user"}]},
    )
    requests_mock.get(f"{SITE}/rest/api/3/user/bulk", json={"values": [
        {"accountId": ACCT_A, "displayName": "Ann A"}, {"accountId": ACCT_B, "displayName": "Bob B"}]})  # fmt: skip
    data = backend.list_on_calls()["data"]
    assert [d["_parent"]["name"] for d in data] == ["A", "B"]
    assert [d["onCallParticipants"][0]["name"] for d in data] == ["Ann A", "Bob B"]
    assert len(sent(requests_mock, "/user/bulk")) == 1
