"""Resolution of the proxy, CA bundle and TLS verification settings (``network.py``): settings
first, then the standard environment variables; NO_PROXY with either source."""

from __future__ import annotations

import pytest
from tls_material import make_tls_material

from opsgenie_integration.network import (
    NetworkSettingError,
    bypasses_proxy,
    check_proxy_url,
    display_proxy,
    resolve_network,
)

US = "https://api.opsgenie.com"


def test_setting_wins_over_environment_and_no_proxy_applies_to_both():
    env = {"HTTPS_PROXY": "http://env-proxy:3128", "NO_PROXY": "internal.example,10.0.0.0/8"}
    net = resolve_network(proxy="http://alice:s3cret@corp-proxy:8080", environ=env)
    assert net.requests_proxies(US) == {"https": "http://alice:s3cret@corp-proxy:8080"}
    assert net.proxy_for(US).source == "proxy"
    assert net.requests_proxies("https://api.internal.example") == {}
    assert net.requests_proxies("http://10.1.2.3:8080/v2") == {}
    net = resolve_network(environ=env)
    assert net.requests_proxies(US) == {"https": "http://env-proxy:3128"}
    assert net.proxy_for(US).source == "HTTPS_PROXY"


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2"}, US, "http://low:1"),
        ({"HTTP_PROXY": "http://h:1"}, US, None),  # an https target ignores HTTP_PROXY
        ({"HTTP_PROXY": "http://h:1"}, "http://127.0.0.1:8080", "http://h:1"),
        ({"ALL_PROXY": "http://all:1"}, US, "http://all:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, US, None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": ".opsgenie.com"}, US, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "opsgenie.com"}, US, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.opsgenie.com:8443"}, US, "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.opsgenie.com:443"}, US, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "genie.com"}, US, "http://p:1"),
        ({"HTTPS_PROXY": "  "}, US, None),
    ],
)
def test_environment_variables(env, url, expected):
    got = resolve_network(environ=env).requests_proxies(url)
    assert got == ({} if expected is None else {url.split(":")[0]: expected})


def test_no_proxy_forms():
    assert bypasses_proxy("127.0.0.1", 8080, "localhost,127.0.0.1")
    assert bypasses_proxy("127.0.0.1", 8080, "127.0.0.0/8")
    assert bypasses_proxy("::1", 80, "[::1]:80")
    assert not bypasses_proxy("::1", 81, "[::1]:80")
    assert bypasses_proxy("::1", 80, "::1")
    assert not bypasses_proxy("127.0.0.1", 8080, "")
    assert not bypasses_proxy("evil-opsgenie.com", 443, "opsgenie.com")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("socks5://p:1080", "SOCKS"),
        ("proxy:3128", "scheme"),
        ("http://", "no host"),
        ("http://p:99999", "port"),
        ("http://p:0", "port"),
        ("http://u:pw@p:1/path", "no path"),
        ("http://p :1", "spaces"),
        ("", "expected a proxy URL"),
    ],
)
def test_bad_proxy_urls_name_the_setting_and_never_the_password(value, fragment):
    with pytest.raises(NetworkSettingError) as caught:
        check_proxy_url(value)
    assert fragment in str(caught.value) and str(caught.value).startswith("proxy:")
    assert "pw" not in str(caught.value)
    assert caught.value.setting == "proxy"


def test_bad_environment_proxy_names_the_variable_when_it_is_used():
    net = resolve_network(environ={"HTTPS_PROXY": "socks5://x:1"})  # checked when chosen
    with pytest.raises(NetworkSettingError) as caught:
        net.proxy_for(US)
    assert caught.value.setting == "HTTPS_PROXY" and "HTTPS_PROXY" in str(caught.value)
    assert net.proxy_for("http://127.0.0.1:8080") is None  # not used for http://: no error


def test_scheme_less_variables_are_http_and_no_proxy_star_dot_matches_subdomains():
    net = resolve_network(environ={"HTTPS_PROXY": "proxy.corp:3128"})
    assert net.requests_proxies(US) == {"https": "http://proxy.corp:3128"}
    assert bypasses_proxy("api.opsgenie.com", 443, "*.opsgenie.com")
    assert bypasses_proxy("opsgenie.com", 443, "*.opsgenie.com")
    assert not bypasses_proxy("evil-opsgenie.com", 443, "*.opsgenie.com")


def test_display_proxy_hides_the_password():
    assert display_proxy("http://alice:s%3Acret@proxy.corp:3128") == "http://alice@proxy.corp:3128"
    assert display_proxy("https://[::1]:8443") == "https://[::1]:8443"
    assert display_proxy("http://p") == "http://p"


def test_ca_bundle_setting_then_environment(tmp_path):
    pem = tmp_path / "corp.pem"
    pem.write_text(make_tls_material(tmp_path).ca.read_text())  # a real, loadable CA
    other = tmp_path / "env.pem"
    other.write_text(pem.read_text())
    net = resolve_network(ca_bundle=str(pem), environ={"REQUESTS_CA_BUNDLE": str(other)})
    assert net.verify == str(pem) and net.ca_source == "ca_bundle"
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        net = resolve_network(environ={variable: str(other)})
        assert net.verify == str(other) and net.ca_source == variable
    assert resolve_network(environ={}).verify is True
    assert resolve_network(verify_tls=False, ca_bundle=str(pem), environ={}).verify is False


def test_unusable_ca_bundles(tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate")
    for value, fragment in (
        (str(empty), "no PEM certificate"),
        (str(tmp_path / "x.pem"), "does not exist"),
    ):
        with pytest.raises(NetworkSettingError) as caught:
            resolve_network(ca_bundle=value, environ={})
        assert fragment in str(caught.value) and caught.value.setting == "ca_bundle"
    with pytest.raises(NetworkSettingError) as caught:
        resolve_network(environ={"SSL_CERT_FILE": str(empty)})
    assert caught.value.setting == "SSL_CERT_FILE"


def test_verify_tls_values():
    assert resolve_network(verify_tls="false", environ={}).verify_tls is False
    assert resolve_network(verify_tls=" TRUE ", environ={}).verify_tls is True
    assert resolve_network(verify_tls=True, environ={}).verify_tls is True
    # exactly what the settings' validation accepts for a boolean, nothing more
    for value in ("maybe", "yes", "no", "1", "0", 1, 0):
        with pytest.raises(NetworkSettingError, match="verify_tls"):
            resolve_network(verify_tls=value, environ={})
