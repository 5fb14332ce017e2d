"""The sandbox CLI's refusals: usage errors exit 2 naming the option (keys never shown), and a
sandbox that cannot start exits 1 naming the option and its file or port."""

from __future__ import annotations

import errno
import io
import os
import socket

import pytest
from tls_material import make_tls_material

from opsgenie_integration.sandbox.__main__ import main

BAD_KEY = "not-a-uuid-secret"
PREFIX = "opsgenie-integration sandbox: error: "


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--alerts", "-1"], "argument --alerts: expected a whole number at least 0, got -1"),
        (["--churn", "-2"], "argument --churn: expected a whole number at least 0, got -2"),
        (["--port", "70000"], "argument --port: expected a whole number from 0 to 65535, got 70000"),
        (["--alerts", "many"], "argument --alerts: expected a whole number, got 'many'"),
        (["--latency", "-1"], "argument --latency: expected a number of seconds from 0 to 3600, got '-1'"),
        (["--latency", "3601"], "argument --latency: expected a number of seconds from 0 to 3600, got '3601'"),
        (["--write-delay", "x"], "argument --write-delay: expected a number of seconds, got 'x'"),
        (["--error-rate", "x"], "argument --error-rate: expected a fraction between 0 and 1, got 'x'"),
    ],
)  # fmt: skip
def test_bad_values_are_usage_errors(argv, message):
    status, out, err = run(*argv)
    assert (status, out) == (2, "")
    assert err.splitlines()[-1] == PREFIX + message


@pytest.mark.parametrize(
    "option, value",
    [
        ("--api-key", BAD_KEY),
        ("--read-only-key", BAD_KEY),
        ("--config-only-key", BAD_KEY),
        ("--team-key", f"{BAD_KEY}=Database"),
    ],
)
def test_every_key_that_is_no_uuid_exits_2_without_showing_it(option, value):
    status, out, err = run(option, value)
    assert (status, out) == (2, "")
    assert err.splitlines()[-1] == (
        f"{PREFIX}argument {option}: expected a UUID-shaped API key (8-4-4-4-12 hex digits); the "
        "value given is not shown"
    )
    assert BAD_KEY not in err


def test_garbage_certificate_is_named(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("garbage\n")
    status, out, err = run("--tls-cert", str(bad), "--tls-key", str(bad), "--alerts", "0")
    assert (status, out) == (1, "")
    assert (
        err
        == f"opsgenie sandbox: cannot start: --tls-cert {str(bad)!r}: holds no PEM certificate\n"
    )


def test_missing_key_file_is_named(tmp_path):
    material = make_tls_material(tmp_path)
    missing = tmp_path / "none.pem"
    status, _, err = run("--tls-cert", str(material.chain), "--tls-key", str(missing))
    assert status == 1
    assert err == (
        f"opsgenie sandbox: cannot start: --tls-key {str(missing)!r}: does not exist or is not a "
        "file\n"
    )


def test_key_of_another_certificate_is_named(tmp_path):
    first = make_tls_material(tmp_path / "a")
    other = make_tls_material(tmp_path / "b")
    status, _, err = run("--tls-cert", str(first.chain), "--tls-key", str(other.key), "--alerts", "0")  # fmt: skip
    assert status == 1
    assert err == (
        f"opsgenie sandbox: cannot start: --tls-key {str(other.key)!r}: is not the PEM private "
        f"key of the certificate in --tls-cert {str(first.chain)!r}\n"
    )


def test_port_in_use_is_named():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, out, err = run("--port", str(port), "--alerts", "0", "--quiet")
    assert (status, out) == (1, "")
    assert err == (
        f"opsgenie sandbox: cannot start: --port {port} on --host 127.0.0.1 cannot be used: "
        f"{os.strerror(errno.EADDRINUSE)} (another server is using it?)\n"
    )
