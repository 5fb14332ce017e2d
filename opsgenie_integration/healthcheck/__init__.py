"""The health check: Test Connection on a schedule, with notifications.

```
opsgenie-integration health-check --interval MINUTES [--count N] [--connection FILE | --sandbox]
    [--notify-each-failure] [--notify-timeout S]
    [--smtp-host H [--smtp-port P] [--smtp-starttls] [--smtp-user U --smtp-password-ref REF]
     --mail-from A --mail-to B...]
    [--webhook URL]... [--exec "COMMAND"]...
```

Every ``--interval`` minutes (a float; the platform's settings count in minutes) it runs Test
Connection, writes one line per result on stderr and notifies on every change of state: passed to
failed (or a first check that fails) and failed to passed; with ``--notify-each-failure`` also on
every further failed check. Notifiers: e-mail over SMTP, a webhook POST and a command run without a
shell; each gets the Test Connection envelope (the API key already hidden) with a
``health_check`` key added (see ``Notification.payload``). A notifier that fails is reported on
stderr and counted; it never stops the other notifiers or the loop. ``--notify-timeout`` bounds
each notification in total time (whatever the other side does: a trickle of SMTP reply lines or
webhook headers is cut off by the watchdog) and memory (capped SMTP replies, webhook answer and
command stderr; a command's stdout is discarded).

At the end (``--count`` reached, SIGINT or SIGTERM) it prints one JSON summary line on stdout:
``{"checks", "passed", "failed", "state_changes", "notifications_sent", "notifications_failed",
"last_result", "stopped_by"}``. Exit status: 0 when the last check passed, 1 otherwise, 2 for a
usage error.

The connection is resolved again for every check (a rotated key or vault secret is picked up; an
unresolvable reference is a failed check like any other).

Every way out (result lines, each notifier's message, webhook body, command stdin and the child's
environment) goes through one ``redact.Redactor``: ``Integration.redactor_for(settings)``, shared
by ``connect``/``run``, the CLI's log filter, ``Notification`` and every notifier.

Modules: ``notification`` (what a notifier gets and the shared limits), ``check``
(``TestConnectionCheck``), ``loop`` (``HealthCheck``, ``Summary``), ``notifiers/`` (``email``,
``webhook``, ``command``). The command line is ``cli/health_check.py``.
"""

from __future__ import annotations

from ..envelope import TEST_CONNECTION
from .check import TestConnectionCheck
from .loop import CheckResult, HealthCheck, Summary
from .notification import (
    DEFAULT_NOTIFY_TIMEOUT,
    EVENT_FAILED,
    EVENT_RECOVERED,
    EVENT_STILL_FAILING,
    FAILED,
    MAX_INTERVAL_MINUTES,
    MAX_NOTIFY_TIMEOUT,
    PASSED,
    Notification,
    NotificationError,
    Notifier,
    check_notify_timeout,
    safe_url,
)
from .notifiers import CommandNotifier, EmailNotifier, WebhookNotifier

__all__ = [
    "DEFAULT_NOTIFY_TIMEOUT",
    "EVENT_FAILED",
    "EVENT_RECOVERED",
    "EVENT_STILL_FAILING",
    "FAILED",
    "MAX_INTERVAL_MINUTES",
    "MAX_NOTIFY_TIMEOUT",
    "PASSED",
    "TEST_CONNECTION",
    "CheckResult",
    "CommandNotifier",
    "EmailNotifier",
    "HealthCheck",
    "Notification",
    "NotificationError",
    "Notifier",
    "Summary",
    "TestConnectionCheck",
    "WebhookNotifier",
    "check_notify_timeout",
    "safe_url",
]
