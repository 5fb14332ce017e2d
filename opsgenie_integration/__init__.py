"""opsgenie-integration: a SOAR integration module for Atlassian OpsGenie.

Public API::

    from opsgenie_integration import Integration
    integration = Integration.load()
    envelope = integration.run("Get Schedules", {}, {"api_key": "env:OPSGENIE_API_KEY"})

Imports are lazy so that ``import opsgenie_integration`` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Integration", "Connection", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Integration", "Connection"):
        from . import integration  # lazy: start-up (`import opsgenie_integration` stays cheap)

        return getattr(integration, name)
    raise AttributeError(f"module 'opsgenie_integration' has no attribute {name!r}")
