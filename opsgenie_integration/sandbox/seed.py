"""The seeded, deterministic data set (same seed and clock -> same data) and data-file loading.

Everything is placed relative to the sandbox clock ``now_ms`` (epoch ms, UTC): alerts are created
and updated over the 7 days before it; rotations start on a UTC midnight 28 days before it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from .alerts import Alert
from .store import DataSet
from .timefmt import format_ts

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS

_FIRST = ["john", "jane", "ali", "mei", "olga", "raj", "sara", "tom", "lena", "omar", "yuki", "ana",
          "piotr", "nia", "carlos", "eva", "kofi", "ines"]  # fmt: skip
_LAST = ["doe", "smith", "khan", "chen", "ivanova", "patel", "berg", "novak", "silva", "müller",
         "tanaka", "okafor"]  # fmt: skip
_TIME_ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/Paris", "UTC",
               "America/Los_Angeles", "Europe/Kirov", "Africa/Monrovia"]  # fmt: skip
_SOURCES = ["Isengard", "Zion", "prometheus", "datadog", "192.168.0.12", "cloudwatch", "nagios"]
_ENTITIES = ["web-01", "web-02", "web-03", "db-01", "db-02", "cache-01", "lb-01", "queue-01"]
_CHECKS = [
    ("CPU usage above 90% on {e}", "cpu"),
    ("Disk /var almost full on {e}", "disk"),
    ("Memory pressure on {e}", "memory"),
    ("HTTP 5xx rate high on {e}", "http"),
    ("Replication lag on {e}", "replication"),
    ("Certificate expires soon on {e}", "certificate"),
    ("Host {e} is down", "ping"),
    ("Our servers are in danger", "danger"),
    ("Backup job failed on {e}", "backup"),
    ("Latency p99 over 2s on {e}", "latency"),
]
_TAGS = ["Critical", "OverwriteQuietHours", "network", "database", "prod", "staging",
         "customer-facing", "EU", "tag with spaces"]  # fmt: skip
_PRIORITIES = ["P1", "P2", "P3", "P3", "P3", "P4", "P4", "P5"]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def _people(rng: random.Random, now_ms: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    users: list[dict[str, Any]] = []
    names = [(f, _LAST[i % len(_LAST)]) for i, f in enumerate(_FIRST)]
    for i, (first, last) in enumerate(names):
        username = f"{first}.{last}@example.com".replace("ü", "u")
        users.append(_user(rng, i, username, f"{first.title()} {last.title()}", now_ms))
    users.append(_user(rng, len(users), "user+oncall@example.com", "On-call Robot", now_ms))
    users.append(_user(rng, len(users), "noëlle.dupré@example.com", "Noëlle Dupré", now_ms))
    teams: list[dict[str, Any]] = []
    team_names = ["ops_team", "Platform", "Database", "Équipe Nuit", "Security", "Networking"]
    for t, name in enumerate(team_names):
        members = [users[(t * 3 + k) % len(users)] for k in range(3 + t % 2)]
        if name == "Équipe Nuit":
            members.append(users[-2])  # user+oncall@example.com
        teams.append(
            {
                "id": _uuid(rng),
                "name": name,
                "description": f"{name} team",
                "members": [
                    {
                        "user": {"id": u["id"], "username": u["username"]},
                        "role": "admin" if k == 0 else "user",
                    }
                    for k, u in enumerate(members)
                ],
            }
        )
    return users, teams


def _user(rng: random.Random, i: int, username: str, full_name: str, now_ms: int) -> dict[str, Any]:
    uid = _uuid(rng)
    user: dict[str, Any] = {
        "blocked": i % 11 == 7,
        "verified": i % 3 != 0,
        "id": uid,
        "username": username,
        "fullName": full_name,
        "role": {"id": "Admin", "name": "Admin"} if i % 5 == 0 else {"id": "User", "name": "User"},
    }
    if i % 4 == 1:
        user["skypeUsername"] = username.split("@")[0].replace(".", "")
    if i % 4 != 3:  # some users have no time zone (the account's applies)
        user["timeZone"] = _TIME_ZONES[i % len(_TIME_ZONES)]
    user["locale"] = ["en_US", "de_DE", "fr_FR", "ja_JP"][i % 4]
    user["tags"] = [["oncall"], ["oncall", "dba"], [], ["manager"]][i % 4]
    user["userAddress"] = {
        "country": ["US", "DE", "FR", "JP"][i % 4],
        "state": "",
        "city": ["Terre Haute", "Berlin", "Lyon", "Osaka"][i % 4],
        "line": f"{100 + i} Main Street",
        "zipCode": f"{47802 + i}",
    }
    user["details"] = {"department": [["SRE"], ["DBA"], ["Security"], ["NetOps"]][i % 4]}
    user["createdAt"] = format_ts(now_ms - (400 + i * 17) * DAY_MS - rng.randrange(DAY_MS))
    contacts = [{"to": username, "id": _uuid(rng), "contactMethod": "email", "enabled": True}]
    if i % 2 == 0:
        contacts.append(
            {
                "to": f"1-555-01{i:02d}",
                "id": _uuid(rng),
                "contactMethod": "sms",
                "enabled": i % 6 != 4,
            }
        )
    if i % 3 == 0:
        contacts.append(
            {"to": f"1-555-02{i:02d}", "id": _uuid(rng), "contactMethod": "voice", "enabled": True}
        )
    if i % 5 == 2:
        contacts.append(
            {
                "to": f"{username.split('@')[0]}-phone",
                "id": _uuid(rng),
                "contactMethod": "mobile",
                "enabled": False,
                "disabledReason": "Mobile app logged out",
            }
        )
    user["userContacts"] = contacts
    return user


def _ref_user(u: dict[str, Any]) -> dict[str, Any]:
    return {"type": "user", "id": u["id"], "username": u["username"]}


def _ref_team(t: dict[str, Any]) -> dict[str, Any]:
    return {"type": "team", "id": t["id"], "name": t["name"]}


def _schedules(
    rng: random.Random,
    now_ms: int,
    users: list[dict[str, Any]],
    teams: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    team = {t["name"]: t for t in teams}
    midnight = now_ms - now_ms % DAY_MS
    start = format_ts(midnight - 4 * WEEK_MS)
    oncall_user = next(u for u in users if u["username"] == "user+oncall@example.com")

    def sched(
        name: str, tz: str, owner: str | None, rotations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        s: dict[str, Any] = {
            "id": _uuid(rng),
            "name": name,
            "description": f"{name} schedule",
            "timezone": tz,
            "enabled": True,
        }
        if owner:
            s["ownerTeam"] = {"id": team[owner]["id"], "name": owner}
        for r in rotations:
            r.setdefault("id", _uuid(rng))
        s["rotations"] = rotations
        return s

    ops = sched(
        "Ops Team/EU #1",
        "Europe/Berlin",
        "ops_team",
        [
            {
                "name": "Weekly primary",
                "startDate": start,
                "type": "weekly",
                "length": 1,
                "participants": [_ref_user(users[0]), _ref_user(users[1]), _ref_user(users[2])],
            },
            {
                "name": "Business hours backup",
                "startDate": start,
                "type": "daily",
                "length": 1,
                "participants": [_ref_team(team["ops_team"]), _ref_user(users[3])],
                "timeRestriction": {
                    "type": "time-of-day",
                    "restriction": {"startHour": 8, "startMin": 0, "endHour": 18, "endMin": 30},
                },
            },
        ],
    )
    nuit = sched(
        "Équipe Nuit",
        "Europe/Paris",
        "Équipe Nuit",
        [
            {
                "name": "Nuit",
                "startDate": start,
                "type": "daily",
                "length": 2,
                "participants": [_ref_user(oncall_user), _ref_user(users[-1]), _ref_user(users[4])],
            }
        ],
    )
    platform = sched(
        "Platform Primary",
        "UTC",
        "Platform",
        [
            {
                "name": "Six hours",
                "startDate": start,
                "type": "hourly",
                "length": 6,
                "participants": [_ref_user(users[5]), {"type": "none"}, _ref_user(users[6])],
            }
        ],
    )
    escalations = [
        {
            "id": _uuid(rng),
            "name": "Database_escalation",
            "description": "Database escalation",
            "ownerTeam": {"id": team["Database"]["id"], "name": "Database"},
            "rules": [],
            "repeat": {
                "waitInterval": 10,
                "count": 1,
                "resetRecipientStates": False,
                "closeAlertAfterAll": False,
            },
        },
        {
            "id": _uuid(rng),
            "name": "Security_escalation",
            "description": "Security escalation",
            "ownerTeam": {"id": team["Security"]["id"], "name": "Security"},
            "rules": [
                {
                    "condition": "if-not-acked",
                    "notifyType": "default",
                    "delay": {"timeAmount": 0, "timeUnit": "minutes"},
                    "recipient": _ref_user(users[9]),
                },
                {
                    "condition": "if-not-acked",
                    "notifyType": "all",
                    "delay": {"timeAmount": 15, "timeUnit": "minutes"},
                    "recipient": _ref_team(team["Security"]),
                },
            ],
        },
    ]
    database = sched(
        "Database On Call",
        "America/New_York",
        "Database",
        [
            {
                "name": "DBA weekly",
                "startDate": start,
                "type": "weekly",
                "length": 1,
                "participants": [
                    _ref_user(users[7]),
                    {
                        "type": "escalation",
                        "id": escalations[0]["id"],
                        "name": escalations[0]["name"],
                    },
                ],
            }
        ],
    )
    escalations[0]["rules"] = [
        {
            "condition": "if-not-acked",
            "notifyType": "default",
            "delay": {"timeAmount": 0, "timeUnit": "minutes"},
            "recipient": {"type": "schedule", "id": ops["id"], "name": ops["name"]},
        },
        {
            "condition": "if-not-acked",
            "notifyType": "next",
            "delay": {"timeAmount": 5, "timeUnit": "minutes"},
            "recipient": {"type": "schedule", "id": ops["id"], "name": ops["name"]},
        },
        {
            "condition": "if-not-acked",
            "notifyType": "all",
            "delay": {"timeAmount": 10, "timeUnit": "minutes"},
            "recipient": _ref_team(team["Database"]),
        },
    ]
    unowned = sched(
        "No Owner Schedule",
        "Asia/Tokyo",
        None,
        [
            {
                "name": "Networking days",
                "startDate": start,
                "type": "daily",
                "length": 1,
                "participants": [_ref_team(team["Networking"]), _ref_user(users[8])],
            }
        ],
    )
    empty = sched("Empty Schedule", "Europe/Kirov", "Security", [])
    weekend = sched(
        "Security Weekend",
        "America/Los_Angeles",
        "Security",
        [
            {
                "name": "Weekend",
                "startDate": start,
                "type": "weekly",
                "length": 1,
                "participants": [
                    {
                        "type": "escalation",
                        "id": escalations[1]["id"],
                        "name": escalations[1]["name"],
                    },
                    _ref_user(users[10]),
                ],
                "timeRestriction": {
                    "type": "weekday-and-time-of-day",
                    "restrictions": [
                        {
                            "startDay": "saturday",
                            "startHour": 0,
                            "startMin": 0,
                            "endDay": "monday",
                            "endHour": 0,
                            "endMin": 0,
                        }
                    ],
                },
            },
            {
                "name": "Ended rotation",
                "startDate": format_ts(midnight - 10 * WEEK_MS),
                "endDate": format_ts(midnight - 6 * WEEK_MS),
                "type": "daily",
                "length": 1,
                "participants": [_ref_user(users[11])],
            },
        ],
    )
    ops["overrides"] = [
        {
            "alias": "ops-override-1",
            "user": _ref_user(users[12]),
            "startDate": format_ts(midnight + DAY_MS + 9 * 3_600_000),
            "endDate": format_ts(midnight + DAY_MS + 17 * 3_600_000),
            "rotations": [{"id": ops["rotations"][0]["id"], "name": ops["rotations"][0]["name"]}],
        }
    ]
    forwardings = [
        {
            "id": _uuid(rng),
            "alias": "vacation-forwarding",
            "fromUser": {"id": users[5]["id"], "username": users[5]["username"]},
            "toUser": {"id": users[13]["id"], "username": users[13]["username"]},
            "startDate": format_ts(midnight + 2 * DAY_MS),
            "endDate": format_ts(midnight + 4 * DAY_MS),
        }
    ]
    schedules = [ops, nuit, platform, database, unowned, empty, weekend]
    return schedules, escalations, forwardings


SEEDED_SAVED_SEARCHES = (
    ("Open P1 alerts", "status:open AND priority:P1", "ops_team"),
    ("Database alerts", "teams:Database", "Database"),
    ("Ops Team/EU #1 unacknowledged", "acknowledged:false AND teams:ops_team", "ops_team"),
    ("Critical or network", "tag:(Critical OR network)", None),
)
"""The seeded saved searches: (name, query, team name sharing it or None)."""


def _saved_searches(
    rng: random.Random, now_ms: int, users: list[dict[str, Any]], teams: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    by_name = {t["name"]: t for t in teams}
    out: list[dict[str, Any]] = []
    for i, (name, query, team) in enumerate(SEEDED_SAVED_SEARCHES):
        created = now_ms - (90 - i) * DAY_MS
        out.append(
            {
                "id": _uuid(rng),
                "name": name,
                "createdAt": format_ts(created),
                "updatedAt": format_ts(created + 3_600_000),
                "owner": {"id": users[i]["id"], "username": users[i]["username"]},
                "teams": [{"id": by_name[team]["id"], "name": team}] if team else [],
                "description": f"Seeded saved search: {query}",
                "query": query,
            }
        )
    return out


def seed_data(alerts: int, seed: int, now_ms: int) -> DataSet:
    """The seeded data set: ``alerts`` alerts plus users, teams, escalations, schedules, a
    forwarding and saved searches (SEEDED_SAVED_SEARCHES), deterministic for a given
    ``(seed, now_ms)``."""
    rng = random.Random(f"opsgenie-sandbox:{seed}")
    users, teams = _people(rng, now_ms)
    schedules, escalations, forwardings = _schedules(rng, now_ms, users, teams)
    searches_rng = random.Random(f"opsgenie-sandbox-saved-searches:{seed}")
    data = DataSet(
        users=users,
        teams=teams,
        escalations=escalations,
        schedules=schedules,
        forwardings=forwardings,
        saved_searches=_saved_searches(searches_rng, now_ms, users, teams),
        account={
            "name": "opsgenie-sandbox",
            "plan": {"maxUserCount": 1500, "name": "Enterprise", "isYearly": True},
        },
    )
    data.alerts = seed_alerts(
        alerts, random.Random(f"opsgenie-sandbox-alerts:{seed}"), now_ms, data
    )
    return data


def _rounded(rng: random.Random, ms: int) -> tuple[int, int]:
    """Vary the rendered fraction digits: ms -> (ms, sub-ms ns)."""
    roll = rng.random()
    if roll < 0.05:
        return ms - ms % 1000, 0  # ...:02Z
    if roll < 0.10:
        return ms - ms % 100, 0  # ...:41.9Z
    if roll < 0.20:
        return ms - ms % 10, 0  # ...:41.03Z
    if roll < 0.23:
        return ms, rng.randrange(1, 1_000_000)  # 4 to 9 digits
    return ms, 0


def seed_alerts(count: int, rng: random.Random, now_ms: int, data: DataSet) -> list[Alert]:
    """``count`` alerts created and updated over the 7 days before ``now_ms``, in creation order
    (tinyId 1..count), with some createdAt/updatedAt ties on the same millisecond."""
    rand = rng.random
    randrange = rng.randrange
    created_list: list[int] = []
    for _ in range(count):
        if created_list and rand() < 0.03:
            created_list.append(created_list[-1])  # same-millisecond tie
        else:
            created_list.append(now_ms - 1 - randrange(WEEK_MS))
    created_list.sort()
    usernames = [u["username"] for u in data.users]
    teams = data.teams
    responder_pool = (
        [("user", u["id"]) for u in data.users[:8]]
        + [("team", t["id"]) for t in teams]
        + [("escalation", e["id"]) for e in data.escalations]
        + [("schedule", s["id"]) for s in data.schedules[:3]]
    )
    integrations = [
        {"id": _uuid(rng), "name": "API", "type": "API"},
        {"id": _uuid(rng), "name": "Prometheus prod", "type": "Prometheus"},
        {"id": _uuid(rng), "name": "My_Lovely_Amazon", "type": "CloudWatch"},
        {"id": _uuid(rng), "name": "Datadog EU", "type": "Datadog"},
    ]
    out: list[Alert] = []
    last_updated = now_ms - WEEK_MS
    n_entities, n_checks, n_sources = len(_ENTITIES), len(_CHECKS), len(_SOURCES)
    n_users, n_teams, n_tags = len(usernames), len(teams), len(_TAGS)
    for seq, created_raw in enumerate(created_list):
        created, created_sub = _rounded(rng, created_raw)
        entity = _ENTITIES[int(rand() * n_entities)]
        template, check = _CHECKS[int(rand() * n_checks)]
        source = _SOURCES[int(rand() * n_sources)]
        closed = rand() < 0.4
        acknowledged = closed or rand() < 0.3
        if rand() < 0.04 and last_updated >= created:
            updated, updated_sub = last_updated, 0  # same-millisecond tie with another alert
        else:
            updated, updated_sub = _rounded(rng, created + randrange(max(1, now_ms - created)))
            updated = max(updated, created)
        last_updated = updated
        occurred = created + int((updated - created) * rand())
        alert_id = _uuid(rng)
        r = rand()
        tags = [] if r < 0.3 else [_TAGS[int(rand() * n_tags)] for _ in range(1 + int(r * 3))]
        owner = usernames[int(rand() * n_users)] if acknowledged and rand() < 0.7 else ""
        team_ids = [teams[int(rand() * n_teams)]["id"]] if rand() < 0.7 else []
        responders = [
            {"type": kind, "id": rid}
            for kind, rid in (
                responder_pool[int(rand() * len(responder_pool))] for _ in range(int(rand() * 3))
            )
        ]
        report = None
        if acknowledged or closed:
            report = {}
            if acknowledged:
                report["ackTime"] = 1000 + randrange(3_600_000)
                report["acknowledgedBy"] = owner or usernames[int(rand() * n_users)]
            if closed:
                report["closeTime"] = 2000 + randrange(7_200_000)
                report["closedBy"] = usernames[int(rand() * n_users)]
            if rand() < 0.25:  # acted on through the API integration rather than by a user
                report.update({k: "API" for k in ("acknowledgedBy", "closedBy") if k in report})
        snoozed = not closed and rand() < 0.05
        alert = Alert(
            seq=seq,
            id=alert_id,
            tinyId=str(seq + 1),
            alias=alert_id if rand() < 0.1 else f"{source}-{check}-{entity}-{seq}",
            message=template.format(e=entity),
            status="closed" if closed else "open",
            acknowledged=acknowledged,
            isSeen=acknowledged or rand() < 0.5,
            tags=tags,
            snoozed=snoozed,
            snoozedUntil=now_ms + randrange(1, 86_400_000) if snoozed else None,
            count=1 if rand() < 0.6 else 1 + int(rand() ** 3 * 200),
            lastOccurredAt=occurred,
            createdAt=created,
            updatedAt=updated,
            source=source,
            owner=owner,
            priority=_PRIORITIES[int(rand() * 8)],
            responders=responders,
            integration=integrations[int(rand() * 4)],
            report=report,
            teams=team_ids,
            entity=entity,
            description=f"{check} check on {entity} reported by {source}",
            details={"check": check, "host": entity},
            actions=["Restart", "Ping"] if check in ("ping", "http") else [],
            ownerTeamId=team_ids[0] if team_ids and rand() < 0.5 else "",
            sub_ns=({"createdAt": created_sub} if created_sub else {})
            | ({"updatedAt": updated_sub} if updated_sub else {}),
        )
        out.append(alert)
    return out


class DataFileError(ValueError):
    """A data file that cannot be used (its message names the file and the problem)."""


def load_data_file(path: str | Path) -> DataSet:
    """Read a data file (JSON, or YAML by extension .yaml/.yml) holding any of ``alerts``,
    ``users``, ``teams``, ``escalations``, ``schedules``, ``forwardings``, ``account``,
    ``saved_searches``; missing
    sections are empty. Alert times may be epoch ms or ISO 8601. Raises DataFileError (a ValueError) when invalid."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # lazy: start-up (only YAML data files need it)

        raw = yaml.safe_load(text)
    else:
        raw = json.loads(text)
    if not isinstance(raw, dict):
        raise DataFileError(f"{path}: the data file must hold a mapping of sections")
    unknown = set(raw) - {
        "alerts",
        "users",
        "teams",
        "escalations",
        "schedules",
        "forwardings",
        "account",
        "saved_searches",
    }
    if unknown:
        raise DataFileError(f"{path}: unknown section(s) {sorted(unknown)}")
    return DataSet(
        alerts=list(raw.get("alerts") or []),
        users=list(raw.get("users") or []),
        teams=list(raw.get("teams") or []),
        escalations=list(raw.get("escalations") or []),
        schedules=list(raw.get("schedules") or []),
        forwardings=list(raw.get("forwardings") or []),
        saved_searches=list(raw.get("saved_searches") or []),
        account=dict(
            raw.get("account")
            or {
                "name": "opsgenie-sandbox",
                "plan": {"maxUserCount": 1500, "name": "Enterprise", "isYearly": True},
            }
        ),
    )
