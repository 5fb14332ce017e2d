"""Helpers of the sandbox tests (a unique module name: importable beside other conftests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from opsgenie_integration.sandbox import Sandbox

CLOCK = "2024-03-06T12:00:00Z"  # a Wednesday
CLOCK_MS = 1709726400000


class Api(requests.Session):
    """A Session bound to one sandbox region: ``api.get("/v2/alerts", params=...)``."""

    def __init__(self, base: str, key: str | None) -> None:
        super().__init__()
        self.base = base
        if key:
            self.headers["Authorization"] = f"GenieKey {key}"

    def url(self, path: str) -> str:
        return self.base + path

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 10)
        return super().request(
            method, url if url.startswith("http") else self.base + url, *args, **kwargs
        )


def _user(uid: str, username: str, **extra: Any) -> dict[str, Any]:
    user = {
        "blocked": False,
        "verified": True,
        "id": uid,
        "username": username,
        "fullName": username.split("@")[0].replace(".", " ").title(),
        "role": {"id": "User", "name": "User"},
        "timeZone": "Europe/Berlin",
        "locale": "en_US",
        "userAddress": {
            "country": "DE",
            "state": "",
            "city": "Berlin",
            "line": "1 Street",
            "zipCode": "10115",
        },
        "createdAt": "2020-01-01T00:00:00Z",
        "userContacts": [
            {"to": username, "id": f"{uid[:-4]}c0de", "contactMethod": "email", "enabled": True}
        ],
    }
    user.update(extra)
    return user


U_ANNA = "00000000-0000-4000-8000-00000000a001"
U_BEN = "00000000-0000-4000-8000-00000000a002"
U_CARL = "00000000-0000-4000-8000-00000000a003"
U_PLUS = "00000000-0000-4000-8000-00000000a004"
T_OPS = "00000000-0000-4000-8000-00000000b001"
E_OPS = "00000000-0000-4000-8000-00000000c001"
S_OPS = "00000000-0000-4000-8000-00000000d001"
S_NIGHT = "00000000-0000-4000-8000-00000000d002"
S_EMPTY = "00000000-0000-4000-8000-00000000d003"
R_WEEK = "00000000-0000-4000-8000-00000000e001"
R_DAY = "00000000-0000-4000-8000-00000000e002"
R_HOUR = "00000000-0000-4000-8000-00000000e003"


def small_dataset() -> dict[str, Any]:
    """Known data: 4 users, team ``ops`` (anna, ben), escalation ``ops_escalation``, schedules
    ``Ops Team/EU #1`` (weekly anna/ben/escalation from Mon 2024-03-04 00:00 UTC, plus a daily
    team rotation 09:00-17:00 Berlin), ``Équipe Nuit`` (hourly x6: carl, none, user+oncall),
    ``Empty`` (no rotation), and 8 alerts with known fields."""
    users = [
        _user(U_ANNA, "anna@example.com"),
        _user(U_BEN, "ben@example.com", skypeUsername="benb"),
        _user(U_CARL, "carl@example.com"),
        _user(U_PLUS, "user+oncall@example.com"),
    ]
    del users[2]["timeZone"]
    team = {
        "id": T_OPS,
        "name": "ops",
        "description": "Ops",
        "members": [
            {"user": {"id": U_ANNA, "username": "anna@example.com"}, "role": "admin"},
            {"user": {"id": U_BEN, "username": "ben@example.com"}, "role": "user"},
        ],
    }
    escalation = {
        "id": E_OPS,
        "name": "ops_escalation",
        "rules": [
            {
                "notifyType": "default",
                "delay": {"timeAmount": 0},
                "recipient": {"type": "user", "id": U_CARL},
            },
            {
                "notifyType": "all",
                "delay": {"timeAmount": 10},
                "recipient": {"type": "team", "id": T_OPS},
            },
            {
                "notifyType": "next",
                "delay": {"timeAmount": 20},
                "recipient": {"type": "schedule", "id": S_NIGHT},
            },
        ],
    }
    schedules = [
        {
            "id": S_OPS,
            "name": "Ops Team/EU #1",
            "description": "",
            "timezone": "Europe/Berlin",
            "enabled": True,
            "ownerTeam": {"id": T_OPS, "name": "ops"},
            "rotations": [
                {
                    "id": R_WEEK,
                    "name": "Weekly",
                    "startDate": "2024-03-04T00:00:00Z",
                    "type": "weekly",
                    "length": 1,
                    "participants": [
                        {"type": "user", "id": U_ANNA, "username": "anna@example.com"},
                        {"type": "user", "id": U_BEN, "username": "ben@example.com"},
                        {"type": "escalation", "id": E_OPS, "name": "ops_escalation"},
                    ],
                },
                {
                    "id": R_DAY,
                    "name": "Business hours",
                    "startDate": "2024-03-04T00:00:00Z",
                    "type": "daily",
                    "length": 1,
                    "participants": [{"type": "team", "id": T_OPS, "name": "ops"}],
                    "timeRestriction": {
                        "type": "time-of-day",
                        "restriction": {"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0},
                    },
                },
            ],
            "overrides": [
                {
                    "user": {"type": "user", "id": U_CARL, "username": "carl@example.com"},
                    "startDate": "2024-03-07T10:00:00Z",
                    "endDate": "2024-03-07T12:00:00Z",
                    "rotations": [{"id": R_WEEK}],
                }
            ],
        },
        {
            "id": S_NIGHT,
            "name": "Équipe Nuit",
            "description": "",
            "timezone": "UTC",
            "enabled": True,
            "rotations": [
                {
                    "id": R_HOUR,
                    "name": "Six hours",
                    "startDate": "2024-03-01T00:00:00Z",
                    "endDate": "2024-04-01T00:00:00Z",
                    "type": "hourly",
                    "length": 6,
                    "participants": [
                        {"type": "user", "id": U_CARL, "username": "carl@example.com"},
                        {"type": "none"},
                        {"type": "user", "id": U_PLUS, "username": "user+oncall@example.com"},
                    ],
                }
            ],
        },
        {
            "id": S_EMPTY,
            "name": "Empty",
            "description": "",
            "timezone": "UTC",
            "enabled": True,
            "rotations": [],
        },
    ]
    base = CLOCK_MS - 10 * 3_600_000
    alerts = []
    specs = [
        # (message, status, ack, priority, tags, count, source, owner, created offset h, updated offset h)
        ("Disk full on db-01", "open", False, "P1", ["database", "prod"], 1, "nagios", "", 0, 1),
        (
            "CPU high on web-01",
            "open",
            True,
            "P2",
            ["prod"],
            5,
            "prometheus",
            "anna@example.com",
            1,
            2,
        ),
        ("CPU high on web-02", "closed", True, "P3", [], 12, "prometheus", "ben@example.com", 2, 3),
        ("Backup failed", "open", False, "P4", ["backup", "tag with spaces"], 2, "cron", "", 3, 3),
        ("Certificate expires soon", "closed", False, "P5", ["web"], 1, "certbot", "", 4, 6),
        (
            "Disk almost full on web-03",
            "open",
            False,
            "P3",
            ["prod", "web"],
            40,
            "nagios",
            "",
            5,
            6,
        ),
        ("Unknown priority alert", "open", False, "P9", [], 3, "custom", "", 6, 7),
        ("Our servers are in danger", "open", False, "P1", ["Critical"], 79, "Isengard", "", 7, 8),
    ]
    for i, (message, status, ack, prio, tags, count, source, owner, c, u) in enumerate(specs):
        alerts.append(
            {
                "id": f"alert-{i}",
                "tinyId": str(101 + i),
                "alias": f"alias-{i}",
                "message": message,
                "status": status,
                "acknowledged": ack,
                "isSeen": ack,
                "tags": tags,
                "snoozed": False,
                "count": count,
                "createdAt": base + c * 3_600_000,
                "updatedAt": base + u * 3_600_000,
                "lastOccurredAt": base + c * 3_600_000,
                "source": source,
                "owner": owner,
                "priority": prio,
                "teams": [{"id": T_OPS}] if i % 2 == 0 else [],
                "responders": [],
                "integration": {"id": "int-1", "name": "API", "type": "API"},
                "entity": f"host-{i}",
                "description": f"description {i}",
            }
        )
    return {
        "users": users,
        "teams": [team],
        "escalations": [escalation],
        "schedules": schedules,
        "alerts": alerts,
    }


def make_api(sb: Sandbox, key: str | None = None, region: str | None = None) -> Api:
    """A session on ``region`` (default: the first) with ``key`` (default: the full-rights key)."""
    return Api(sb.url_for(region) if region else sb.url, key if key is not None else sb.api_key)


REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """``$OPSGENIE_SHARED_DIR``, else ``<repo>/../shared``; skips the test when it is absent (fails
    instead when ``OPSGENIE_REQUIRE_SHARED=1``)."""
    path = Path(os.environ.get("OPSGENIE_SHARED_DIR") or (REPO.parent / "shared")).resolve()
    if not (path / "opsgenie" / "openapi" / "opsgenie-v2-subset.openapi3.json").is_file():
        reason = f"OpenAPI conformance skipped: the shared folder {path} is absent (set OPSGENIE_SHARED_DIR)"
        if os.environ.get("OPSGENIE_REQUIRE_SHARED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
