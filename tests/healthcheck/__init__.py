"""Tests of the health check (a package: its conftest never shadows tests/conftest.py)."""
