"""A fixed schedule timeline for the shift, readable-text and picture tests.

Schedule ``Ops Team/EU #1`` (Europe/Berlin), window 2024-03-04T00:00Z .. 2024-03-06T00:00Z, now
2024-03-04T12:00Z:
- rotation ``Primary``: jane 00:00-08:00Z and 08:00-17:00Z (two touching periods: one shift),
  an override by carl 17:00-18:00Z, jane again 18:00Z-03-05T00:00Z (a separate shift: the
  override lies between), then a forwarding from jane to omar 03-05T00:00-12:00Z, then jane
  until the end;
- rotation ``Backup | night``: team ``ops`` 03-04T20:00Z-03-05T06:00Z, a historical period of
  bob 03-04T00:00-06:00Z, a ``none`` period (nobody) 06:00-08:00Z;
- rotation ``Empty``: no period.
"""

from __future__ import annotations

from typing import Any

JANE = {"id": "u-jane", "type": "user", "name": "jane.smith@example.com"}
CARL = {"id": "u-carl", "type": "user", "name": "carl@example.com"}
OMAR = {"id": "u-omar", "type": "user", "name": "omar@example.com"}
BOB = {"id": "u-bob", "type": "user", "name": "bob@example.com"}
OPS = {"id": "t-ops", "type": "team", "name": "ops"}
NOW = "2024-03-04T12:00:00Z"
NOW_MS = 1709553600000
START_MS = 1709510400000  # 2024-03-04T00:00:00Z
END_MS = 1709683200000  # 2024-03-06T00:00:00Z


def _p(start: str, end: str, recipient: dict, kind: str = "default", **extra: Any) -> dict:
    return {"startDate": start, "endDate": end, "type": kind, "recipient": dict(recipient), **extra}


def timeline_data() -> dict[str, Any]:
    """The ``data`` of a ``GET /v2/schedules/{id}/timeline`` answer (see the module docstring)."""
    return {
        "_parent": {"id": "s-ops", "name": "Ops Team/EU #1", "enabled": True},
        "startDate": "2024-03-04T00:00:00Z",
        "endDate": "2024-03-06T00:00:00Z",
        "finalTimeline": {
            "rotations": [
                {
                    "id": "r-primary",
                    "name": "Primary",
                    "order": 1.0,
                    "periods": [
                        _p("2024-03-04T00:00:00Z", "2024-03-04T08:00:00.000Z", JANE),
                        _p("2024-03-04T08:00:00Z", "2024-03-04T17:00:00Z", JANE),
                        _p("2024-03-04T17:00:00Z", "2024-03-04T18:00:00Z", CARL, "override"),
                        _p("2024-03-04T18:00:00Z", "2024-03-05T00:00:00Z", JANE),
                        _p(
                            "2024-03-05T00:00:00Z",
                            "2024-03-05T12:00:00Z",
                            OMAR,
                            "forwarding",
                            fromUser="jane.smith@example.com",
                        ),
                        _p("2024-03-05T12:00:00Z", "2024-03-06T00:00:00Z", JANE),
                    ],
                },
                {
                    "id": "r-backup",
                    "name": "Backup | night",
                    "order": 2.0,
                    "periods": [
                        _p(
                            "2024-03-04T00:00:00Z",
                            "2024-03-04T06:00:00Z",
                            BOB,
                            "historical",
                            flattenedRecipients=[BOB],
                        ),
                        _p("2024-03-04T06:00:00Z", "2024-03-04T08:00:00Z", {"type": "none"}),
                        _p("2024-03-04T20:00:00Z", "2024-03-05T06:00:00Z", OPS),
                    ],
                },
                {"id": "r-empty", "name": "Empty", "order": 3.0, "periods": []},
            ]
        },
    }
