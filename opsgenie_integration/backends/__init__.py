"""Backends: the seam the commands call (``base.AlertBackend``) and its implementations.

- OpsGenie REST API v2: ``client.OpsGenieClient`` (GenieKey);
- Jira Service Management Operations: ``backends.jsm.JsmBackend`` over ``backends.jsm.JsmClient``
  (Basic authentication). Fetch Event reads its window along updatedAt where ``list_alerts``
  sorts by it (``commands.fetch_window``), in passes otherwise (``commands.fetch_passes``).
"""

from __future__ import annotations

from .base import PLATFORMS, AlertBackend, check_platform

__all__ = ["PLATFORMS", "AlertBackend", "check_platform"]
