"""The baselines of ``bench_fetch.py``, each run as its own process.

    python bench/fetch_clients.py bare URL KEY START_MS END_MS
    python bench/fetch_clients.py sdk  URL KEY START_MS END_MS     (needs opsgenie-sdk)

Both read every alert with ``START_MS <= updatedAt < END_MS`` from ``GET /v2/alerts`` by keyset
paging, the way Fetch Event pages: ``query=updatedAt >= <start> AND updatedAt < <end>``,
``sort=updatedAt&order=asc&limit=100``, the window start moved to the last updatedAt seen after
each page and ``offset`` skipping the alerts already read at that millisecond. A page of fewer than
100 alerts ends the run. They print one JSON line: ``{"events", "unique", "requests", "seconds"}``
(``seconds``: from the first request to the last answer, not counting the imports).

``bare``: one keep-alive ``requests.Session``, ``response.json()``, nothing else: no validation, no
mapping, no output (the practical floor). ``sdk``: the official ``opsgenie-sdk`` package's
``AlertApi.list_alerts`` (its models, its date parsing, its retry wrapper), pointed at the sandbox's
http URL through ``Configuration.host``.

This file imports nothing of ``opsgenie_integration``: the SDK may live in another virtualenv.
"""

from __future__ import annotations

import calendar
import json
import sys
import time
from datetime import datetime
from typing import Callable

PAGE = 100


def _iso_ms(text: str) -> int:
    """Epoch ms of ``2024-03-01T10:20:41.035Z`` (0 to 9 fraction digits)."""
    seconds = calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
    fraction = text[20:-1] if len(text) > 20 and text[19] == "." else ""
    return seconds * 1000 + int((fraction + "000")[:3])


def keyset_read(page: Callable[[str, int], list[tuple[str, int]]], start: int, end: int) -> dict:
    """Read the window with ``page(query, offset) -> [(id, updatedAt ms)]``."""
    ids = set()
    events = requests_made = 0
    skip = 0
    cursor = start
    started = time.perf_counter()
    while True:
        rows = page(f"updatedAt >= {cursor} AND updatedAt < {end}", skip)
        requests_made += 1
        events += len(rows)
        ids.update(alert_id for alert_id, _ in rows)
        if len(rows) < PAGE:
            break
        last = rows[-1][1]
        same = 0
        for _, updated in reversed(rows):  # alerts at the last millisecond, read from the end
            if updated != last:
                break
            same += 1
        skip = skip + same if last == cursor else same
        cursor = last
    seconds = time.perf_counter() - started
    # a window start moved to an updatedAt already read re-reads none: `skip` steps over them
    return {"events": events, "unique": len(ids), "requests": requests_made, "seconds": seconds}


def bare(url: str, key: str, start: int, end: int) -> dict:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"GenieKey {key}"

    def page(query: str, offset: int) -> list[tuple[str, int]]:
        params = {
            "query": query,
            "offset": offset,
            "limit": PAGE,
            "sort": "updatedAt",
            "order": "asc",
        }
        response = session.get(f"{url}/v2/alerts", params=params, timeout=30)
        response.raise_for_status()
        data = response.json()["data"]
        # only the last alerts' updatedAt is needed to move the window; parse from the end
        rows = [(alert["id"], 0) for alert in data]
        if len(data) == PAGE:
            last_text = data[-1]["updatedAt"]
            last = _iso_ms(last_text)
            for i in range(len(data) - 1, -1, -1):
                text = data[i]["updatedAt"]
                ms = last if text == last_text else _iso_ms(text)
                if ms != last:
                    break
                rows[i] = (data[i]["id"], ms)
        return rows

    with session:
        return keyset_read(page, start, end)


def sdk(url: str, key: str, start: int, end: int) -> dict:
    import opsgenie_sdk

    configuration = opsgenie_sdk.Configuration()
    configuration.host = url
    configuration.api_key["Authorization"] = key  # sent as "GenieKey <key>"
    api = opsgenie_sdk.AlertApi(opsgenie_sdk.ApiClient(configuration))

    def ms(moment: datetime) -> int:
        return calendar.timegm(moment.utctimetuple()) * 1000 + moment.microsecond // 1000

    def page(query: str, offset: int) -> list[tuple[str, int]]:
        answer = api.list_alerts(
            query=query, offset=offset, limit=PAGE, sort="updatedAt", order="asc"
        )
        return [(alert.id, ms(alert.updated_at)) for alert in answer.data]

    return keyset_read(page, start, end)


def main(argv: list[str]) -> int:
    kind, url, key, start, end = argv
    run = {"bare": bare, "sdk": sdk}[kind]
    print(json.dumps(run(url, key, int(start), int(end))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
