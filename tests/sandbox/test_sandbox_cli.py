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


def test_region_both_prints_one_connection_per_region_that_run_accepts(tmp_path):
    # Given `sandbox --region both`; When each printed line is saved as a --connection file
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsgenie_integration.sandbox", "--region", "both", "--alerts", "7",
         "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        lines = [_read_line(proc.stdout), _read_line(proc.stdout)]
        connections = [json.loads(line) for line in lines]
        # Then each line is exactly a connection (no unknown setting such as 'regions') ...
        assert [set(c) for c in connections] == [{"server_url", "api_key", "api_version"}] * 2
        assert connections[0]["server_url"] != connections[1]["server_url"]
        assert connections[0]["api_key"] != connections[1]["api_key"]
        for region, line, connection in zip(("us", "eu"), lines, connections):
            path = tmp_path / f"{region}.json"
            path.write_text(line, encoding="utf-8")
            # ... that `run --connection FILE` accepts and that reaches that region's server
            run = subprocess.run(
                [sys.executable, "-m", "opsgenie_integration", "run", "Get Schedules",
                 "--connection", str(path)],
                check=False, capture_output=True, text=True, env=env, timeout=120,
            )  # fmt: skip
            assert run.returncode == 0, run.stderr
            envelope = json.loads(run.stdout)
            assert envelope["return_data"] == "Successful", (region, run.stdout[:500])
            assert "Unknown setting" not in run.stderr
            # the other region's key is refused by this region's server (401), as in OpsGenie
            other = connections[1] if region == "us" else connections[0]
            r = requests.get(
                connection["server_url"] + "/v2/account",
                headers={"Authorization": f"GenieKey {other['api_key']}"},
                timeout=10,
            )
            assert r.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "one connection line per region on stdout: us, eu" in err


def test_team_key_and_https_options(tmp_path):
    from tls_material import make_tls_material

    tls = make_tls_material(tmp_path)
    team_key = "7ea40000-0000-4000-8000-000000000001"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsgenie_integration.sandbox", "--alerts", "20", "--quiet",
         "--team-key", f"{team_key}=Database", "--tls-cert", str(tls.chain),
         "--tls-key", str(tls.key)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        connection = json.loads(_read_line(proc.stdout))
        assert connection["server_url"].startswith("https://127.0.0.1:")
        auth = {"Authorization": f"GenieKey {team_key}"}
        url = connection["server_url"]
        r = requests.get(url + "/v2/account", headers=auth, timeout=10, verify=str(tls.ca))
        assert r.status_code == 403 and r.json()["code"] == 40301
        r = requests.get(url + "/v2/schedules", headers=auth, timeout=10, verify=str(tls.ca))
        assert [s["name"] for s in r.json()["data"]] == ["Database On Call"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0
    out, err = io.StringIO(), io.StringIO()
    assert main(["--tls-cert", str(tls.chain)], out, err) == 2 and "--tls-key" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["--team-key", f"{team_key}=Nobody", "--alerts", "0"], out, err) == 1
    assert "unknown team" in err.getvalue()
