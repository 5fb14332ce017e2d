"""``GET /v2/request-limits/`` and the per-request latency (``latency_ms``, ``--latency-ms``)."""

from __future__ import annotations

import inspect
import io
import threading
import time
import uuid

import pytest
import requests

from opsgenie_integration.sandbox import Sandbox
from opsgenie_integration.sandbox.__main__ import build_parser, main

from .sandbox_helpers import Api


@pytest.mark.parametrize("path", ["/v2/request-limits/", "/v2/request-limits"])
def test_request_limits_answer_the_configured_limits(api, sandbox, path):
    sandbox.rate_limits.set("search", per_second=10, per_minute=600)
    sandbox.rate_limits.set("schedule_oncalls", per_second=2.5)
    r = api.get(path)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] == {
        "rateLimits": [
            {
                "domain": "search",
                "limits": [
                    {"limit": 10, "periodInSeconds": 1},
                    {"limit": 600, "periodInSeconds": 60},
                ],
            },
            {"domain": "schedule-oncalls", "limits": [{"limit": 2.5, "periodInSeconds": 1}]},
        ]
    }
    assert isinstance(body["took"], float) and body["requestId"] == r.headers["X-Request-ID"]


def test_request_limits_without_limits_and_after_a_change(api, sandbox):
    assert api.get("/v2/request-limits/").json()["data"] == {"rateLimits": []}
    sandbox.rate_limits.set("search", per_minute=120)
    assert api.get("/v2/request-limits/").json()["data"]["rateLimits"] == [
        {"domain": "search", "limits": [{"limit": 120, "periodInSeconds": 60}]}
    ]
    sandbox.rate_limits.set("search")  # lifted
    assert api.get("/v2/request-limits/").json()["data"]["rateLimits"] == []


def test_request_limits_are_not_throttled_themselves(api, sandbox):
    sandbox.rate_limits.set("search", per_second=1)
    sandbox.rate_limits.set("configuration", per_second=1)
    codes = [api.get("/v2/request-limits/").status_code for _ in range(5)]
    assert codes == [200] * 5


def test_request_limits_need_a_valid_key_of_any_right(sandbox):
    read_only = sandbox.add_key(str(uuid.uuid4()), ("read",))
    config_only = sandbox.add_key(str(uuid.uuid4()), ("configuration",))
    for key in (read_only, config_only):
        with Api(sandbox.url, key) as session:
            assert session.get("/v2/request-limits/").status_code == 200
    with Api(sandbox.url, str(uuid.uuid4())) as session:
        r = session.get("/v2/request-limits/")
        assert r.status_code == 401 and r.json()["message"] == "Could not authenticate"
    with Api(sandbox.url, "not-a-key") as session:
        assert session.get("/v2/request-limits/").status_code == 422
    with Api(sandbox.url, sandbox.api_key) as session:
        assert session.post("/v2/request-limits/").status_code == 405


def test_request_limits_refuse_team_keys(sandbox):
    """OpsGenie refuses request-limits to a team integration's key (403, code 40301). The route is
    marked ``account_level``; the key check refuses team keys there once the sandbox has them."""
    from opsgenie_integration.sandbox.routes import match_route

    for path in (["v2", "request-limits", ""], ["v2", "request-limits"]):
        route, _ = match_route(path)
        assert route.account_level and route.right is None and route.domain is None
    if "team" not in inspect.signature(sandbox.add_key).parameters:
        pytest.skip("this sandbox has no team-scoped keys yet")
    team = sandbox.store.teams[0]["id"]
    key = sandbox.add_key(str(uuid.uuid4()), ("read", "configuration"), team=team)
    with Api(sandbox.url, key) as session:
        r = session.get("/v2/request-limits/")
    assert r.status_code == 403 and r.json()["code"] == 40301


def test_latency_ms_delays_every_answer_side_by_side():
    with Sandbox(alerts=20, seed=2, latency_ms=200) as sb:
        assert sb.latency_ms == 200.0
        headers = {"Authorization": f"GenieKey {sb.api_key}"}
        times: list[float] = []

        def one() -> None:
            started = time.perf_counter()
            requests.get(sb.url + "/v2/account", headers=headers, timeout=10).raise_for_status()
            times.append(time.perf_counter() - started)

        started = time.perf_counter()
        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        assert min(times) >= 0.2
        assert wall < 0.2 * 6 / 2  # concurrent requests wait side by side, not in turn
        sb.latency_ms = None
        assert sb.latency_ms is None and sb.faults.active == []
        started = time.perf_counter()
        requests.get(sb.url + "/v2/account", headers=headers, timeout=10)
        assert time.perf_counter() - started < 0.15
        sb.latency_ms = 50
        sb.latency_ms = 30  # replaces, does not add up
        assert [f.params["seconds"] for f in sb.faults.active] == [0.03]
        sb.faults.clear()
        assert sb.latency_ms is None


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_latency_ms_refuses_bad_values(bad):
    with pytest.raises(ValueError):
        Sandbox(alerts=0, latency_ms=bad)


def test_cli_latency_ms_option():
    args = build_parser().parse_args(["--latency-ms", "100"])
    assert args.latency_ms == 100.0
    out, err = io.StringIO(), io.StringIO()
    assert main(["--latency-ms", "-5"], out, err) == 2
    assert "--latency-ms" in err.getvalue()
    assert main(["--latency-ms", "soon"], out, err) == 2
    out = io.StringIO()
    assert main(["--help"], out, io.StringIO()) == 0 and "--latency-ms" in out.getvalue()
