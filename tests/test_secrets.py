"""Secret references for the API Key: env:, file:, keyring:, a vault plugin's scheme.

An unresolvable reference is a Failed Test Connection whose message names the reference and never
the secret, whether the connection is given to ``Integration.run`` as a dict, through the CLI's
``--connection FILE`` or to the health check.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from pathlib import Path

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, REPO, load_fixture

from opsgenie_integration.healthcheck import TestConnectionCheck
from opsgenie_integration.redact import secret_settings
from opsgenie_integration.secrets import split_reference

EXAMPLE_PLUGIN = REPO / "examples" / "vault_plugin"
OTHER_SECRET = "b7c6d5e4-f3a2-4190-8b7c-6d5e4f3a2b1c"  # stored beside the key in the vault


def mock_test_connection(m: rm.Mocker) -> None:
    """OpsGenie answers every probe of Test Connection (account, one alert, schedules, users)."""
    m.get(f"{BASE}/v2/account", json=load_fixture("account.json"))
    m.get(f"{BASE}/v2/alerts", json={"data": [], "took": 0.0, "requestId": "r-1"})
    m.get(f"{BASE}/v2/schedules", json={"data": [], "took": 0.0, "requestId": "r-2"})
    m.get(f"{BASE}/v2/users", json={"data": [], "totalCount": 0, "took": 0.0, "requestId": "r-3"})


def failed_on_the_reference(envelope: dict, *secrets: str) -> dict:
    """Checks the shape of a Failed Test Connection caused by a secret reference."""
    assert envelope["command"] == "Test Connection"
    assert envelope["return_data"] == "Failed" and envelope["raw_data"] is None
    error = envelope["error"]
    assert error["failure_indicator"] == "Test Connection failed. Failed to check the connector."
    assert error["type"] == "configuration" and error["status_code"] is None
    assert error["retryable"] is False
    flat = json.dumps(envelope)
    for secret in (API_KEY, OTHER_SECRET, *secrets):
        assert secret not in flat
    return error


@pytest.fixture
def vault_plugin(monkeypatch):
    """The example plugin's module, imported from examples/vault_plugin as an installed one is."""
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    module = importlib.import_module("opsgenie_vault_example")
    yield module
    sys.modules.pop("opsgenie_vault_example", None)


@pytest.fixture
def vault_file(tmp_path, monkeypatch) -> Path:
    """A vault holding the key at ops/opsgenie, named by OPSGENIE_VAULT_FILE."""
    path = tmp_path / "vault.json"
    path.write_text(
        json.dumps({"ops": {"opsgenie": f" {API_KEY}\n", "smtp": OTHER_SECRET, "n": 3}})
    )
    path.chmod(0o600)
    monkeypatch.setenv("OPSGENIE_VAULT_FILE", str(path))
    return path


@pytest.fixture
def vault_integration(vault_plugin):
    from opsgenie_integration import Integration

    return Integration.load(plugins=[vault_plugin], entry_points=False)


# -- what counts as a reference ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("env:OPSGENIE_API_KEY", ("env", "OPSGENIE_API_KEY")),
        ("  FILE:~/.opsgenie/key ", ("file", "~/.opsgenie/key")),
        ("keyring:opsgenie/ops-bot", ("keyring", "opsgenie/ops-bot")),
        ("vault:ops/opsgenie", ("vault", "ops/opsgenie")),
        (API_KEY, None),
    ],
)
def test_split_reference(value, expected):
    assert split_reference(value) == expected


def test_only_a_literal_key_is_hidden_as_a_secret(integration):
    # A literal key is the secret; a reference only says where it is and must stay nameable.
    params = integration.manifest.connection_parameters
    assert secret_settings(params, {"api_key": f" {API_KEY} "}) == ([API_KEY], set())
    assert secret_settings(params, {"API-Key": "env:OPSGENIE_API_KEY"}) == (
        [],
        {"OPSGENIE_API_KEY"},
    )
    assert secret_settings(params, {"api key": "vault:ops/opsgenie"}) == ([], set())
    assert secret_settings(params, {"api_key": None}) == ([], set())
    assert secret_settings(params, {"api_key": "  "}) == ([], set())
    assert secret_settings(params, {"server_url": API_KEY}) == ([], set())  # not a secret setting
    assert secret_settings(params, ["api_key", API_KEY]) == ([], set())


# -- env: --------------------------------------------------------------------------------------


def test_env_reference_sends_the_resolved_key(integration, conn, monkeypatch):
    # Given the key in an environment variable and the connection naming it
    monkeypatch.setenv("OG_TEST_KEY", f"{API_KEY}\n")
    with rm.Mocker() as m:
        mock_test_connection(m)
        # When
        envelope = integration.run("Test Connection", {}, dict(conn, api_key="env:OG_TEST_KEY"))
    # Then the key went out (stripped), and nowhere else
    assert envelope["return_data"] == "Successful"
    assert [r.headers["Authorization"] for r in m.request_history] == [f"GenieKey {API_KEY}"] * 4
    assert API_KEY not in json.dumps(envelope)


def test_env_missing_is_a_failed_test_connection(integration, conn, monkeypatch):
    # Given a reference to a variable that is not set
    monkeypatch.delenv("OG_NOT_SET", raising=False)
    with rm.Mocker() as m:
        # When
        envelope = integration.run("Test Connection", {}, dict(conn, api_key="env:OG_NOT_SET"))
    # Then nothing was sent and the envelope says what is wrong
    assert m.call_count == 0
    error = failed_on_the_reference(envelope)
    assert "'OG_NOT_SET'" in error["message"] and "not set or empty" in error["message"]
    assert error["errors"] == {"API Key": error["message"]}


def test_env_missing_names_the_reference(integration, conn, monkeypatch):
    monkeypatch.delenv("OG_NOT_SET", raising=False)
    envelope = integration.run("Test Connection", {}, dict(conn, api_key="env:OG_NOT_SET"))
    assert "'env:OG_NOT_SET'" in envelope["error"]["text"]
    assert "[REDACTED]" not in json.dumps(envelope)


def test_env_missing_in_the_health_check_names_the_reference(integration, conn, monkeypatch):
    # Given the health check's own connect step (it scrubs only literal keys and resolved ones)
    monkeypatch.delenv("OG_NOT_SET", raising=False)
    check = TestConnectionCheck(integration, dict(conn, api_key="env:OG_NOT_SET"))
    # When
    envelope = check()
    # Then the reference is named in the text and the hint
    error = failed_on_the_reference(envelope)
    assert (
        "'env:OG_NOT_SET'" in error["text"]
        and error["hint"] == "Check the secret reference 'env:OG_NOT_SET'."
    )


# -- file: -------------------------------------------------------------------------------------


def test_file_reference_reads_the_first_line(integration, conn, tmp_path, caplog):
    # Given a private key file with a BOM, the key, and a comment line
    path = tmp_path / "opsgenie.key"
    path.write_text(f"\ufeff{API_KEY}  \n# rotated 2024-03-01\n", encoding="utf-8")
    path.chmod(0o600)
    caplog.set_level(logging.DEBUG)
    with rm.Mocker() as m:
        mock_test_connection(m)
        envelope = integration.run("Test Connection", {}, dict(conn, api_key=f"file:{path}"))
    # Then the first line, stripped, is the key; no permission warning for a 0600 file
    assert envelope["return_data"] == "Successful"
    assert m.request_history[0].headers["Authorization"] == f"GenieKey {API_KEY}"
    assert "readable by every user" not in caplog.text
    assert API_KEY not in caplog.text


def test_file_reference_world_readable_is_warned(integration, conn, tmp_path, caplog):
    # Given a key file every user of the host can read
    path = tmp_path / "opsgenie.key"
    path.write_text(API_KEY + "\n")
    path.chmod(0o644)
    caplog.set_level(logging.DEBUG)
    with rm.Mocker() as m:
        mock_test_connection(m)
        envelope = integration.run("Test Connection", {}, dict(conn, api_key=f"file:{path}"))
    # Then it still works, with a warning that names the file and says what to do, not the key
    assert envelope["return_data"] == "Successful"
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "readable by every user" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage() and "chmod 600" in warnings[0].getMessage()
    assert API_KEY not in caplog.text


@pytest.mark.parametrize(
    "content, words",
    [
        (None, "cannot be read (No such file or directory)"),
        ("\n" + API_KEY, "first line"),
        (b"\xff\xfe\xfa", "not UTF-8"),
    ],
)
def test_file_reference_unusable(integration, conn, tmp_path, content, words):
    path = tmp_path / "opsgenie.key"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with rm.Mocker() as m:
        envelope = integration.run("Test Connection", {}, dict(conn, api_key=f"file:{path}"))
    assert m.call_count == 0
    error = failed_on_the_reference(envelope)
    assert words in error["message"]


# -- keyring: ----------------------------------------------------------------------------------


def test_keyring_without_the_keyring_package(integration, conn, monkeypatch):
    # Given the optional keyring package is not installed
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
    monkeypatch.setitem(sys.modules, "keyring.errors", None)
    envelope = integration.run(
        "Test Connection", {}, dict(conn, api_key="keyring:opsgenie/ops-bot")
    )
    # Then the message says how to install it
    error = failed_on_the_reference(envelope)
    assert "needs the keyring package" in error["message"]
    assert "opsgenie-integration[keyring]" in error["message"]


@pytest.fixture
def memory_keyring():
    """An in-memory keyring backend holding the key for opsgenie/ops-bot."""
    keyring = pytest.importorskip("keyring")
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self):
            super().__init__()
            self.store = {("opsgenie", "ops-bot"): API_KEY}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield
    keyring.set_keyring(previous)


def test_keyring_reference_resolves(integration, conn, memory_keyring):
    with rm.Mocker() as m:
        mock_test_connection(m)
        envelope = integration.run(
            "Test Connection", {}, dict(conn, api_key="keyring:opsgenie/ops-bot")
        )
    assert envelope["return_data"] == "Successful"
    assert m.request_history[0].headers["Authorization"] == f"GenieKey {API_KEY}"


@pytest.mark.parametrize(
    "reference, words",
    [
        ("keyring:opsgenie/nobody", "no password is stored"),
        ("keyring:opsgenie", "must be keyring:SERVICE/USERNAME"),
    ],
)
def test_keyring_reference_unusable(integration, conn, memory_keyring, reference, words):
    envelope = integration.run("Test Connection", {}, dict(conn, api_key=reference))
    assert words in failed_on_the_reference(envelope)["message"]


# -- other schemes: plugins --------------------------------------------------------------------


def test_unknown_scheme_without_a_plugin(integration, conn):
    with rm.Mocker() as m:
        envelope = integration.run("Test Connection", {}, dict(conn, api_key="vault:ops/opsgenie"))
    assert m.call_count == 0
    error = failed_on_the_reference(envelope)
    assert "no secret resolver knows the scheme 'vault'" in error["message"]
    assert "plugins" in error["message"]


def test_vault_plugin_resolves_its_scheme(vault_integration, vault_file, conn):
    # Given the example plugin registered and the key stored in the vault at ops/opsgenie
    with rm.Mocker() as m:
        mock_test_connection(m)
        # When
        envelope = vault_integration.run(
            "Test Connection", {}, dict(conn, api_key="vault:ops/opsgenie")
        )
    # Then the vault's key (stripped) went out; the envelope holds neither secret
    assert envelope["return_data"] == "Successful", envelope["error"]
    assert [r.headers["Authorization"] for r in m.request_history] == [f"GenieKey {API_KEY}"] * 4
    flat = json.dumps(envelope)
    assert API_KEY not in flat and OTHER_SECRET not in flat


def test_vault_plugin_against_the_sandbox(vault_integration, tmp_path, monkeypatch):
    # Given the sandbox's key stored in the vault: a real round trip over loopback HTTP
    from opsgenie_integration.sandbox import Sandbox

    with Sandbox(alerts=20, seed=1) as sb:
        path = tmp_path / "vault.json"
        path.write_text(json.dumps({"ops": {"opsgenie": sb.api_key}}))
        monkeypatch.setenv("OPSGENIE_VAULT_FILE", str(path))
        envelope = vault_integration.run(
            "Test Connection", {}, dict(sb.connection, api_key="vault:ops/opsgenie")
        )
        assert envelope["return_data"] == "Successful", envelope["error"]
        # null: a write right, which Test Connection cannot check without writing
        assert all(c["can_run"] in (True, None) for c in envelope["commands"].values())
        assert sb.api_key not in json.dumps(envelope)


@pytest.mark.parametrize(
    "reference, words",
    [
        ("vault:ops/missing", "the vault holds no entry"),
        ("vault:ops/opsgenie/deeper", "the vault holds no entry"),
        ("vault:ops/n", "is not a non-empty string"),
        ("vault:ops", "is not a non-empty string"),
        ("vault:/", "names no entry"),
    ],
)
def test_vault_plugin_unresolvable(vault_integration, vault_file, conn, reference, words):
    with rm.Mocker() as m:
        envelope = vault_integration.run("Test Connection", {}, dict(conn, api_key=reference))
    assert m.call_count == 0
    error = failed_on_the_reference(envelope)
    assert words in error["message"]


def test_vault_plugin_unresolvable_names_the_reference_in_the_health_check(
    vault_integration, vault_file, conn
):
    envelope = TestConnectionCheck(vault_integration, dict(conn, api_key="vault:ops/missing"))()
    error = failed_on_the_reference(envelope)
    assert "'vault:ops/missing'" in error["message"] and "OPSGENIE_VAULT_FILE" in error["hint"]


@pytest.mark.parametrize(
    "content, words", [(None, "not set"), ("{not json " + API_KEY, "not valid JSON")]
)
def test_vault_plugin_without_a_usable_vault_file(
    vault_integration, conn, tmp_path, monkeypatch, content, words
):
    if content is None:
        monkeypatch.delenv("OPSGENIE_VAULT_FILE", raising=False)
    else:
        path = tmp_path / "vault.json"
        path.write_text(content)
        monkeypatch.setenv("OPSGENIE_VAULT_FILE", str(path))
    envelope = vault_integration.run(
        "Test Connection", {}, dict(conn, api_key="vault:ops/opsgenie")
    )
    assert words in failed_on_the_reference(envelope)["message"]


def test_vault_plugin_leaves_other_schemes_to_the_built_ins(
    vault_integration, vault_file, conn, monkeypatch
):
    monkeypatch.setenv("OG_TEST_KEY", API_KEY)
    with rm.Mocker() as m:
        mock_test_connection(m)
        envelope = vault_integration.run(
            "Test Connection", {}, dict(conn, api_key="env:OG_TEST_KEY")
        )
    assert envelope["return_data"] == "Successful"
    assert (
        vault_integration.plugin_manager.hook.opsgenie_resolve_secret(scheme="other", reference="x")
        is None
    )


def test_a_plugin_that_breaks_does_not_leak_its_error_text(conn):
    # Given a plugin whose exception message holds a secret
    from opsgenie_integration import Integration
    from opsgenie_integration.command import hookimpl

    class Broken:
        @hookimpl
        def opsgenie_resolve_secret(self, scheme, reference):
            if scheme == "boom":
                raise RuntimeError(f"backend said {OTHER_SECRET}")

    integration = Integration.load(plugins=[Broken()], entry_points=False)
    envelope = integration.run("Test Connection", {}, dict(conn, api_key="boom:x"))
    # Then the envelope says which plugin failed, and how, but not what it said
    error = failed_on_the_reference(envelope, OTHER_SECRET)
    assert "the secret plugin for 'boom' failed (RuntimeError)" in error["message"]


def test_example_plugin_declares_the_entry_point_group(vault_plugin):
    # The example is installable: its pyproject.toml names the module in our entry-point group
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((EXAMPLE_PLUGIN / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"]["opsgenie_integration"]
    assert entry_points == {"example_vault": "opsgenie_vault_example"}
    assert importlib.import_module(entry_points["example_vault"]) is vault_plugin
    assert hasattr(vault_plugin.opsgenie_resolve_secret, "opsgenie_integration_impl")  # our marker


def test_example_plugin_is_found_as_an_installed_entry_point(
    vault_plugin, vault_file, conn, monkeypatch
):
    # Given the plugin installed (simulated: an entry point of our group in importlib.metadata)
    import importlib.metadata as importlib_metadata

    from opsgenie_integration import Integration

    entry_point = importlib_metadata.EntryPoint(
        "example_vault", "opsgenie_vault_example", "opsgenie_integration"
    )

    class Dist:
        def __init__(self) -> None:
            self.metadata = {"name": "opsgenie-vault-example"}
            self.entry_points = [entry_point]

    monkeypatch.setattr(importlib_metadata, "distributions", lambda: [Dist()])
    # When the integration loads its entry points
    integration = Integration.load()
    # Then the vault scheme resolves
    assert integration.plugin_manager.get_plugin("example_vault") is vault_plugin
    with rm.Mocker() as m:
        mock_test_connection(m)
        envelope = integration.run("Test Connection", {}, dict(conn, api_key="vault:ops/opsgenie"))
    assert envelope["return_data"] == "Successful"


def test_no_reference_leaks_a_secret_into_logs(integration, conn, vault_file, monkeypatch, caplog):
    # Every scheme, resolved or not, at DEBUG: neither the key nor the vault's other secret is logged
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OG_TEST_KEY", API_KEY)
    for reference in ("env:OG_TEST_KEY", "env:OG_NOT_SET", f"file:{vault_file}", "vault:ops/smtp"):
        with rm.Mocker() as m:
            mock_test_connection(m)
            integration.run("Test Connection", {}, dict(conn, api_key=reference))
    assert API_KEY not in caplog.text and OTHER_SECRET not in caplog.text
    assert os.environ["OG_TEST_KEY"] == API_KEY  # resolution never alters the environment
