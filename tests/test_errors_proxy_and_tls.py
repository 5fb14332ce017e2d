"""The transport errors that trying again cannot fix: a proxy that refuses (407 or its policy) and
a certificate that does not verify are not retryable, while an unreachable proxy is."""

from __future__ import annotations

import pytest

from opsgenie_integration import errors


@pytest.mark.parametrize(
    "exc, kind, retryable",
    [
        (errors.ProxyError("p", proxy="http://u@proxy:3128"), "proxy", True),
        (errors.ProxyAuthenticationError("p", proxy="http://u@proxy:3128"), "proxy", False),
        (errors.TlsVerificationError("t"), "tls", False),
    ],
)
def test_proxy_and_tls_errors_have_their_kind_and_retryability(exc, kind, retryable):
    assert (exc.error_type, exc.retryable) == (kind, retryable)
    assert isinstance(exc, errors.TransportError) and exc.status_code is None


def test_a_proxy_error_names_the_proxy_and_keeps_its_hint():
    exc = errors.ProxyAuthenticationError("refused", proxy="http://u@proxy:3128", hint="h")
    assert (exc.message, exc.proxy, exc.hint) == ("refused", "http://u@proxy:3128", "h")
    assert isinstance(exc, errors.ProxyError)
