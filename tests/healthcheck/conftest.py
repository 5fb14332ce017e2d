"""Fixtures of the health-check tests: real local SMTP servers (plain and STARTTLS), a webhook
receiver, an embedded sandbox whose key rights the tests switch, a command that records what it
is given, and hostile raw TCP servers."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shlex
import ssl
import sys
from typing import Any

import pytest

from opsgenie_integration.sandbox import Sandbox

from .helpers import (
    ALL_RIGHTS,
    KEY,
    RawServer,
    Webhook,
    start_smtp,
)


@pytest.fixture
def smtp():
    """A real SMTP server on loopback, plain text, AUTH allowed without TLS (tests only)."""
    server = start_smtp(auth_require_tls=False)
    yield server
    server.controller.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (cert file, key file)."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@pytest.fixture
def smtp_starttls(tls_files):
    """A real SMTP server that requires STARTTLS before AUTH or MAIL."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    server = start_smtp(tls_context=context, require_starttls=True, auth_require_tls=True)
    yield server
    server.controller.stop()


@pytest.fixture
def webhook():
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(alerts=50, seed=1) as sb:
        sb.add_key(KEY, rights=ALL_RIGHTS)
        yield sb


@pytest.fixture
def key_rights(sandbox):
    """Switch KEY's rights; restored to all rights after the test."""
    yield lambda *rights: sandbox.set_rights(KEY, rights)
    sandbox.set_rights(KEY, ALL_RIGHTS)


@pytest.fixture
def recorder_command(tmp_path):
    """A command line that appends its stdin and environment, as one JSON line, to a file."""
    script = tmp_path / "record.py"
    script.write_text(
        "import json, os, sys\n"
        "data = sys.stdin.read()\n"
        "with open(sys.argv[1], 'a', encoding='utf-8') as out:\n"
        "    out.write(json.dumps({'stdin': data, 'env': dict(os.environ), 'argv': sys.argv[1:]}) + '\\n')\n"
    )
    record = tmp_path / "record.jsonl"
    command = " ".join(
        shlex.quote(p) for p in (sys.executable, str(script), str(record), "two words")
    )

    def runs() -> list[dict[str, Any]]:
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]

    return command, runs


@pytest.fixture
def raw_server():
    servers = []

    def start(handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
