"""``opsgenie-integration sandbox``: the local OpsGenie sandbox, with its own options."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TextIO

from ..sandbox.__main__ import main as sandbox_main


def add_sandbox_parser(sub: Any) -> None:
    """List ``sandbox`` among the actions; its options are the sandbox's own (``--help``)."""
    parser = sub.add_parser(
        "sandbox", help="serve the local OpsGenie sandbox (see --help)", add_help=False
    )
    parser.add_argument("sandbox_args", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=cmd_sandbox)


def cmd_sandbox(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Serve the sandbox until stopped (``main`` passes the arguments untouched instead)."""
    return run_sandbox(args.sandbox_args, stdout, stderr)


def run_sandbox(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """The sandbox's own command line (everything after ``sandbox``)."""
    return sandbox_main(list(argv), stdout=stdout, stderr=stderr)
