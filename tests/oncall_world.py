"""A small known world for the who-is-on-call command tests, served by the sandbox.

Users: jane (Jane Smith), omar, carl, bob, ana, eve, nina (never on call).
Teams: ``ops`` (jane, omar), ``Night Owls`` (ana, bob).
Escalation ``Ops escalation``: eve at 0 min, then team Night Owls at 10 min.
Schedules:
- ``Ops Team/EU #1`` (Europe/Berlin, owned by ops):
  ``Primary`` daily from 2026-10-19T07:00Z (09:00 Berlin): jane, omar, jane, ... The clocks go
  back on 2026-10-25 (03:00 CEST -> 02:00 CET at 01:00Z), so the 09:00 hand-off is at 07:00Z
  up to 10-24 and at 08:00Z from 10-25 on;
  ``Backup`` weekly from the same instant: escalation Ops escalation (week of 10-19), then team
  Night Owls (week of 10-26, from 2026-10-26T08:00Z).
- ``Database On Call`` (UTC, owned by Night Owls): 12-hour slots from 2026-10-19T00:00Z: carl,
  bob.
- ``Empty`` (UTC, no owner, no rotation).
The sandbox clock is fixed at CLOCK.
"""

from __future__ import annotations

from typing import Any

CLOCK = "2026-10-20T06:00:00Z"
U = {
    name: f"00000000-0000-4000-8000-0000000{i:05d}"
    for i, name in enumerate(["jane", "omar", "carl", "bob", "ana", "eve", "nina"], start=1)
}
USERNAME = {name: f"{name}@example.com" for name in U}
USERNAME["jane"] = "jane.smith@example.com"
FULL_NAME = {name: name.title() for name in U}
FULL_NAME["jane"] = "Jane Smith"
T_OPS = "00000000-0000-4000-8000-0000000b0001"
T_OWLS = "00000000-0000-4000-8000-0000000b0002"
E_OPS = "00000000-0000-4000-8000-0000000c0001"
S_OPS = "00000000-0000-4000-8000-0000000d0001"
S_DB = "00000000-0000-4000-8000-0000000d0002"
S_EMPTY = "00000000-0000-4000-8000-0000000d0003"


def _user(name: str) -> dict[str, Any]:
    return {
        "id": U[name],
        "username": USERNAME[name],
        "fullName": FULL_NAME[name],
        "role": {"id": "User", "name": "User"},
        "blocked": False,
        "verified": True,
        "timeZone": "Europe/Berlin",
        "locale": "en_US",
        "createdAt": "2020-01-01T00:00:00Z",
        "userContacts": [],
    }


def _ref(name: str) -> dict[str, Any]:
    return {"type": "user", "id": U[name], "username": USERNAME[name]}


def _member(name: str, role: str = "user") -> dict[str, Any]:
    return {"user": {"id": U[name], "username": USERNAME[name]}, "role": role}


def world() -> dict[str, Any]:
    """The data file content (``Sandbox(data_file=...)``)."""
    return {
        "users": [_user(n) for n in U],
        "teams": [
            {
                "id": T_OPS,
                "name": "ops",
                "description": "Operations",
                "members": [_member("jane", "admin"), _member("omar")],
            },
            {
                "id": T_OWLS,
                "name": "Night Owls",
                "description": "Nights | weekends",
                "members": [_member("ana", "admin"), _member("bob")],
            },
        ],
        "escalations": [
            {
                "id": E_OPS,
                "name": "Ops escalation",
                "description": "Page eve, then the owls",
                "ownerTeam": {"id": T_OPS, "name": "ops"},
                "rules": [
                    {
                        "condition": "if-not-acked",
                        "notifyType": "default",
                        "delay": {"timeAmount": 0, "timeUnit": "minutes"},
                        "recipient": {"type": "user", "id": U["eve"]},
                    },
                    {
                        "condition": "if-not-acked",
                        "notifyType": "all",
                        "delay": {"timeAmount": 10, "timeUnit": "minutes"},
                        "recipient": {"type": "team", "id": T_OWLS},
                    },
                ],
                "repeat": {
                    "waitInterval": 0,
                    "count": 0,
                    "resetRecipientStates": False,
                    "closeAlertAfterAll": False,
                },
            }
        ],
        "schedules": [
            {
                "id": S_OPS,
                "name": "Ops Team/EU #1",
                "description": "EU operations",
                "timezone": "Europe/Berlin",
                "enabled": True,
                "ownerTeam": {"id": T_OPS, "name": "ops"},
                "rotations": [
                    {
                        "id": "00000000-0000-4000-8000-0000000e0001",
                        "name": "Primary",
                        "startDate": "2026-10-19T07:00:00Z",
                        "type": "daily",
                        "length": 1,
                        "participants": [_ref("jane"), _ref("omar")],
                    },
                    {
                        "id": "00000000-0000-4000-8000-0000000e0002",
                        "name": "Backup",
                        "startDate": "2026-10-19T07:00:00Z",
                        "type": "weekly",
                        "length": 1,
                        "participants": [
                            {"type": "escalation", "id": E_OPS, "name": "Ops escalation"},
                            {"type": "team", "id": T_OWLS, "name": "Night Owls"},
                        ],
                    },
                ],
            },
            {
                "id": S_DB,
                "name": "Database On Call",
                "description": "",
                "timezone": "UTC",
                "enabled": True,
                "ownerTeam": {"id": T_OWLS, "name": "Night Owls"},
                "rotations": [
                    {
                        "id": "00000000-0000-4000-8000-0000000e0003",
                        "name": "Twelve hours",
                        "startDate": "2026-10-19T00:00:00Z",
                        "type": "hourly",
                        "length": 12,
                        "participants": [_ref("carl"), _ref("bob")],
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
        ],
        "alerts": [],
    }
