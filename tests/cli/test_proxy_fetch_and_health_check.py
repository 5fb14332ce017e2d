"""``fetch`` and ``health-check`` through a proxy (the ``proxy`` setting, or HTTP_PROXY when it is
absent; NO_PROXY bypasses it), how ``fetch`` says it ended, the wait a 429 asks for, and ``-v``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, load_fixture
from forward_proxy import ForwardProxy

from opsgenie_integration.cli import ExitStatus
from opsgenie_integration.cli import fetch as fetch_cli
from opsgenie_integration.sandbox import Sandbox

from .cli_helpers import BASE_MS, HOUR, make_alerts, run_cli

PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="module")
def sandbox():
    updated = [BASE_MS + i * 1000 for i in range(150)]
    with Sandbox(alerts=0, seed=4, api_key=API_KEY, clock=BASE_MS + 5 * HOUR) as sb:
        sb.store.replace_alerts(make_alerts(updated))
        yield sb


class Receiver:
    """A local webhook: records the paths POSTed to it."""

    def __init__(self) -> None:
        self.posts: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts.append(self.path)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/T0K3N"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    hook = Receiver()
    yield hook
    hook.close()


def connection_file(tmp_path, sb, **extra):
    path = tmp_path / "conn.json"
    path.write_text(json.dumps({**sb.connection, "max_retry_time": 0, **extra}))
    return str(path)


def direct_requests(sb, proxy, before):
    """Paths of the sandbox's requests since ``before`` that did not come through ``proxy``."""
    ports = {rec.upstream_port for rec in proxy.log if rec.upstream_port}
    return [r.path for r in sb.requests[before:] if r.client[1] not in ports]


@pytest.mark.parametrize("source", ["setting", "HTTP_PROXY"])
def test_fetch_and_health_check_go_through_the_proxy(
    sandbox, receiver, tmp_path, monkeypatch, source
):
    with ForwardProxy() as proxy:
        extra = {"proxy": proxy.url} if source == "setting" else {}
        if source == "HTTP_PROXY":
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
        conn = connection_file(tmp_path, sandbox, **extra)
        before = len(sandbox.requests)
        status, out, err = run_cli(
            "fetch", "--start", str(BASE_MS), "--end", str(BASE_MS + HOUR), "--connection", conn
        )
        assert status == ExitStatus.SUCCESSFUL, err
        assert len(out.splitlines()) == 150
        status, out, err = run_cli(
            "health-check", "--interval", "0.001", "--count", "1", "--connection", conn,
            "--webhook", receiver.url, "--notify-each-failure",
        )  # fmt: skip
        assert json.loads(out)["checks"] == 1, err
        assert direct_requests(sandbox, proxy, before) == []
        paths = [rec.path.split("?")[0] for rec in proxy.log]
        assert paths.count("/v2/alerts") >= 2 and "/v2/account" in paths
        assert len(paths) == len(sandbox.requests) - before  # every request, in the proxy's log


def test_fetch_and_health_check_through_https_proxy_to_an_https_server(
    receiver, tmp_path, monkeypatch
):
    from tls_material import make_tls_material, server_context

    tls = make_tls_material(tmp_path / "tls")
    updated = [BASE_MS + i * 1000 for i in range(30)]
    with Sandbox(
        alerts=0, seed=4, api_key=API_KEY, clock=BASE_MS + 5 * HOUR, tls=server_context(tls)
    ) as sb:
        sb.store.replace_alerts(make_alerts(updated))
        with ForwardProxy(credentials=("dave", "tunnel-pw-7")) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", proxy.url_with_auth)
            conn = connection_file(tmp_path, sb, ca_bundle=str(tls.ca))
            status, out, err = run_cli(
                "fetch", "--start", str(BASE_MS), "--end", str(BASE_MS + HOUR), "--connection", conn
            )
            assert status == 0 and len(out.splitlines()) == 30, err
            status, out, err = run_cli(
                "health-check", "--interval", "0.001", "--count", "1", "--connection", conn,
            )  # fmt: skip
            assert json.loads(out)["passed"] == 1, err
            assert "tunnel-pw-7" not in err
            assert sb.requests and direct_requests(sb, proxy, 0) == []
            assert {rec.method for rec in proxy.log} == {"CONNECT"}


def test_health_check_webhook_goes_through_the_proxy(sandbox, receiver, tmp_path):
    key = "0ff1ce00-0000-4000-8000-000000000001"
    sandbox.add_key(key, ("read",))  # Test Connection fails: a change of state, notified
    with ForwardProxy() as proxy:
        conn = connection_file(tmp_path, sandbox, proxy=proxy.url, api_key=key)
        status, out, err = run_cli(
            "health-check", "--interval", "0.001", "--count", "1", "--connection", conn,
            "--webhook", receiver.url,
        )  # fmt: skip
        assert status == 1 and json.loads(out)["notifications_sent"] == 1, err
        assert receiver.posts == ["/hook/T0K3N"]
        assert [rec.method for rec in proxy.log if "/hook/" in rec.path] == ["POST"]


def test_no_proxy_bypasses_the_proxy_for_fetch(sandbox, tmp_path, monkeypatch):
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        conn = connection_file(tmp_path, sandbox)
        status, out, _ = run_cli(
            "fetch", "--start", str(BASE_MS), "--end", str(BASE_MS + HOUR), "--quiet",
            "--connection", conn,
        )  # fmt: skip
        assert status == 0 and len(out.splitlines()) == 150 and proxy.log == []


# -- how fetch ends --------------------------------------------------------------------------------
def mocked(tmp_path, monkeypatch, answers, *extra):
    conn = tmp_path / "mconn.json"
    conn.write_text(json.dumps({"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0}))
    waits = []
    monkeypatch.setattr(fetch_cli, "_sleep", lambda s, stop: waits.append(s))
    argv = [
        "fetch",
        "--workers",
        "1",  # one cursor: the answers below come in this order
        "--start",
        str(BASE_MS),
        "--end",
        str(BASE_MS + HOUR),
        "--connection",
        str(conn),
    ]
    with rm.Mocker() as m:
        m.get(f"{BASE}/v2/alerts", answers)
        status, out, err = run_cli(*argv, *extra)
    return status, out, err, waits


def test_fetch_last_line_says_failed_after_a_401(tmp_path, monkeypatch):
    answers = [{"status_code": 401, "json": load_fixture("error_401.json")}]
    status, _, err, _ = mocked(tmp_path, monkeypatch, answers)
    assert status == ExitStatus.FAILED
    last = err.strip().splitlines()[-1]
    assert last.startswith("fetch: failed {") and "done" not in last


def test_fetch_last_line_says_failed_for_a_refused_checkpoint(sandbox, tmp_path):
    checkpoint = tmp_path / "ck"
    conn = connection_file(tmp_path, sandbox)
    common = ["--start", str(BASE_MS), "--end", str(BASE_MS + HOUR), "--checkpoint-file", str(checkpoint), "--connection", conn]  # fmt: skip
    status, _, err = run_cli("fetch", "--query", "status:open", *common)
    assert status == 0 and err.strip().splitlines()[-1].startswith("fetch: done {")
    status, _, err = run_cli("fetch", "--query", "status:closed", *common)
    assert status == ExitStatus.FAILED
    assert err.splitlines()[0] == (
        f"fetch: Fetch Event failed. Message: --checkpoint-file {str(checkpoint)!r}: was made for "
        "another --query; give the same --query, or start again with another --checkpoint-file."
    )
    assert err.strip().splitlines()[-1].startswith("fetch: failed {")


def test_fetch_last_line_says_interrupted(sandbox, tmp_path, monkeypatch):
    class StopAfterFirstPage:
        def __init__(self):
            self.calls = 0

        @property
        def requested(self):
            self.calls += 1
            return self.calls > 1

        def __call__(self, *args):
            pass

    monkeypatch.setattr(fetch_cli, "_Stop", StopAfterFirstPage)
    conn = connection_file(tmp_path, sandbox)
    status, out, err = run_cli(
        "fetch", "--workers", "1", "--start", str(BASE_MS), "--end", str(BASE_MS + HOUR),
        "--connection", conn,
    )  # fmt: skip
    assert status == ExitStatus.INTERRUPTED and out
    assert err.strip().splitlines()[-1].startswith("fetch: interrupted {")


def test_fetch_waits_what_a_429_asks_for(tmp_path, monkeypatch):
    throttled = {
        "status_code": 429,
        "json": load_fixture("error_429.json"),
        "headers": {"X-RateLimit-Period-In-Sec": "30", "X-RateLimit-Reason": "ACCOUNT"},
    }
    answers = [throttled, {"json": {"data": [], "took": 0.0, "requestId": "r"}}]
    status, _, err, waits = mocked(tmp_path, monkeypatch, answers)
    assert status == 0 and waits[0] == 30.0
    assert "waiting 30 s" in err


def test_fetch_saved_search_and_enrich_options(tmp_path):
    alerts = make_alerts([BASE_MS + i * 1000 for i in range(20)])
    for index, alert in enumerate(alerts):
        alert["priority"] = "P1" if index % 2 else "P3"
        alert["description"] = f"about alert {index}"
    data = {
        "alerts": alerts,
        "saved_searches": [{"id": "ss-1", "name": "odd ones", "query": "priority:P1"}],
    }
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "main_event_json_path: $.data\nfields:\n  - {field_name: key, source_field: .id}\n"
        "  - {field_name: about, source_field: .description}\n"
    )
    with Sandbox(data_file=data_file, api_key=API_KEY, clock=BASE_MS + 5 * HOUR) as sb:
        conn = connection_file(tmp_path, sb)
        common = ["--start", str(BASE_MS), "--end", str(BASE_MS + HOUR), "--quiet", "--connection", conn,
                  "--field-mapping", str(mapping), "--saved-search", "odd ones"]  # fmt: skip
        status, out, err = run_cli("fetch", *common)
        assert status == ExitStatus.FAILED and out == ""
        assert err.splitlines()[0] == (
            "fetch: Fetch Event failed. Message: --field-mapping: maps 'about' (description): the "
            "alert list (GET /v2/alerts) never carries description, so every event would have "
            "null there. Give --enrich (one GET /v2/alerts/{id} per event, counted against the "
            "rate limit), or map a field the list carries."
        )
        sb.requests.clear()
        status, out, err = run_cli("fetch", *common, "--enrich")
        assert status == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        assert [e["about"] for e in events] == [f"about alert {i}" for i in range(1, 20, 2)]
        paths = [r.path for r in sb.requests]
        assert paths[0] == "/v2/alerts/saved-searches/odd%20ones"
        singles = [p for p in paths if p.startswith("/v2/alerts/00000000")]
        assert len(singles) == len(events) == 10


def test_verbose_logs_one_line_per_request(sandbox, tmp_path):
    conn = connection_file(tmp_path, sandbox)
    status, out, err = run_cli("run", "Get Schedules", "--connection", conn, "-v")
    assert status == 0
    lines = [line for line in err.splitlines() if "GET /v2/schedules -> " in line]
    assert len(lines) == 1 and " in " in lines[0] and API_KEY not in err
    assert "urllib3" not in err  # -vv shows urllib3's own lines
