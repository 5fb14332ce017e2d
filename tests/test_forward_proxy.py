"""The test helpers themselves: the forwarding proxy (log, Basic auth, CONNECT) and the TLS
material (a private CA in front of the sandbox)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from forward_proxy import ForwardProxy
from tls_material import make_tls_material, server_context

from opsgenie_integration.sandbox import Sandbox

CLOCK = "2024-03-06T12:00:00Z"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(alerts=40, seed=3, clock=CLOCK) as sb:
        yield sb


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_sandbox(tls) -> Iterator[Sandbox]:
    with Sandbox(alerts=40, seed=3, clock=CLOCK, tls=server_context(tls)) as sb:
        yield sb


def _auth(sb: Sandbox) -> dict[str, str]:
    return {"Authorization": f"GenieKey {sb.api_key}"}


def test_forwards_http_and_logs_every_request(sandbox):
    with ForwardProxy() as proxy, requests.Session() as session:
        session.proxies = {"http": proxy.url, "https": proxy.url}
        for limit in (1, 2, 3):  # keep-alive to the proxy: every request still logged
            r = session.get(
                sandbox.url + "/v2/alerts",
                params={"limit": limit},
                headers=_auth(sandbox),
                timeout=10,
            )
            assert r.status_code == 200 and len(r.json()["data"]) == limit
        log = proxy.log
    assert [(rec.method, rec.path, rec.status) for rec in log] == [
        ("GET", f"/v2/alerts?limit={n}", 200) for n in (1, 2, 3)
    ]
    assert log[0].host == "127.0.0.1" and log[0].port == int(sandbox.url.rsplit(":", 1)[1])
    assert log[0].user is None
    # what the sandbox saw as the client is the proxy's upstream connection, request by request
    assert [r.client[1] for r in sandbox.requests[-3:]] == [rec.upstream_port for rec in log]
    # the proxy does not pass its own headers on
    assert "Proxy-Authorization" not in sandbox.requests[-1].headers


def test_basic_proxy_auth_407_then_accepted(sandbox):
    with ForwardProxy(credentials=("alice", "p@ss:word")) as proxy:
        r = requests.get(
            sandbox.url + "/v2/account",
            headers=_auth(sandbox),
            proxies={"http": proxy.url},
            timeout=10,
        )
        assert r.status_code == 407 and r.headers["Proxy-Authenticate"].startswith("Basic")
        wrong = proxy.url_with_auth.replace("p%40ss", "nope")
        r = requests.get(sandbox.url + "/v2/account", headers=_auth(sandbox),
                         proxies={"http": wrong}, timeout=10)  # fmt: skip
        assert r.status_code == 407
        r = requests.get(sandbox.url + "/v2/account", headers=_auth(sandbox),
                         proxies={"http": proxy.url_with_auth}, timeout=10)  # fmt: skip
        assert r.status_code == 200 and r.json()["data"]["name"] == "opsgenie-sandbox"
        assert [(rec.status, rec.user) for rec in proxy.log] == [
            (407, None),
            (407, "alice"),
            (200, "alice"),
        ]


def test_refusing_proxy_and_unreachable_origin(sandbox):
    with ForwardProxy(refuse_status=403) as proxy:
        r = requests.get(sandbox.url + "/v2/account", proxies={"http": proxy.url}, timeout=10)
        assert r.status_code == 403 and "policy" in r.text
    with ForwardProxy() as proxy:
        r = requests.get("http://127.0.0.1:9/v2/account", proxies={"http": proxy.url}, timeout=10)
        assert r.status_code == 502 and proxy.log[0].status == 502


def test_connect_tunnel_to_https_sandbox_with_private_ca(https_sandbox, tls):
    with ForwardProxy(credentials=("bob", "secret")) as proxy:
        proxies = {"https": proxy.url_with_auth}
        r = requests.get(https_sandbox.url + "/v2/alerts/count", headers=_auth(https_sandbox),
                         proxies=proxies, verify=str(tls.ca), timeout=10)  # fmt: skip
        assert r.status_code == 200 and r.json()["data"]["count"] == 40
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(https_sandbox.url + "/v2/alerts/count", headers=_auth(https_sandbox),
                         proxies=proxies, verify=True, timeout=10)  # fmt: skip
        with pytest.raises(requests.exceptions.ProxyError):
            requests.get(https_sandbox.url + "/v2/alerts/count", proxies={"https": proxy.url},
                         verify=str(tls.ca), timeout=10)  # fmt: skip
        log = proxy.log
    port = int(https_sandbox.url.rsplit(":", 1)[1])
    assert [(rec.method, rec.target, rec.status) for rec in log] == [
        ("CONNECT", f"127.0.0.1:{port}", 200),
        ("CONNECT", f"127.0.0.1:{port}", 200),
        ("CONNECT", f"127.0.0.1:{port}", 407),
    ]


def test_non_loopback_origins_are_refused():
    with ForwardProxy() as proxy:
        r = requests.get("http://example.com/", proxies={"http": proxy.url}, timeout=10)
        assert r.status_code == 403 and "loopback" in r.text


def test_tls_material_chain(tls):
    from cryptography import x509

    ca = x509.load_pem_x509_certificate(tls.ca.read_bytes())
    cert = x509.load_pem_x509_certificate(tls.cert.read_bytes())
    assert cert.issuer == ca.subject and ca.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
