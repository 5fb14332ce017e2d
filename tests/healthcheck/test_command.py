"""The command notifier: no shell, the environment it gets, failures, bounds on its output and
its process group.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import pytest

from opsgenie_integration.healthcheck import (
    CommandNotifier,
    NotificationError,
)
from opsgenie_integration.redact import Redactor

from .helpers import (
    KEY,
    a_notification,
    run_scripted,
)


def test_command_environment_drops_the_key(recorder_command, monkeypatch):
    # Given the key in the environment, under the usual name and under the name a reference uses
    command, runs = recorder_command
    monkeypatch.setenv("OPSGENIE_API_KEY", KEY)
    monkeypatch.setenv("MY_KEY_REF", KEY)
    monkeypatch.setenv("UNRELATED", "kept")
    CommandNotifier(command, redactor=Redactor([KEY])).send(run_scripted([False])[1].got[0])
    child_env = runs()[0]["env"]
    assert "OPSGENIE_API_KEY" not in child_env and "MY_KEY_REF" not in child_env
    assert child_env["UNRELATED"] == "kept" and KEY not in json.dumps(runs())


@pytest.mark.parametrize(
    "script, words",
    [
        (
            "import sys; sys.stderr.write('first\\nlast words\\n'); sys.exit(3)",
            "exit status 3: last words",
        ),
        ("import time; time.sleep(5)", "killed after 0.5 s"),
    ],
)
def test_command_exit_status_or_timeout_fails_the_notification_without_its_arguments(script, words):
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)} secret-arg"
    with pytest.raises(NotificationError) as failed:
        CommandNotifier(command, timeout=0.5).send(run_scripted([False])[1].got[0])
    assert words in str(failed.value) and "secret-arg" not in str(failed.value)


def test_command_not_found_names_the_program_only():
    with pytest.raises(NotificationError, match="cannot run '/nonexistent/notify'"):
        CommandNotifier("/nonexistent/notify --token x").send(run_scripted([False])[1].got[0])


@pytest.mark.parametrize(
    "command, refused",
    [
        ("", "the command line is empty"),
        ("   ", "the command line is empty"),
        ("notify 'unbalanced", "cannot split the command line"),
    ],
)
def test_command_line_must_split_into_a_program(command, refused):
    with pytest.raises(ValueError, match=f"^{refused}"):
        CommandNotifier(command)


def test_command_printing_without_end_is_killed_and_costs_no_memory():
    import tracemalloc

    # Given a command that prints as fast as it can on stdout and stderr (like `yes`)
    script = (
        "import sys, threading\n"
        "def spam(stream):\n"
        "    while True: stream.write('y' * 65536 + '\\n')\n"
        "threading.Thread(target=spam, args=(sys.stdout,), daemon=True).start()\n"
        "spam(sys.stderr)\n"
    )
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(NotificationError, match="killed after 0.5 s"):
            CommandNotifier(command, timeout=0.5).send(a_notification())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 3.0
    assert peak < 2_000_000  # the old capture kept hundreds of MB


def test_command_failure_shows_the_last_line_of_a_long_stderr():
    script = (
        "import sys\n"
        "sys.stderr.write(('noise ' * 100 + '\\n') * 5000)\n"
        "sys.stderr.write('the real reason\\n')\n"
        "sys.exit(4)\n"
    )
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"
    with pytest.raises(NotificationError) as failed:
        CommandNotifier(command, timeout=10).send(a_notification())
    assert str(failed.value) == "exit status 4: the real reason"


def test_command_leaving_a_background_child_returns_and_timeout_kills_the_group(tmp_path):
    # A command that exits at once but leaves a child holding its stderr: no wait for the child
    spawn = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3)'])"
    lingering = f"{shlex.quote(sys.executable)} -c {shlex.quote(spawn)}"
    started = time.monotonic()
    CommandNotifier(lingering, timeout=5).send(a_notification())
    assert time.monotonic() - started < 2.0
    # A command whose child outlives the timeout: the whole process group is killed
    pid_file = tmp_path / "pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(30)\n"
    )
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"
    with pytest.raises(NotificationError, match="killed after 1 s"):
        CommandNotifier(command, timeout=1).send(a_notification())
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{grandchild}/stat").read_text()
            state = stat.rsplit(")", 1)[1].split()[0]
        except OSError:
            break  # gone
        if state == "Z":
            break  # killed, not yet reaped by init
        time.sleep(0.05)
    else:
        pytest.fail("the command's child survived the timeout")
