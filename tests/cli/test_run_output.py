"""``run --output table`` prints the readable part as text tables; ``run --save-picture FILE``
writes Get Schedule Timeline's SVG (Picture = svg set for you) and says where; both against the
sandbox serving the known world of oncall_world."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import API_KEY
from oncall_world import CLOCK, world

from opsgenie_integration.cli.output import ExitStatus
from opsgenie_integration.sandbox import Sandbox

from .cli_helpers import one_envelope, run_cli


@pytest.fixture(scope="module")
def connection_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    (folder / "world.json").write_text(json.dumps(world()), encoding="utf-8")
    with Sandbox(data_file=folder / "world.json", clock=CLOCK, api_key=API_KEY) as sb:
        path = folder / "connection.json"
        path.write_text(json.dumps({**sb.connection, "max_retry_time": 0}), encoding="utf-8")
        yield str(path)


def test_output_table_prints_the_readable_part_as_text(connection_file):
    status, out, err = run_cli(
        "run", "Get On-call Users Across Schedules", "--connection", connection_file,
        "--param", "Datetime=2026-10-20T13:00:00Z", "--param", "Team=Night Owls", "--output", "table",
    )  # fmt: skip
    assert status == ExitStatus.SUCCESSFUL, err
    assert out == "\n".join(
        [
            "On call at 2026-10-20 13:00 UTC in 1 schedule owned by team Night Owls.",
            "",
            "Schedule          On call          Enabled",
            "----------------  ---------------  -------",
            "Database On Call  bob@example.com  yes",
            "",
        ]
    )


def test_output_table_of_a_failure_is_the_error_text(connection_file):
    status, out, _ = run_cli(
        "run", "Get Team", "--connection", connection_file, "--param", "Team=nope", "-o", "table"
    )
    assert status == ExitStatus.FAILED
    assert out.startswith("Get Team failed. Status Code: 404. Message: ")
    assert out.count("\n") == 1


def test_output_json_stays_the_default(connection_file):
    status, out, _ = run_cli("run", "List Teams", "--connection", connection_file)
    envelope = one_envelope(out, "List Teams")
    assert status == ExitStatus.SUCCESSFUL and envelope["readable"].startswith("### Teams")


def test_save_picture_writes_the_svg(connection_file, tmp_path):
    pytest.importorskip("drawsvg")
    target = tmp_path / "rota.svg"
    status, out, err = run_cli(
        "run", "Get Schedule Timeline", "--connection", connection_file,
        "--param", "Schedule Name=Ops Team/EU #1", "--param", "Date=2026-10-20",
        "--save-picture", str(target),
    )  # fmt: skip
    assert status == ExitStatus.SUCCESSFUL, err
    envelope = one_envelope(out, "Get Schedule Timeline")
    assert target.read_text(encoding="utf-8") == envelope["picture"]
    root = ET.fromstring(envelope["picture"])
    assert root.get("data-time-zone") == "Europe/Berlin"
    assert f"picture saved to {target}" in err


def test_save_picture_without_drawsvg_says_what_to_install(connection_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "drawsvg", None)
    target = tmp_path / "rota.svg"
    status, out, err = run_cli(
        "run", "Get Schedule Timeline", "--connection", connection_file,
        "--param", "Schedule Name=Ops Team/EU #1", "--save-picture", str(target),
    )  # fmt: skip
    assert status == ExitStatus.FAILED and not target.exists()
    assert one_envelope(out)["return_data"] == "Successful"  # the command itself worked
    assert "pip install 'opsgenie-integration[picture]'" in err


def test_save_picture_of_a_command_without_one(connection_file, tmp_path):
    status, _, err = run_cli(
        "run", "List Teams", "--connection", connection_file, "--save-picture", str(tmp_path / "x")
    )
    assert status == ExitStatus.FAILED
    assert "this command draws no picture (Get Schedule Timeline does)" in err


def test_unknown_output_format_is_a_usage_error(connection_file):
    status, out, _ = run_cli("run", "List Teams", "--connection", connection_file, "-o", "xml")
    assert status == ExitStatus.USAGE
    assert one_envelope(out)["return_data"] == "Failed"
