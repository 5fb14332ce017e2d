"""Adversarial checks of the one redactor and of ``run``'s one-envelope promise: a key behind
a reference hidden in refused settings and inputs, one envelope when a signal arrives while it
is printed, UTF-8 JSON whatever the arguments' bytes, OpsGenie's ``apiKey`` spelling, a key
mistyped with a colon, and values that are not plain JSON."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests_mock as rm
from conftest import BASE

from opsgenie_integration import Integration
from opsgenie_integration.cli import main
from opsgenie_integration.cli.output import print_json
from opsgenie_integration.errors import ConnectionSettingsError
from opsgenie_integration.healthcheck import TestConnectionCheck
from opsgenie_integration.redact import Redactor

#: Not conftest.API_KEY: these tests look for the key themselves.
KEY = "7c2e9a14-5b3d-4f60-8e1a-2d9c4b7f0a35"
PIECES = (KEY, KEY[:8], KEY[-8:])


def _leaks(text: str) -> list[str]:
    return [piece for piece in PIECES if piece in text]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def key_by_reference(tmp_path, monkeypatch):
    """``{"env": "env:ADV_KEY", "file": "file:<path>"}``, both resolving to ``KEY``."""
    monkeypatch.setenv("ADV_KEY", KEY)
    key_file = tmp_path / "api.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    return {"env": "env:ADV_KEY", "file": f"file:{key_file}"}


# -- 1. a reference is resolved only after validation: the key it names is not yet hidden ---------

LEAKY_URL = f"{BASE}/?apiKey={KEY}"


@pytest.mark.parametrize("scheme", ["env", "file"])
def test_run_hides_the_referenced_key_in_a_refused_server_url(tmp_path, key_by_reference, scheme):
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({"server_url": LEAKY_URL, "api_key": key_by_reference[scheme]}))
    status, out, err = _run("run", "Get Schedules", "--connection", str(conn), "-vv")
    envelope = json.loads(out)
    assert status == 1 and envelope["error"]["type"] == "configuration"
    assert "Server URL (server_url)" in envelope["error"]["message"]
    assert _leaks(out + err) == []


def test_fetch_hides_the_referenced_key_in_a_refused_server_url(tmp_path, key_by_reference):
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({"server_url": LEAKY_URL, "api_key": key_by_reference["env"]}))
    status, out, err = _run("fetch", "--connection", str(conn), "-v")
    assert status == 1 and "Server URL (server_url)" in err
    assert _leaks(out + err) == []


def test_the_python_api_hides_the_referenced_key_in_a_refused_server_url(key_by_reference):
    integration = Integration.load(entry_points=False)
    settings = {"Server URL": LEAKY_URL, "api-key": key_by_reference["env"]}
    envelope = integration.run("Get Schedules", {}, settings)
    assert envelope["error"]["type"] == "configuration"
    with pytest.raises(ConnectionSettingsError) as raised:
        integration.connect(settings)
    shown = json.dumps(envelope) + str(raised.value) + json.dumps(raised.value.problems)
    assert _leaks(shown) == []


def test_run_hides_the_referenced_key_in_a_refused_input(monkeypatch, key_by_reference):
    monkeypatch.setenv("OPSGENIE_SERVER_URL", BASE)
    monkeypatch.setenv("OPSGENIE_API_KEY", key_by_reference["env"])
    status, out, err = _run("run", "Fetch Event", "--param", f"Start Time={KEY}")
    envelope = json.loads(out)
    assert status == 1 and "Start Time (start_time)" in envelope["error"]["message"]
    assert _leaks(out + err) == []


# -- 2. a signal while the envelope is being written: a second envelope ----------------------------


class _SignalledStdout(io.StringIO):
    """A stdout whose first write is followed by SIGTERM delivered to another thread (as the
    kernel does when the main thread blocks it and the client's watchdog thread does not)."""

    def __init__(self, target: threading.Thread) -> None:
        super().__init__()
        self.target = target
        self.sent = False

    def write(self, text: str) -> int:
        written = super().write(text)
        if not self.sent:
            self.sent = True
            signal.pthread_kill(self.target.ident, signal.SIGTERM)
            time.sleep(0.05)  # a large envelope's write to a pipe takes as long
        return written


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signals")
def test_sigterm_while_the_envelope_is_written_still_gives_one_envelope(tmp_path):
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({"server_url": BASE, "api_key": KEY, "max_retry_time": 0}))
    idle = threading.Event()
    other = threading.Thread(target=idle.wait, daemon=True)
    other.start()
    out, err = _SignalledStdout(other), io.StringIO()
    try:
        with rm.Mocker() as m:
            m.get(f"{BASE}/v2/schedules", json={"data": [], "took": 0.01, "requestId": "r"})
            status = main(
                ["run", "Get Schedules", "--connection", str(conn)], stdout=out, stderr=err
            )
    except KeyboardInterrupt:  # pragma: no cover - must not escape main
        pytest.fail("KeyboardInterrupt escaped main")
    finally:
        idle.set()
    text = out.getvalue()
    decoder = json.JSONDecoder()
    first, end = decoder.raw_decode(text)
    assert text[end:].strip() == "", f"more than one envelope (exit status {status})"
    assert first["command"] == "Get Schedules"


# -- 3. a non-UTF-8 argument in an argparse error: invalid UTF-8 on stdout -------------------------


def test_a_non_utf8_unknown_flag_still_gives_a_utf8_json_envelope():
    environ = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""}
    done = subprocess.run(
        [sys.executable, "-m", "opsgenie_integration", "run", "Get Schedules", b"--bogus\xff"],
        capture_output=True,
        env=environ,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    envelope = json.loads(done.stdout.decode("utf-8"))  # strict: RFC 8259 JSON is UTF-8
    assert envelope["error"]["type"] == "validation"


# -- 4. OpsGenie's own spelling of the setting, apiKey -----------------------------------------------


@pytest.mark.parametrize("spelling", ["apiKey", "ApiKey", "APIKEY"])
def test_command_notifier_environment_drops_the_variable_named_under_apikey(monkeypatch, spelling):
    monkeypatch.setenv("ADV_KEY", KEY)
    integration = Integration.load(entry_points=False)
    check = TestConnectionCheck(integration, {"server_url": BASE, spelling: "env:ADV_KEY"})
    envelope = check()  # refused before any request
    assert envelope["return_data"] == "Failed"
    child = check.redactor.environment(os.environ)
    assert "ADV_KEY" not in child


# -- 5. a mistyped literal key with a colon is shown as a "scheme" --------------------------------


def test_a_mistyped_key_with_a_colon_is_not_shown_as_its_scheme():
    key = "a" + KEY[1:]  # a key starting with a letter (as 6 in 16 do)
    typo = key[:23] + ":" + key[24:]  # its fourth '-' typed as ':'
    integration = Integration.load(entry_points=False)
    envelope = integration.run("Get Schedules", {}, {"server_url": BASE, "api_key": typo})
    assert envelope["error"]["type"] == "configuration"
    shown = json.dumps(envelope)
    assert key[:8] not in shown and key[:23] not in shown


# -- 6. values the redactor cannot walk are passed through, then printed with str() -------------


def test_a_plugin_output_that_is_not_plain_json_is_still_redacted_when_printed():
    envelope = {
        "command": "Get Schedules",
        "return_data": "Successful",
        "raw_data": None,
        "error": None,
        "tags": {f"key={KEY}"},
        "blob": f"key={KEY}".encode(),
        "detail": ValueError(f"refused key {KEY}"),
    }
    out = io.StringIO()
    print_json(out, Redactor([KEY]).value(envelope))
    assert _leaks(out.getvalue()) == []


@pytest.mark.parametrize("key", ["Fail", "Failed", "Get Schedules", "Schedules", "onfiguration"])
def test_a_short_key_that_spells_the_envelope_s_own_words_leaves_them_intact(key):
    integration = Integration.load(entry_points=False)
    envelope = integration.run(
        "Get Schedules", {}, {"server_url": "https://", "api_key": key, "max_retry_time": 0}
    )
    assert envelope["return_data"] == "Failed" and envelope["command"] == "Get Schedules"
    assert envelope["error"]["failure_indicator"] == "Get Schedules failed."
    assert envelope["error"]["type"] == "configuration"
    assert key not in json.dumps(
        {k: v for k, v in envelope["error"].items() if k in ("message", "text", "hint")}
    )
