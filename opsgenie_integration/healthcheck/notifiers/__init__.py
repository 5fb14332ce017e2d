"""The notifiers: e-mail over SMTP, a webhook POST, a command run without a shell."""

from __future__ import annotations

from .command import CommandNotifier
from .email import EmailNotifier
from .webhook import WebhookNotifier

__all__ = ["CommandNotifier", "EmailNotifier", "WebhookNotifier"]
