"""Backends: the seam the commands call (``base.AlertBackend``) and its implementations.

- OpsGenie REST API v2: ``client.OpsGenieClient`` (GenieKey);
- Jira Service Management Operations: ``backends.jsm.JsmBackend`` over ``backends.jsm.JsmClient``
  (Basic authentication), with Fetch Event's window in ``backends.jsm_fetch``.
"""

from __future__ import annotations

from .base import PLATFORMS, AccessCheck, AlertBackend, check_platform

__all__ = ["PLATFORMS", "AccessCheck", "AlertBackend", "check_platform"]
