"""Edge cases of the issue-11 settings found by a tester (proxies, CA bundles, time zones, date
formats, saved searches, field mappings), each over loopback only. Each test states the right
behaviour; each was an xfail(strict=True) until its fault was fixed."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest
from conftest import API_KEY, REPO
from forward_proxy import ForwardProxy
from jsonschema import Draft202012Validator
from tls_material import make_tls_material, server_context

from opsgenie_integration import Integration
from opsgenie_integration.sandbox import Sandbox

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))
CLOCK = "2024-03-06T12:00:00Z"
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE",
             "CURL_CA_BUNDLE", "SSL_CERT_FILE")  # fmt: skip
WINDOW = {"Start Time": "2024-03-06T10:00:00Z", "End Time": "2024-03-06T11:00:00Z"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="module")
def integration_():
    return Integration.load(entry_points=False)


@pytest.fixture(scope="module")
def sb():
    with Sandbox(alerts=300, seed=4, api_key=API_KEY, clock=CLOCK) as sandbox:
        yield sandbox


def run(integration, connection, command, inputs=None, **settings):
    envelope = integration.run(
        command, inputs or {}, {**connection, "max_retry_time": 0, **settings}
    )
    ENVELOPE.validate(envelope)
    assert API_KEY not in json.dumps(envelope)
    return envelope


class RawProxy:
    """A loopback TCP server standing in for a misbehaving proxy: ``drip`` sends a valid answer
    one byte every 0.5 s (giving up after ``drip_for`` s), ``close`` reads the request and closes.
    ``connections`` counts the connections it accepted."""

    def __init__(self, kind: str, drip_for: float = 12.0) -> None:
        self.kind, self.drip_for, self.connections = kind, drip_for, 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            client.recv(65536)
            if self.kind == "drip":
                answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"data":[]}'
                started = time.monotonic()
                for byte in answer:
                    if self._stop.is_set() or time.monotonic() - started > self.drip_for:
                        break
                    client.send(bytes([byte]))
                    time.sleep(0.5)
        except OSError:
            pass
        finally:
            client.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


def test_dripping_proxy_is_cut_at_the_answer_deadline(integration_, sb):
    proxy = RawProxy("drip", drip_for=12.0)
    try:
        started = time.monotonic()
        envelope = run(integration_, sb.connection, "Get Schedules", proxy=proxy.url, timeout=1)
        elapsed = time.monotonic() - started
    finally:
        proxy.close()
    # timeout 1 s: the whole answer must arrive within 2 s (README "Time and size bounds")
    assert elapsed < 6, f"a dripping proxy held Get Schedules for {elapsed:.1f} s"
    assert envelope["return_data"] == "Failed"
    assert envelope["error"]["type"] in ("timeout", "proxy")


def test_proxy_closing_without_answer_does_not_claim_retries_that_were_not_made(integration_, sb):
    proxy = RawProxy("close")
    try:
        envelope = run(
            integration_, sb.connection, "Get Schedules", proxy=proxy.url, max_retry_time=5
        )
    finally:
        proxy.close()
    error = envelope["error"]
    assert error["type"] == "proxy" and "127.0.0.1" in error["message"]
    if proxy.connections == 1:  # no retry was made
        assert "retries ran out" not in error["message"], error["message"]


@pytest.mark.parametrize("quoted", [True, False], ids=["percent-encoded", "raw"])
def test_non_ascii_proxy_credentials_are_not_an_internal_error(integration_, sb, quoted):
    user, password = "алиса", "пароль-секрет"
    with ForwardProxy(credentials=(user, password)) as proxy:
        url = proxy.url_with_auth if quoted else f"http://{user}:{password}@127.0.0.1:{proxy.port}"
        envelope = run(integration_, sb.connection, "Get Schedules", proxy=url)
    text = json.dumps(envelope, ensure_ascii=False)
    assert password not in text and "%D0%BF" not in text
    error = envelope["error"]
    if error is not None:  # refused clearly, naming the setting, or sent (UTF-8) and accepted
        assert error["type"] in ("configuration", "proxy"), error
        assert "proxy" in error["message"].lower()


@pytest.mark.parametrize("source", ["setting", "REQUESTS_CA_BUNDLE"])
def test_ca_bundle_without_a_parsable_certificate_names_the_setting(
    integration_, tmp_path, monkeypatch, source
):
    material = make_tls_material(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    settings = {"ca_bundle": str(garbage)} if source == "setting" else {}
    if source != "setting":
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(garbage))
    with Sandbox(
        alerts=20, seed=4, api_key=API_KEY, clock=CLOCK, tls=server_context(material)
    ) as https_sb:
        envelope = run(integration_, https_sb.connection, "Get Schedules", **settings)
    error = envelope["error"]
    assert error["type"] in ("configuration", "tls") and error["retryable"] is False, error
    named = "ca_bundle" if source == "setting" else "REQUESTS_CA_BUNDLE"
    assert named in error["message"] + (error["hint"] or ""), error


@pytest.mark.parametrize(
    "query",
    ["status: open) OR (status: closed", "message: foo\\"],
    ids=["unbalanced", "trailing-backslash"],
)
def test_saved_search_query_that_breaks_the_window_is_refused_naming_the_input(
    integration_, sb, query
):
    saved = {
        "id": "7ea40000-0000-4000-8000-0000000000aa",
        "name": "Breaks the window",
        "query": query,
        "teams": [],
    }
    store = sb.store
    store._saved.append(saved)
    store._saved_by_name[saved["name"]], store._saved_by_id[saved["id"]] = saved, saved
    try:
        before = len(sb.requests)
        envelope = run(
            integration_, sb.connection, "Fetch Event", {**WINDOW, "Saved Search": saved["name"]}
        )
        paths = [r.path for r in sb.requests[before:]]
    finally:
        store._saved.remove(saved)
        del store._saved_by_name[saved["name"]], store._saved_by_id[saved["id"]]
    error = envelope["error"]
    assert envelope["return_data"] == "Failed"
    assert error["type"] == "validation" and "Saved Search" in error["message"], error
    assert "/v2/alerts" not in paths  # refused before the alert list is read


@pytest.mark.parametrize("source", ["$.`this`.details.host", "$..details.host"])
def test_mapping_path_reaching_a_field_the_list_lacks_is_refused(
    integration_, sb, tmp_path, source
):
    path = tmp_path / "mapping.yaml"
    path.write_text(
        "name: custom\nmain_event_json_path: $.data\nfields:\n"
        "  - {field_name: Key, source_field: .id}\n"
        f"  - {{field_name: Host, source_field: '{source}'}}\n",
        encoding="utf-8",
    )
    inputs = {**WINDOW, "Field Mapping File": str(path)}
    envelope = run(integration_, sb.connection, "Fetch Event", inputs)
    assert envelope["return_data"] == "Failed", [e.get("Host") for e in envelope["events"]][:5]
    assert "Enrich" in envelope["error"]["message"]


@pytest.mark.parametrize("zone", ["localtime"])
def test_time_zone_that_is_the_host_zone_is_refused(integration_, sb, zone):
    if not os.path.exists(f"/usr/share/zoneinfo/{zone}"):
        pytest.skip(f"no /usr/share/zoneinfo/{zone} here")
    envelope = run(integration_, sb.connection, "Get Schedules", time_zone=zone)
    error = envelope["error"]
    assert error is not None and error["type"] == "configuration", envelope["return_data"]
    assert "time_zone" in error["message"]


def test_date_valid_only_in_the_other_order_names_the_date_format_setting(integration_, sb):
    envelope = run(
        integration_,
        sb.connection,
        "Fetch Event",
        {"Start Time": "29/02/2024 10:00", "End Time": "2024-03-06T11:00:00Z"},
        date_format="MM/DD/YYYY HH:mm",
    )
    error = envelope["error"]
    assert error["type"] == "validation" and "Start Time" in error["message"]
    assert "date_format" in error["message"] or "Date Format" in error["message"], error["message"]


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_scheme_less_proxy_variable_is_read_as_http_like_requests_does(
    integration_, sb, monkeypatch, variable
):
    with ForwardProxy() as proxy:
        monkeypatch.setenv(variable, f"127.0.0.1:{proxy.port}")
        envelope = run(integration_, sb.connection, "Get Schedules")
        log = proxy.log
    assert envelope["return_data"] == "Successful", envelope["error"]
    assert [r.path for r in log] == ["/v2/schedules"]


@pytest.mark.parametrize(
    "environ",
    [
        {"ALL_PROXY": "socks5://127.0.0.1:1080", "NO_PROXY": "127.0.0.1"},
        {"HTTPS_PROXY": "http://user:pw@proxy.example:99999", "NO_PROXY": "*"},
    ],
    ids=["socks-all-proxy-bypassed", "bad-https-proxy-no-proxy-star"],
)
def test_proxy_variable_bypassed_by_no_proxy_does_not_fail_the_command(
    integration_, sb, monkeypatch, environ
):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    envelope = run(integration_, sb.connection, "Get Schedules")
    assert envelope["return_data"] == "Successful", envelope["error"]["message"]
