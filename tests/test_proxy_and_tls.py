"""Proxies and private CAs, end to end: a real forwarding proxy (``forward_proxy.py``) and an
HTTPS sandbox signed by a throwaway CA (``tls_material.py``), over loopback only.

Every request of every command goes through the proxy: with the ``proxy`` setting, with
``HTTP_PROXY``/``HTTPS_PROXY`` when it is absent, never with ``NO_PROXY`` naming the host. The
proof is the sandbox's client port of each request, which must be one the proxy opened.
"""

from __future__ import annotations

import json
import logging
import socket

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
ALL_COMMANDS = [
    ("Fetch Event", {"Start Time": "2024-03-05T12:00:00Z", "Number of Event(s) Fetched": 10}),
    ("Get On-call User", {"Schedule Name": "Ops Team/EU #1"}),
    ("Get Schedules", {}),
    ("Get Schedule Timeline", {"Schedule Name": "Équipe Nuit"}),
    ("Get Single User", {"user": "user+oncall@example.com"}),
    ("Test Connection", {}),
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="module")
def integration_():
    return Integration.load(entry_points=False)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def http_sandbox():
    with Sandbox(alerts=200, seed=4, api_key=API_KEY, clock=CLOCK) as sb:
        yield sb


@pytest.fixture(scope="module")
def https_sandbox(tls):
    with Sandbox(alerts=200, seed=4, api_key=API_KEY, clock=CLOCK, tls=server_context(tls)) as sb:
        yield sb


def run(integration, sb, command, inputs=None, **settings):
    connection = {**sb.connection, "max_retry_time": 0, **settings}
    envelope = integration.run(command, inputs or {}, connection)
    ENVELOPE.validate(envelope)
    assert API_KEY not in json.dumps(envelope)
    return envelope


def assert_all_through(sb, proxy, count_before):
    received = sb.requests[count_before:]
    assert received, "no request reached the sandbox"
    ports = {rec.upstream_port for rec in proxy.log if rec.upstream_port}
    direct = [r.path for r in received if r.client[1] not in ports]
    assert direct == [], f"requests that did not come through the proxy: {direct}"


def test_proxy_setting_every_command_through_the_proxy(integration_, http_sandbox):
    sb = http_sandbox
    with ForwardProxy() as proxy:
        before = len(sb.requests)
        for command, inputs in ALL_COMMANDS:
            envelope = run(integration_, sb, command, inputs, proxy=proxy.url)
            assert envelope["return_data"] == "Successful", (command, envelope["error"])
        assert_all_through(sb, proxy, before)
        # the proxy's log shows every request, in order (absolute-form for http:// targets)
        assert [rec.path.split("?")[0] for rec in proxy.log] == [
            r.path for r in sb.requests[before:]
        ]


def test_http_proxy_environment_variable(integration_, http_sandbox, monkeypatch):
    sb = http_sandbox
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        before = len(sb.requests)
        for command, inputs in ALL_COMMANDS:
            assert run(integration_, sb, command, inputs)["return_data"] == "Successful", command
        assert_all_through(sb, proxy, before)
        assert len(proxy.log) == len(sb.requests) - before


def test_https_proxy_environment_variable_with_a_private_ca(
    integration_, https_sandbox, tls, monkeypatch
):
    sb = https_sandbox
    with ForwardProxy(credentials=("alice", "pa:ss@word")) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url_with_auth)
        before = len(sb.requests)
        for command, inputs in ALL_COMMANDS:
            envelope = run(integration_, sb, command, inputs, ca_bundle=str(tls.ca))
            assert envelope["return_data"] == "Successful", (command, envelope["error"])
            assert "pa:ss@word" not in json.dumps(envelope) and "pa%3Ass%40word" not in json.dumps(
                envelope
            )
        assert_all_through(sb, proxy, before)
        assert {rec.method for rec in proxy.log} == {"CONNECT"} and all(
            rec.user == "alice" for rec in proxy.log
        )


def test_no_proxy_bypasses_the_proxy(integration_, http_sandbox, monkeypatch):
    sb = http_sandbox
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.0/8")
        assert run(integration_, sb, "Get Schedules")["return_data"] == "Successful"
        assert (
            run(integration_, sb, "Get Schedules", proxy=proxy.url)["return_data"] == "Successful"
        )
        assert proxy.log == []


def test_private_ca_successful_with_ca_bundle_failed_without(
    integration_, https_sandbox, tls, monkeypatch
):
    sb = https_sandbox
    assert (
        run(integration_, sb, "Get Schedules", ca_bundle=str(tls.ca))["return_data"] == "Successful"
    )
    failed = run(integration_, sb, "Get Schedules", max_retry_time=30)
    error = failed["error"]
    assert error["type"] == "tls" and error["retryable"] is False
    assert f"TLS verification failed for {sb.url}" in error["message"]
    assert "the bundled public CAs" in error["message"] and "CA Bundle (ca_bundle)" in error["text"]
    # not retried: through a proxy, the one attempt is one CONNECT, even with 30 s of retry budget
    with ForwardProxy() as proxy:
        error = run(integration_, sb, "Get Schedules", proxy=proxy.url, max_retry_time=30)["error"]
        assert error["type"] == "tls" and "through the proxy http://127.0.0.1" in error["message"]
        assert [rec.method for rec in proxy.log] == ["CONNECT"]
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(variable, str(tls.ca))
        assert run(integration_, sb, "Get Schedules")["return_data"] == "Successful", variable
        monkeypatch.delenv(variable)


def test_verify_tls_false_warns_every_run(integration_, https_sandbox, caplog):
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            envelope = run(integration_, https_sandbox, "Get Schedules", verify_tls=False)
            assert envelope["return_data"] == "Successful"
    warnings = [r for r in caplog.records if "verification is off" in r.getMessage()]
    assert len(warnings) == 2


@pytest.mark.parametrize("secure", [False, True])
def test_proxy_refusing_407_names_the_proxy_without_its_password(
    integration_, http_sandbox, https_sandbox, tls, secure
):
    sb = https_sandbox if secure else http_sandbox
    extra = {"ca_bundle": str(tls.ca)} if secure else {}
    with ForwardProxy(credentials=("alice", "s3cret-pw")) as proxy:
        wrong = f"http://alice:wr0ng-pw@127.0.0.1:{proxy.port}"
        for given, shown in (
            (proxy.url, f"http://127.0.0.1:{proxy.port}"),
            (wrong, f"http://alice@127.0.0.1:{proxy.port}"),
        ):
            envelope = run(
                integration_, sb, "Get Schedules", proxy=given, max_retry_time=30, **extra
            )
            error = envelope["error"]
            assert error["type"] == "proxy" and error["retryable"] is False, error
            assert f"The proxy {shown} (from the proxy setting) refused" in error["message"]
            assert "407" in error["message"] and error["proxy"] == shown
            assert "wr0ng-pw" not in json.dumps(envelope)
        assert all(rec.status == 407 for rec in proxy.log)


def test_proxy_unreachable_is_a_proxy_error(integration_, http_sandbox):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = run(
        integration_, http_sandbox, "Get Schedules", proxy=f"http://bob:pw-123456@127.0.0.1:{port}"
    )["error"]
    assert error["type"] == "proxy" and error["retryable"] is True
    assert f"Could not connect to the proxy http://bob@127.0.0.1:{port}" in error["message"]
    assert "pw-123456" not in json.dumps(error)


def test_bad_proxy_settings_name_the_setting_or_variable(integration_, http_sandbox, monkeypatch):
    error = run(
        integration_, http_sandbox, "Get Schedules", proxy="socks5://u:pw-999999@127.0.0.1:1080"
    )["error"]
    assert (
        error["type"] == "configuration"
        and "Proxy (proxy" in error["message"]
        and "SOCKS" in error["message"]
    )
    assert "pw-999999" not in json.dumps(error)
    monkeypatch.setenv("HTTP_PROXY", "ftp://nope")
    error = run(integration_, http_sandbox, "Get Schedules")["error"]
    assert error["type"] == "configuration" and "HTTP_PROXY" in error["message"]
    monkeypatch.delenv("HTTP_PROXY")
    error = run(integration_, http_sandbox, "Get Schedules", ca_bundle="/nonexistent/ca.pem")[
        "error"
    ]
    assert "CA Bundle (ca_bundle" in error["message"] and "does not exist" in error["message"]


def test_proxy_as_a_secret_reference(integration_, http_sandbox, monkeypatch):
    with ForwardProxy(credentials=("carol", "vault-pw-42")) as proxy:
        monkeypatch.setenv("CORP_PROXY_URL", proxy.url_with_auth)
        envelope = run(integration_, http_sandbox, "Get Schedules", proxy="env:CORP_PROXY_URL")
        assert envelope["return_data"] == "Successful" and len(proxy.log) == 1
        error = run(integration_, http_sandbox, "Get Schedules", proxy="env:NO_SUCH_VARIABLE_11")[
            "error"
        ]
        assert error["type"] == "configuration" and "Proxy (proxy)" in error["message"]
