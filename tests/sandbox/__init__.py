"""Tests of the embedded OpsGenie sandbox (a package: its conftest never shadows tests/conftest.py)."""
