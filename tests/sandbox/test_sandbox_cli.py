"""The sandbox CLI: ``python -m opsgenie_integration.sandbox`` and ``main(argv, stdout, stderr)``."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests

from opsgenie_integration.sandbox.__main__ import main

REPO = Path(__file__).resolve().parents[2]
READ_ONLY = "44444444-4444-4444-8444-444444444444"


def _read_line(stream, timeout: float = 20) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert box, "the sandbox printed no connection line in time"
    return box[0]


def test_cli_serves_until_sigterm_and_prints_a_connection():
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsgenie_integration.sandbox", "--alerts", "30", "--seed", "3",
         "--clock", "2024-03-06T12:00:00Z", "--read-only-key", READ_ONLY, "--rate-limit", "search=50/1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        connection = json.loads(_read_line(proc.stdout))
        assert set(connection) == {"server_url", "api_key", "api_version"}
        assert connection["api_version"] == "v2" and connection["server_url"].startswith(
            "http://127.0.0.1:"
        )
        auth = {"Authorization": f"GenieKey {connection['api_key']}"}
        r = requests.get(connection["server_url"] + "/v2/alerts/count", headers=auth, timeout=10)
        assert r.json()["data"]["count"] == 30
        r = requests.get(
            connection["server_url"] + "/v2/account",
            headers={"Authorization": f"GenieKey {READ_ONLY}"},
            timeout=10,
        )
        assert r.status_code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "OpsGenie sandbox serving 30 alerts" in err and connection["api_key"] not in err
    assert "GET /v2/alerts/count" in err  # request lines are logged, without the key


def test_cli_usage_errors_and_help_use_the_given_streams():
    out, err = io.StringIO(), io.StringIO()
    assert main(["--no-such-flag"], out, err) == 2 and "usage:" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["--help"], out, err) == 0 and "--rate-limit" in out.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["--rate-limit", "alerts=5"], out, err) == 2
    out, err = io.StringIO(), io.StringIO()
    assert main(["--host", "0.0.0.0", "--alerts", "0"], out, err) == 1
    assert "loopback" in err.getvalue() and out.getvalue() == ""
