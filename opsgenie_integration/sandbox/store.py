"""The sandbox's data: alerts (indexed by createdAt and updatedAt), users, teams, escalations,
schedules, forwardings and the account, with the alert search behind ``GET /v2/alerts``.

Alert search: the query's top-level AND gives createdAt/updatedAt ranges that narrow the scan with
bisect on a sorted index of ``(ms, seq)``. The rest of the query (the residual) is evaluated once
per distinct residual into a *view* (the matching alerts in index order), kept up to date on every
change and reused by later pages and later windows; a narrow range is filtered directly instead.
Counting (for ``paging.last`` and ``/v2/alerts/count``) is then two bisects. Sorting on any other
field sorts the matches once per store version. Ties always fall back to the creation sequence.
"""

from __future__ import annotations

import bisect
import random
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Callable

from .alerts import ALERT_FIELDS, TIME_FIELDS, Alert, sort_alerts
from .clock import SandboxClock
from .query import (
    INDEXED_TIME_FIELDS,
    AlertQueryPlan,
    And,
    Node,
    compile_predicate,
    plan_alert_query,
)
from .timefmt import to_ms

_DIRECT_FILTER_MAX = 2000  # a narrowed range this small is filtered without building a view
_MAX_VIEWS = 16
_MAX_SORTED = 16


@dataclass
class DataSet:
    """Everything the sandbox serves. Alerts are Alert objects or OpsGenie-shaped dicts; the rest
    are OpsGenie-shaped dicts (users carry ``userContacts``; schedules may carry ``overrides``;
    saved searches are ``{id, name, query, description?, owner?, teams?, createdAt?,
    updatedAt?}``)."""

    alerts: list[Any] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    forwardings: list[dict[str, Any]] = field(default_factory=list)
    account: dict[str, Any] = field(default_factory=dict)
    saved_searches: list[dict[str, Any]] = field(default_factory=list)


class _Index:
    """Alerts ordered by ``(getattr(alert, field), seq)``; ``keys`` and ``items`` run in parallel."""

    __slots__ = ("field", "items", "keys")

    def __init__(self, field_name: str, alerts: Iterable[Alert] = (), presorted: bool = False):
        self.field = field_name
        pairs = [((getattr(a, field_name), a.seq), a) for a in alerts]
        if not presorted:
            pairs.sort(key=lambda p: p[0])
        self.keys: list[tuple[int, int]] = [p[0] for p in pairs]
        self.items: list[Alert] = [p[1] for p in pairs]

    def insert(self, alert: Alert) -> None:
        key = (getattr(alert, self.field), alert.seq)
        i = bisect.bisect_left(self.keys, key)
        self.keys.insert(i, key)
        self.items.insert(i, alert)

    def remove(self, alert: Alert) -> None:
        """Remove ``alert`` (call before its indexed field changes); absent alerts are ignored."""
        key = (getattr(alert, self.field), alert.seq)
        i = bisect.bisect_left(self.keys, key)
        if i < len(self.keys) and self.items[i] is alert:
            del self.keys[i]
            del self.items[i]

    def bounds(self, lo: int | None, hi: int | None) -> tuple[int, int]:
        """Positions ``[i, j)`` of alerts with ``lo <= field < hi`` (None = unbounded)."""
        i = 0 if lo is None else bisect.bisect_left(self.keys, (lo, -1))
        j = len(self.keys) if hi is None else bisect.bisect_left(self.keys, (hi, -1))
        return i, max(i, j)


class _View(_Index):
    """An index restricted to the alerts matching ``predicate``."""

    __slots__ = ("predicate",)

    def __init__(self, field_name: str, predicate: Callable[[Alert], bool], base: _Index):
        super().__init__(field_name)
        self.predicate = predicate
        for key, alert in zip(base.keys, base.items):
            if predicate(alert):
                self.keys.append(key)
                self.items.append(alert)


class SandboxStore:
    """Thread-safe store of the sandbox's data set (see the module docstring for the search)."""

    def __init__(self, clock: SandboxClock, data: DataSet | None = None) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self.version = 0
        self._alerts: dict[str, Alert] = {}
        self._by_tiny: dict[str, Alert] = {}
        self._by_alias: dict[str, Alert] = {}
        self._next_seq = 0
        self._indexes: dict[str, _Index] = {f: _Index(f) for f in INDEXED_TIME_FIELDS}
        self._views: OrderedDict[tuple[str, str], _View] = OrderedDict()
        self._sorted: OrderedDict[tuple[Any, ...], tuple[int, list[Alert]]] = OrderedDict()
        self._predicates: OrderedDict[str, Callable[[Alert], bool]] = OrderedDict()
        self.load(data or DataSet())

    # ------------------------------------------------------------------------------ loading
    def load(self, data: DataSet) -> None:
        """Replace the whole data set (alerts, users, teams, escalations, schedules, ...)."""
        with self._lock:
            self._users = [dict(u) for u in data.users]
            self._teams = [dict(t) for t in data.teams]
            self._escalations = [dict(e) for e in data.escalations]
            self._schedules = [dict(s) for s in data.schedules]
            self.forwardings = [dict(f) for f in data.forwardings]
            self.account = dict(data.account)
            self._users_by_id = {u["id"]: u for u in self._users}
            self._users_by_name = {u["username"].lower(): u for u in self._users}
            self._teams_by_id = {t["id"]: t for t in self._teams}
            self._teams_by_name = {t["name"]: t for t in self._teams}
            self._esc_by_id = {e["id"]: e for e in self._escalations}
            self._esc_by_name = {e["name"]: e for e in self._escalations}
            self._sched_by_id = {s["id"]: s for s in self._schedules}
            self._sched_by_name = {s["name"]: s for s in self._schedules}
            self._saved = [dict(s) for s in data.saved_searches]
            self._saved_by_id = {s["id"]: s for s in self._saved}
            self._saved_by_name = {s["name"]: s for s in self._saved}
            self.replace_alerts(data.alerts)

    def replace_alerts(self, alerts: Iterable[Any]) -> None:
        """Replace every alert. Items are OpsGenie-shaped dicts (createdAt/updatedAt/... as epoch
        ms ints or ISO 8601 strings; missing fields get defaults) or Alert objects."""
        with self._lock:
            now = self.clock.now_ms()
            built: list[Alert] = []
            for seq, item in enumerate(alerts):
                if isinstance(item, Alert):
                    item.seq = seq
                    item.ensure_ack_time()
                    item.invalidate()
                    built.append(item)
                else:
                    built.append(Alert.from_dict(item, seq, now))
            self._next_seq = len(built)
            self._alerts = {}
            self._by_tiny = {}
            self._by_alias = {}
            self._max_tiny = 0
            for alert in built:
                self._register(alert)
            self._indexes = {f: _Index(f, built) for f in INDEXED_TIME_FIELDS}
            self._views.clear()
            self._changed()

    def _register(self, alert: Alert) -> None:
        alert.team_keys = self._team_keys(alert.teams)
        self._alerts[alert.id] = alert
        self._by_tiny[alert.tinyId] = alert
        self._by_alias[alert.alias] = alert
        if alert.tinyId.isdigit():
            self._max_tiny = max(self._max_tiny, int(alert.tinyId))

    def _team_keys(self, team_ids: Iterable[str]) -> tuple[str, ...]:
        keys: list[str] = []
        for tid in team_ids:
            keys.append(tid)
            team = self._teams_by_id.get(tid)
            if team:
                keys.append(team["name"])
        return tuple(keys)

    def _changed(self) -> None:
        self.version += 1
        self._sorted.clear()

    # ------------------------------------------------------------------------------ alert changes
    def add_alert(self, **fields: Any) -> dict[str, Any]:
        """Add one alert (OpsGenie field names; times as epoch ms or ISO 8601; defaults as in
        ``replace_alerts``, createdAt = clock now). Returns the alert as served."""
        with self._lock:
            alert = Alert.from_dict(fields, self._next_seq, self.clock.now_ms())
            self._next_seq += 1
            if alert.id in self._alerts:
                raise ValueError(f"an alert with id {alert.id!r} exists already")
            self._register(alert)
            self._attach(alert)
            self._changed()
            return alert.render_full()

    def update_alert(self, alert_id: str, updated_at: Any = None, **changes: Any) -> dict[str, Any]:
        """Change an alert's fields (OpsGenie names) and set its updatedAt to ``updated_at`` (epoch
        ms, ISO 8601 or datetime; None = clock now). Raises KeyError for an unknown id. Returns the
        alert as served."""
        with self._lock:
            alert = self._alerts[alert_id]
            self._detach(alert)
            for name, value in changes.items():
                self._set_field(alert, name, value)
            if updated_at is None:
                alert.updatedAt, sub = self.clock.now_ms(), 0
            else:
                alert.updatedAt, sub = to_ms(updated_at)
            alert.sub_ns.pop("updatedAt", None)
            if sub:
                alert.sub_ns["updatedAt"] = sub
            alert.ensure_ack_time()
            alert.invalidate()
            self._by_tiny[alert.tinyId] = alert
            if "alias" in changes or alert.alias not in self._by_alias:
                self._by_alias[alert.alias] = alert  # a newer alert may have taken the alias
            alert.team_keys = self._team_keys(alert.teams)
            self._attach(alert)
            self._changed()
            return alert.render_full()

    @property
    def lock(self) -> threading.RLock:
        """The store's re-entrant lock: hold it to read and change alerts as one step."""
        return self._lock  # type: ignore[return-value]

    def next_tiny_id(self) -> str:
        """A tinyId no alert has: one more than the largest numeric tinyId."""
        with self._lock:
            return str(self._max_tiny + 1)

    def find_alert(self, identifier: str, identifier_type: str = "id") -> Alert | None:
        """The Alert record by id, tinyId (``tiny``) or alias, else None (treat as read-only)."""
        table = {"id": self._alerts, "tiny": self._by_tiny, "alias": self._by_alias}[
            identifier_type
        ]
        with self._lock:
            return table.get(identifier)

    def remove_alert(self, alert_id: str) -> dict[str, Any]:
        """Delete an alert. Raises KeyError for an unknown id. Returns the alert as it was."""
        with self._lock:
            alert = self._alerts.pop(alert_id)
            self._detach(alert)
            if self._by_tiny.get(alert.tinyId) is alert:
                del self._by_tiny[alert.tinyId]
            if self._by_alias.get(alert.alias) is alert:
                del self._by_alias[alert.alias]
            self._changed()
            return alert.render_full()

    def churn(self, rng: random.Random, count: int, now_ms: int) -> list[str]:
        """Set updatedAt = ``now_ms`` on ``count`` alerts drawn with ``rng`` (the churn fault).
        Returns their ids."""
        with self._lock:
            items = self._indexes["createdAt"].items
            if not items:
                return []
            picked = {id(a): a for a in (items[rng.randrange(len(items))] for _ in range(count))}
            for alert in picked.values():
                self._detach(alert)
                alert.updatedAt = now_ms
                alert.sub_ns.pop("updatedAt", None)
                alert.invalidate()
                self._attach(alert)
            self._changed()
            return [a.id for a in picked.values()]

    @staticmethod
    def _set_field(alert: Alert, name: str, value: Any) -> None:
        if name in ("seq", "sub_ns", "extra", "team_keys") or name.startswith("_"):
            raise ValueError(f"{name!r} is internal")
        if name in TIME_FIELDS:
            if value is None:
                setattr(alert, name, None)
                alert.sub_ns.pop(name, None)
                return
            ms, sub = to_ms(value)
            setattr(alert, name, ms)
            alert.sub_ns.pop(name, None)
            if sub:
                alert.sub_ns[name] = sub
        elif name == "teams":
            alert.teams = [t["id"] if isinstance(t, dict) else str(t) for t in value or []]
        elif name == "seen":
            alert.isSeen = bool(value)
        elif name in Alert.__slots__:
            setattr(alert, name, value)
        else:
            alert.extra = dict(alert.extra or {}, **{name: value})

    def _detach(self, alert: Alert) -> None:
        for index in self._indexes.values():
            index.remove(alert)
        for view in self._views.values():
            view.remove(alert)

    def _attach(self, alert: Alert) -> None:
        for index in self._indexes.values():
            index.insert(alert)
        for view in self._views.values():
            if view.predicate(alert):
                view.insert(alert)

    # ------------------------------------------------------------------------------ alert reads
    @property
    def alerts(self) -> list[dict[str, Any]]:
        """Every alert as ``GET /v2/alerts/{id}`` serves it, in creation order."""
        with self._lock:
            return [a.render_full() for a in sorted(self._alerts.values(), key=lambda a: a.seq)]

    def alert_objects(self) -> list[Alert]:
        """The Alert records (creation order); treat as read-only, change via update_alert."""
        with self._lock:
            return sorted(self._alerts.values(), key=lambda a: a.seq)

    def __len__(self) -> int:
        return len(self._alerts)

    def get_alert(self, identifier: str, identifier_type: str = "id") -> dict[str, Any] | None:
        """The alert by id, tinyId (``tiny``) or alias, as served; None when absent."""
        table = {"id": self._alerts, "tiny": self._by_tiny, "alias": self._by_alias}[
            identifier_type
        ]
        with self._lock:
            alert = table.get(identifier)
            return alert.render_full() if alert else None

    def _predicate(self, nodes: tuple[Node, ...]) -> tuple[str, Callable[[Alert], bool]]:
        key = repr(nodes)
        found = self._predicates.get(key)
        if found is None:
            found = compile_predicate(nodes[0] if len(nodes) == 1 else And(nodes), ALERT_FIELDS)
            self._predicates[key] = found
            if len(self._predicates) > 256:
                self._predicates.popitem(last=False)
        return key, found

    def _select(self, plan: AlertQueryPlan, sort: str | None) -> tuple[_Index, int, int]:
        """The index (or view) holding the matches and the bounds ``[i, j)`` of the matches."""
        ranges = plan.ranges
        if sort in INDEXED_TIME_FIELDS and (sort in ranges or not ranges):
            field_name = sort
        elif ranges:
            field_name = "updatedAt" if "updatedAt" in ranges else "createdAt"
        else:
            field_name = "createdAt"
        other = next((f for f in INDEXED_TIME_FIELDS if f != field_name), "")
        residual = plan.residual_with_range(other)
        lo, hi = ranges.get(field_name, (None, None))
        base = self._indexes[field_name]
        if residual:
            key, predicate = self._predicate(residual)  # compiled first: bad fields answer 422
        if plan.empty:
            return base, 0, 0
        if not residual:
            i, j = base.bounds(lo, hi)
            return base, i, j
        view = self._views.get((field_name, key))
        if view is None:
            i, j = base.bounds(lo, hi)
            if j - i <= _DIRECT_FILTER_MAX:
                narrow = _Index(field_name)
                for k in range(i, j):
                    if predicate(base.items[k]):
                        narrow.keys.append(base.keys[k])
                        narrow.items.append(base.items[k])
                return narrow, 0, len(narrow.keys)
            view = _View(field_name, predicate, base)
            self._views[(field_name, key)] = view
            if len(self._views) > _MAX_VIEWS:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end((field_name, key))
        i, j = view.bounds(lo, hi)
        return view, i, j

    def search(
        self,
        query: str,
        sort: str = "createdAt",
        order: str = "desc",
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[dict[str, Any]], int]:
        """``GET /v2/alerts``: the page ``[offset, offset+limit)`` of alerts matching ``query``
        sorted by ``sort`` (a documented sort field) in ``order`` (asc|desc), as served, and the
        total number of matches. Raises QueryError for a malformed query."""
        plan = plan_alert_query(query or "")
        descending = order == "desc"
        with self._lock:
            index, i, j = self._select(plan, sort)
            total = j - i
            if sort == index.field:
                if descending:
                    stop = j - offset
                    start = max(i, stop - limit)
                    page = index.items[start:stop][::-1] if stop > i else []
                else:
                    page = index.items[i + offset : min(j, i + offset + limit)]
            else:
                cache_key = (query, sort, descending)
                cached = self._sorted.get(cache_key)
                if cached is None or cached[0] != self.version:
                    cached = (self.version, sort_alerts(index.items[i:j], sort, descending))
                    self._sorted[cache_key] = cached
                    if len(self._sorted) > _MAX_SORTED:
                        self._sorted.popitem(last=False)
                page = cached[1][offset : offset + limit]
            return [a.render() for a in page], total

    def count(self, query: str) -> int:
        """``GET /v2/alerts/count``: the number of alerts matching ``query`` (QueryError)."""
        plan = plan_alert_query(query or "")
        with self._lock:
            _, i, j = self._select(plan, None)
            return j - i

    # ------------------------------------------------------------------------------ the rest
    @property
    def users(self) -> list[dict[str, Any]]:
        """Users as served with ``expand=contact`` (``userContacts`` included)."""
        return [dict(u) for u in self._users]

    @property
    def teams(self) -> list[dict[str, Any]]:
        """Teams: ``{id, name, description, members: [{user: {id, username}, role}]}``."""
        return [dict(t) for t in self._teams]

    @property
    def escalations(self) -> list[dict[str, Any]]:
        """Escalations: ``{id, name, description?, ownerTeam?, rules: [{condition?, notifyType,
        delay: {timeAmount, timeUnit?}, recipient: {type, id}}], repeat?}``."""
        return [dict(e) for e in self._escalations]

    @property
    def schedules(self) -> list[dict[str, Any]]:
        """Schedules with rotations (and their ``overrides`` when any)."""
        return [dict(s) for s in self._schedules]

    def schedule_list(self) -> list[dict[str, Any]]:
        """The schedules themselves (shared, read-only)."""
        return self._schedules

    def user_list(self) -> list[dict[str, Any]]:
        """The users themselves (shared, read-only)."""
        return self._users

    def find_user(self, identifier: str) -> dict[str, Any] | None:
        """A user by id or username (case-insensitive), else None."""
        return self._users_by_id.get(identifier) or self._users_by_name.get(identifier.lower())

    def find_team(self, team_id: str = "", name: str = "") -> dict[str, Any] | None:
        """A team by id, else by name."""
        return self._teams_by_id.get(team_id) or self._teams_by_name.get(name)

    def find_escalation(self, esc_id: str = "", name: str = "") -> dict[str, Any] | None:
        """An escalation by id, else by name."""
        return self._esc_by_id.get(esc_id) or self._esc_by_name.get(name)

    def saved_search_list(self) -> list[dict[str, Any]]:
        """The saved searches themselves (shared, read-only)."""
        return self._saved

    def find_saved_search(
        self, identifier: str, identifier_type: str = "id"
    ) -> dict[str, Any] | None:
        """A saved search by id (``identifier_type="id"``, OpsGenie's default) or by name."""
        table = self._saved_by_name if identifier_type == "name" else self._saved_by_id
        return table.get(identifier)

    def find_schedule(self, identifier: str, identifier_type: str = "id") -> dict[str, Any] | None:
        """A schedule by id (``identifier_type="id"``, OpsGenie's default) or by name."""
        table = self._sched_by_name if identifier_type == "name" else self._sched_by_id
        return table.get(identifier)
