"""``opsgenie-integration``'s actions: the dispatch table, help, start-up imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from opsgenie_integration.cli import ACTIONS, ExitStatus

from .cli_helpers import run_cli


def test_commands_lists_the_commands_with_inputs():
    status, out, _ = run_cli("commands")
    assert status == ExitStatus.SUCCESSFUL
    for name in (
        "Fetch Event",
        "Get On-call User",
        "Get Schedules",
        "Get Schedule Timeline",
        "Get Single User",
        "Test Connection",
        "Start Time",
        "Number of Event(s) Fetched",
        "Schedule Name",
        "Username or ID",
    ):
        assert name in out
    status, out, _ = run_cli("commands", "--json")
    listed = json.loads(out)
    assert [c["id"] for c in listed][0] == "fetch_event" and len(listed) == 33
    assert listed[0]["inputs"][2] == {
        "title": "Number of Event(s) Fetched",
        "id": "limit",
        "required": False,
        "default": 20,
        "example": 100,
        "description": "Most events returned by one call, 1 to 100.",
    }


def test_unknown_action_is_usage_error():
    status, out, err = run_cli("explode")
    assert status == ExitStatus.USAGE and out == "" and "invalid choice" in err


def test_python_dash_m_from_another_folder(tmp_path):
    """Runs the installed package (in CI: the wheel, non-editable) away from the source tree."""
    done = subprocess.run(
        [sys.executable, "-m", "opsgenie_integration", "commands"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Get Schedule Timeline (get_schedule_timeline)" in done.stdout


def test_help_lists_every_action(capsys):
    status, _, _ = run_cli("--help")
    out = capsys.readouterr().out  # argparse prints help on sys.stdout
    assert status == ExitStatus.SUCCESSFUL
    for action in ("commands", "run", "sandbox", "fetch", "health-check"):
        assert action in out
    assert set(ACTIONS) == {"commands", "run", "sandbox", "fetch", "health-check"}


@pytest.mark.parametrize(
    "argv, loaded",
    [
        (["--version"], False),
        (["--help"], False),
        (["sandbox", "--help"], False),
        (["commands"], True),
    ],
)
def test_only_the_action_run_imports_the_integration(argv, loaded):
    """Start-up: --version, --help and the sandbox never load the integration (requests, jsonschema)."""
    code = (
        "import sys\n"
        "from opsgenie_integration.cli import main\n"
        f"status = main({argv!r})\n"
        "print('LOADED' if 'opsgenie_integration.integration' in sys.modules else 'NOT LOADED', file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == ("LOADED" if loaded else "NOT LOADED")


def test_sandbox_help_is_the_sandbox_own(capsys):
    status, out, _ = run_cli("sandbox", "--help")
    out += capsys.readouterr().out
    assert status == ExitStatus.SUCCESSFUL
    assert (
        out.startswith("usage: opsgenie-integration sandbox")
        and "--alerts" in out
        and "--api-key" in out
    )
