"""``Sandbox``: the embedded OpsGenie-compatible server, as a context manager.

with Sandbox(alerts=500, seed=1) as sb:
    requests.get(sb.url + "/v2/alerts", headers={"Authorization": "GenieKey " + sb.api_key})
"""

from __future__ import annotations

import random
import ssl
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .alert_actions import AlertActions
from .alert_api import AlertEndpoints
from .api import OpsGenieApi
from .auth import RIGHTS, KeyRing
from .clock import SandboxClock
from .faults import Fault, FaultSet
from .jsm import SCOPES, JsmAccounts, JsmApi, JsmPipeline
from .ratelimits import RateLimits
from .seed import load_data_file, seed_data
from .server import RegionServer, RequestInfo, RequestPipeline, require_loopback
from .store import SandboxStore
from .writes import DEFAULT_WRITE_DELAY, WriteQueue

REGIONS = ("us", "eu")
PLATFORMS = ("opsgenie", "jsm")
JSM_EMAIL = "sandbox.admin@example.com"


class Sandbox:
    """An OpsGenie v2 API on loopback, one HTTP server per region, over a seeded data set.

    ``alerts``: number of seeded alerts; ``seed``: random seed (same seed and clock -> same data);
    ``clock``: None follows real time, or a datetime / epoch ms / ISO string fixes the clock there
    (moved only by ``sb.clock``); ``api_key``: the first region's full-rights key (a fresh UUID when
    None); ``data_file``: JSON/YAML data replacing the seeded data; ``regions``: ``("us",)``,
    ``("eu",)`` or both, each its own server (``port`` is the first one's; the others take free
    ports); ``record_requests``: keep every RequestInfo in ``requests``; ``log``: a text stream for
    request lines and tracebacks (None = silent); ``latency_ms``: delay every answer by this many
    milliseconds (each request sleeps on its own connection's thread, so concurrent requests wait
    side by side, as over a real link; change it later with ``sb.latency_ms = ...``); ``write_delay``: seconds (real time) between a
    write's 202 and its outcome (0 = processed before the 202 is sent; see writes.py);
    ``tls``: a server-side ``ssl.SSLContext`` (with
    its certificate chain loaded) to serve HTTPS instead of HTTP on every region.

    ``platform="jsm"`` serves the same seeded data as Jira Service Management Operations instead
    (see ``jsm.py``): one server (``regions`` is ignored) that is at once the site
    (``/_edge/tenant_info``, the Jira user API) and the API gateway
    (``/jsm/ops/api/{cloudId}/v1/...``), with Basic authentication: ``email`` (default
    ``sandbox.admin@example.com``) and ``api_token`` (``api_key`` when given, else a fresh one),
    ``cloud_id`` (a fresh UUID when None). ``add_account`` adds more accounts.
    """

    def __init__(
        self,
        alerts: int = 500,
        seed: int = 1,
        clock: None | float | str | datetime = None,
        api_key: str | None = None,
        data_file: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        regions: Sequence[str] = ("us",),
        record_requests: bool = True,
        log: IO[str] | None = None,
        platform: str = "opsgenie",
        email: str = JSM_EMAIL,
        cloud_id: str | None = None,
        latency_ms: float | None = None,
        write_delay: float = DEFAULT_WRITE_DELAY,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        require_loopback(host)
        if platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {PLATFORMS}, got {platform!r}")
        self.platform = platform
        if platform == "jsm":
            regions = ("us",)
        regions = tuple(regions)
        if not regions or len(set(regions)) != len(regions) or set(regions) - set(REGIONS):
            raise ValueError(f"regions must be distinct values among {REGIONS}, got {regions!r}")
        self.host, self.port, self.regions, self.seed = host, port, regions, seed
        self.tls = tls
        self.clock = SandboxClock(clock)
        data = (
            load_data_file(data_file) if data_file else seed_data(alerts, seed, self.clock.now_ms())
        )
        self.store = SandboxStore(self.clock, data)
        self.keys = KeyRing()
        self.api_key: str = api_key or str(uuid.uuid4())
        if platform == "opsgenie":
            self.keys.add(self.api_key, RIGHTS, regions[0])
        self.faults = FaultSet(seed)
        self.rate_limits = RateLimits()
        self._latency: Fault | None = None
        self.latency_ms = latency_ms
        self.requests: list[RequestInfo] = []
        self._churn_lock = threading.Lock()
        self._churn_count = 0
        self._churn_paths: str | None = "/v2/alerts"
        self._churn_rng = random.Random(f"churn:{seed}")
        self.api = OpsGenieApi(self.store, self.clock, self.rate_limits)
        integration_id = str(uuid.UUID(int=random.Random(f"integration:{seed}").getrandbits(128)))
        self.writes = WriteQueue(self.clock, integration_id, write_delay)
        self.actions = AlertActions(self.store, self.clock, self.api.schedules, integration_id)
        self.api.extra = AlertEndpoints(self.store, self.clock, self.writes, self.actions)
        self.email = email
        self.cloud_id = cloud_id or str(uuid.uuid4())
        self.accounts = JsmAccounts()
        self.jsm_api = JsmApi(self.store, self.clock, self.cloud_id)
        self._pipeline: RequestPipeline | JsmPipeline
        if platform == "jsm":
            self.accounts.add(email, self.api_key, SCOPES)
            self._churn_paths = f"/jsm/ops/api/{self.cloud_id}/v1/alerts"
            self._pipeline = JsmPipeline(
                self.jsm_api,
                self.accounts,
                self.faults,
                self.rate_limits,
                self._before_answer,
                self.requests if record_requests else None,
                log,
            )
            self._servers: dict[str, RegionServer] = {}
            return
        self._pipeline = RequestPipeline(
            self.api,
            self.keys,
            self.faults,
            self.rate_limits,
            self._before_answer,
            self.requests if record_requests else None,
            log,
            self.writes.process_due,
        )
        self._servers: dict[str, RegionServer] = {}

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        """Bind and serve every region (idempotent). Returns self."""
        if not self._servers:
            servers: dict[str, RegionServer] = {}
            try:
                for i, region in enumerate(self.regions):
                    servers[region] = RegionServer(
                        self._pipeline,  # type: ignore[arg-type]
                        region,
                        self.host,
                        self.port if i == 0 else 0,
                        self.tls,
                    )
            except BaseException:
                for server in servers.values():
                    server.stop()
                raise
            for server in servers.values():
                server.start()
            self._servers = servers
            self.writes.start()
        return self

    def stop(self) -> None:
        """Stop every region's server (idempotent)."""
        servers, self._servers = self._servers, {}
        for server in servers.values():
            server.stop()
        self.writes.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = ", ".join(f"{r}={s.url}" for r, s in self._servers.items()) or "stopped"
        return f"<Sandbox {state} alerts={len(self.store)}>"

    # ------------------------------------------------------------------------------ addresses
    @property
    def url(self) -> str:
        """Base URL of the first region's server, ``http://127.0.0.1:PORT``."""
        return self.url_for(self.regions[0])

    def url_for(self, region: str) -> str:
        """Base URL of ``region``'s server. Raises KeyError for a region not served, RuntimeError
        before ``start``."""
        if region not in self.regions:
            raise KeyError(f"region {region!r} is not served (regions: {self.regions})")
        if not self._servers:
            raise RuntimeError("the sandbox is not started")
        return self._servers[region].url

    @property
    def connection(self) -> dict[str, str]:
        """A ready connection: ``{"server_url", "api_key", "api_version": "v2"}``; in JSM mode
        ``{"platform": "jsm", "site", "server_url", "email", "api_token"}`` (``server_url``: the
        API gateway, here the same server as the site)."""
        if self.platform == "jsm":
            return {
                "platform": "jsm",
                "site": self.url,
                "server_url": self.url,
                "email": self.email,
                "api_token": self.api_key,
            }
        return {"server_url": self.url, "api_key": self.api_key, "api_version": "v2"}

    @property
    def jsm_prefix(self) -> str:
        """``/jsm/ops/api/{cloudId}/v1``: the JSM mode's path prefix."""
        return f"/jsm/ops/api/{self.cloud_id}/v1"

    def add_account(self, email: str, token: str, scopes: Iterable[str] = SCOPES) -> str:
        """JSM mode: accept another Atlassian account (``scopes`` among ``alert``, ``config``).
        Returns the token."""
        self.accounts.add(email, token, scopes)
        return token

    def set_scopes(self, email: str, scopes: Iterable[str]) -> None:
        """JSM mode: change a known account's scopes at run time (KeyError when unknown)."""
        self.accounts.set_scopes(email, scopes)

    def connection_for(self, region: str, api_key: str) -> dict[str, str]:
        """A ready connection to ``region``'s server with ``api_key`` (same shape as
        ``connection``)."""
        return {"server_url": self.url_for(region), "api_key": api_key, "api_version": "v2"}

    # ------------------------------------------------------------------------------ keys
    def add_key(
        self,
        key: str,
        rights: Iterable[str] = ("read", "configuration"),
        region: str | None = None,
        team: str | None = None,
    ) -> str:
        """Register another API key (UUID-shaped) for ``region`` (default: the first) with
        ``rights`` among read, create_update, delete, configuration. ``team`` (a team's id or
        name) makes it that team's integration key: 403/40301 on account-level requests, and only
        the team's alerts, schedules and saved searches (see ``api.py``). Returns the key.
        Raises ValueError for an unknown region or team."""
        region = region or self.regions[0]
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}")
        team_id = None
        if team is not None:
            found = self.store.find_team(team, team)
            if found is None:
                raise ValueError(f"unknown team {team!r}")
            team_id = str(found["id"])
        self.keys.add(key, rights, region, team_id)
        return key

    def set_rights(self, key: str, rights: Iterable[str]) -> None:
        """Change a known key's rights at run time (KeyError when unknown)."""
        self.keys.set_rights(key, rights)

    # ------------------------------------------------------------------------------ latency
    @property
    def latency_ms(self) -> float | None:
        """Milliseconds added to every answer (None: no delay). Other ``latency`` faults added
        with ``faults.add`` add up with it; ``faults.clear()`` removes it too."""
        fault = self._latency
        if fault is None or all(f.id != fault.id for f in self.faults.active):
            return None
        return float(fault.params["seconds"]) * 1000.0

    @latency_ms.setter
    def latency_ms(self, value: float | None) -> None:
        if value is not None and not (float(value) >= 0.0 and float(value) < float("inf")):
            raise ValueError("latency_ms must be a finite number of milliseconds, 0 or more")
        if self._latency is not None:
            self.faults.remove(self._latency)
            self._latency = None
        if value:
            self._latency = self.faults.add("latency", seconds=float(value) / 1000.0)

    # ------------------------------------------------------------------------------ hooks
    @property
    def on_request(self) -> Callable[[RequestInfo], None] | None:
        """Called with each RequestInfo before it is answered (None = nothing)."""
        return self._pipeline.on_request

    @on_request.setter
    def on_request(self, hook: Callable[[RequestInfo], None] | None) -> None:
        self._pipeline.on_request = hook

    def churn(self, updates_per_request: int, paths: str | None = "/v2/alerts") -> None:
        """Before answering each authorised request whose raw path starts with ``paths`` (None =
        all), set updatedAt = clock now on ``updates_per_request`` alerts drawn from a seeded RNG.
        ``churn(0)`` stops."""
        if updates_per_request < 0:
            raise ValueError("updates_per_request must not be negative")
        if self.platform == "jsm" and paths == "/v2/alerts":
            paths = f"{self.jsm_prefix}/alerts"  # the same default, in JSM's paths
        with self._churn_lock:
            self._churn_count = int(updates_per_request)
            self._churn_paths = paths

    def _before_answer(self, raw_path: str) -> None:
        with self._churn_lock:
            count, paths = self._churn_count, self._churn_paths
            if count <= 0 or (paths is not None and not raw_path.startswith(paths)):
                return
            self.store.churn(self._churn_rng, count, self.clock.now_ms())

    @property
    def write_delay(self) -> float:
        """Seconds (real time) between a write's 202 and its outcome; settable (0 = at once)."""
        return self.writes.delay

    @write_delay.setter
    def write_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the write delay must not be negative")
        self.writes.delay = float(seconds)

    def info(self) -> dict[str, Any]:
        """A summary without secrets: regions and URLs, counts of alerts, users, schedules."""
        return {
            "regions": {r: s.url for r, s in self._servers.items()},
            "alerts": len(self.store),
            "users": len(self.store.user_list()),
            "schedules": len(self.store.schedule_list()),
        }
