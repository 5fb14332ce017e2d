"""``opsgenie-integration commands [--json]``: the commands with their inputs."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ..integration import Integration
from .output import ExitStatus, print_json


def add_commands_parser(sub: Any) -> None:
    """Add the ``commands`` subcommand to the CLI's subparsers."""
    listing = sub.add_parser("commands", help="list the commands with their inputs")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=cmd_commands)


def cmd_commands(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Print every command: name, id, right needed, inputs (as text, or JSON with ``--json``)."""
    integration = Integration.load()
    rights = integration.manifest.rights
    if args.json:
        print_json(
            stdout,
            [
                {
                    "name": c.name,
                    "id": c.id,
                    "description": c.description,
                    "right": rights.get(c.right, c.right),
                    "inputs": [
                        {
                            "title": p.title,
                            "id": p.id,
                            "required": p.required,
                            "default": p.default,
                            "example": p.example,
                            "description": p.description,
                        }
                        for p in c.inputs
                    ],
                    "outputs": [dict(o) for o in c.outputs],
                }
                for c in integration.commands
            ],
        )
        return ExitStatus.SUCCESSFUL
    lines = []
    for command in integration.commands:
        if command.right == "none":
            needs = "checks the key and every right"
        else:
            needs = f"needs {rights.get(command.right, command.right)}"
        lines.append(f"{command.name} ({command.id}) - {needs}")
        lines.append(f"    {command.description.split('. ')[0].rstrip('.')}.")
        if not command.inputs:
            lines.append("    inputs: none")
        for p in command.inputs:
            if p.required:
                flags = "required"
            elif p.default is not None:
                flags = f"default {p.default}"
            else:
                flags = "optional"
            lines.append(f'    --param "{p.title}=..." ({p.id}; {flags}; e.g. {p.example})')
        lines.append("")
    stdout.write("\n".join(lines))
    stdout.flush()
    return ExitStatus.SUCCESSFUL
