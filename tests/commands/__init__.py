"""Tests of the built-in commands (``opsgenie_integration/commands/``), one module per family."""
