"""Users, account, teams, unknown paths, and authentication (key format, region, rights)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from opsgenie_integration.sandbox import Sandbox

from .sandbox_helpers import U_CARL, U_PLUS, make_api


def test_user_by_id_and_username_with_plus(small_api, small):
    for ident in (U_PLUS, "user+oncall@example.com", quote("user+oncall@example.com", safe="")):
        r = small_api.get(f"/v2/users/{ident}")
        assert r.status_code == 200, (ident, r.text)
        assert r.json()["data"]["username"] == "user+oncall@example.com"
        assert r.json()["expandable"] == ["contact"] and "userContacts" not in r.json()["data"]
    assert small.requests[-1].path == "/v2/users/user%2Boncall%40example.com"
    r = small_api.get("/v2/users/anna@example.com", params={"expand": "contact"})
    contacts = r.json()["data"]["userContacts"]
    assert contacts[0]["contactMethod"] == "email" and contacts[0]["to"] == "anna@example.com"
    carl = small_api.get(f"/v2/users/{U_CARL}").json()["data"]
    assert "timeZone" not in carl  # a user without a time zone of their own
    r = small_api.get("/v2/users/nobody@example.com")
    assert r.status_code == 404 and "nobody@example.com" in r.json()["message"]


def test_user_list(small_api):
    body = small_api.get("/v2/users").json()
    assert set(body) == {"data", "totalCount", "paging", "took", "requestId"}
    assert body["totalCount"] == 4 and "next" not in body["paging"]
    assert [u["username"] for u in body["data"]] == [
        "anna@example.com",
        "ben@example.com",
        "carl@example.com",
        "user+oncall@example.com",
    ]
    body = small_api.get(
        "/v2/users", params={"limit": 2, "offset": 1, "sort": "username", "order": "desc"}
    ).json()
    assert [u["username"] for u in body["data"]] == ["carl@example.com", "ben@example.com"]
    assert body["totalCount"] == 4 and "offset=3" in body["paging"]["next"]
    body = small_api.get("/v2/users", params={"query": "username:user+oncall@example.com"}).json()
    assert body["totalCount"] == 1
    assert (
        small_api.get("/v2/users", params={"query": "fullName:ben OR username:carl*"}).json()[
            "totalCount"
        ]
        == 2
    )
    assert small_api.get("/v2/users", params={"limit": 0}).status_code == 422
    assert small_api.get("/v2/users", params={"query": "username:(x"}).status_code == 422


def test_account_and_teams(small_api):
    body = small_api.get("/v2/account").json()
    assert body["data"]["userCount"] == 4
    assert set(body["data"]["plan"]) == {"maxUserCount", "name", "isYearly"}
    teams = small_api.get("/v2/teams").json()
    assert teams["data"][0]["name"] == "ops" and "members" not in teams["data"][0]


def test_unknown_path_and_method(small_api):
    r = small_api.get("/v2/heartbeats")
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/json"
    assert r.json()["message"] == "Requested resource does not exist!"
    r = small_api.put("/v2/alerts", json={"message": "x"})
    assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"
    assert r.headers["Content-Type"] == "application/json" and "Method PUT" in r.json()["message"]
    assert small_api.get("/v2/alerts").status_code == 200  # the connection is still usable
    for method in ("TRACE", "OPTIONS", "PATCH", "FOO"):  # never http.server's HTML 501 page
        r = small_api.request(method, "/v2/account")
        assert r.status_code == 405 and r.headers["Allow"] == "GET", method
        assert r.json()["message"] == f"Method {method} is not supported here"
    r = small_api.head("/v2/account")
    assert r.status_code == 405 and r.content == b"" and r.headers["Allow"] == "GET"
    r = small_api.request("TRACE", "/v2/heartbeats")
    assert r.status_code == 404 and r.json()["message"] == "Requested resource does not exist!"
    assert small_api.get("/v2/account").status_code == 200


@pytest.mark.parametrize(
    "path", ["/v2/heartbeats", "/v2/account", "/nowhere", "/v2/alerts/x/acknowledge"]
)
@pytest.mark.parametrize("method", ["GET", "POST", "TRACE", "DELETE"])
def test_authentication_comes_before_routing(small, path, method):
    with make_api(small, key="") as api:
        r = api.request(method, path)
        assert r.status_code == 401 and r.json()["message"] == "Could not authenticate"
        r = api.request(method, path, headers={"Authorization": "GenieKey nope"})
        assert r.status_code == 422 and r.json()["message"] == "Key format is not valid!"


@pytest.fixture(scope="module")
def two_regions():
    with Sandbox(alerts=10, seed=2, regions=("us", "eu")) as sb:
        sb.add_key("11111111-1111-4111-8111-111111111111", ("read",))
        sb.add_key("22222222-2222-4222-8222-222222222222", ("configuration",))
        sb.add_key("33333333-3333-4333-8333-333333333333", ("read", "configuration"), region="eu")
        yield sb


@pytest.mark.parametrize(
    ("header", "status", "message"),
    [
        (None, 401, "Could not authenticate"),
        ("Basic dXNlcjpwYXNz", 401, "Could not authenticate"),
        ("GenieKey not-a-key", 422, "Key format is not valid!"),
        ("GenieKey ", 422, "Key format is not valid!"),
        (f"GenieKey {uuid.UUID(int=5)}", 401, "Could not authenticate"),
        (
            "GenieKey 33333333-3333-4333-8333-333333333333",
            401,
            "Could not authenticate",
        ),  # an EU key on US
    ],
)
def test_authentication_failures(two_regions, header, status, message):
    with make_api(two_regions, key="") as api:
        headers = {"Authorization": header} if header is not None else {}
        r = api.get("/v2/account", headers=headers)
    assert r.status_code == status
    assert r.json()["message"] == message and set(r.json()) == {"message", "took", "requestId"}


@pytest.mark.parametrize(
    ("key", "path", "status"),
    [
        ("11111111-1111-4111-8111-111111111111", "/v2/alerts", 200),
        ("11111111-1111-4111-8111-111111111111", "/v2/alerts/count", 200),
        ("11111111-1111-4111-8111-111111111111", "/v2/account", 403),
        ("11111111-1111-4111-8111-111111111111", "/v2/schedules", 403),
        ("11111111-1111-4111-8111-111111111111", "/v2/users/x", 403),
        ("22222222-2222-4222-8222-222222222222", "/v2/alerts", 403),
        ("22222222-2222-4222-8222-222222222222", "/v2/schedules", 200),
        ("22222222-2222-4222-8222-222222222222", "/v2/users", 200),
    ],
)
def test_rights(two_regions, key, path, status):
    with make_api(two_regions, key=key) as api:
        r = api.get(path)
    assert r.status_code == status
    if status == 403:
        assert r.json()["code"] == 40301 and set(r.json()) == {
            "code",
            "message",
            "took",
            "requestId",
        }


def test_regions_have_their_own_servers_and_keys(two_regions):
    sb = two_regions
    assert sb.url == sb.url_for("us") != sb.url_for("eu")
    with make_api(sb, key="33333333-3333-4333-8333-333333333333", region="eu") as eu:
        assert eu.get("/v2/account").status_code == 200
    with make_api(sb, region="eu") as eu:  # the US full-rights key on the EU server
        assert eu.get("/v2/account").status_code == 401
    assert sb.requests[-1].region == "eu"
    with pytest.raises(KeyError):
        Sandbox(alerts=0).url_for("eu")


def test_rights_change_at_run_time(two_regions):
    key = "11111111-1111-4111-8111-111111111111"
    with make_api(two_regions, key=key) as api:
        assert api.get("/v2/account").status_code == 403
        two_regions.set_rights(key, ("read", "configuration"))
        assert api.get("/v2/account").status_code == 200
        two_regions.set_rights(key, ("read",))
        assert api.get("/v2/account").status_code == 403


def test_sandbox_refuses_non_loopback_hosts_and_bad_options():
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(ValueError, match="loopback"):
            Sandbox(alerts=0, host=host)
    with pytest.raises(ValueError):
        Sandbox(alerts=0, regions=("us", "us"))
    with pytest.raises(ValueError):
        Sandbox(alerts=0).add_key("not-a-uuid")
    with pytest.raises(ValueError):
        Sandbox(alerts=0).add_key(str(uuid.uuid4()), ("admin",))
