"""Contract check of JSM requests: every request to ``/jsm/ops/api/...`` must be an operation of
Atlassian's JSM Operations description (``../shared/jsm/openapi/jsm-ops-read-subset.openapi3.json``,
server ``https://api.atlassian.com/jsm/ops/``), with declared query parameters and allowed values.

The site's ``/_edge/tenant_info`` and the Jira user API are not in that description; their requests
are checked against the short list below (path and the query parameters this module sends).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import contract

SPEC_RELATIVE = Path("jsm") / "openapi" / "jsm-ops-read-subset.openapi3.json"
SERVER_PREFIX = "/jsm/ops"

#: (path suffix, allowed query parameters) of the calls outside the JSM description.
OTHER_OPERATIONS = {
    "/_edge/tenant_info": set(),
    "/rest/api/3/user": {"accountId"},
    "/rest/api/3/user/bulk": {"accountId", "startAt", "maxResults"},
    "/rest/api/3/user/search": {"query", "startAt", "maxResults"},
}


def load(shared: Path) -> dict:
    return contract.load_spec(str(shared / SPEC_RELATIVE))


def is_jsm_request(url: str) -> bool:
    path = urlsplit(url).path
    return (
        path.startswith(SERVER_PREFIX + "/")
        or path == "/_edge/tenant_info"
        or "/rest/api/3/" in path
    )


def check(spec: dict, method: str, url: str) -> list[str]:
    """Problems of one JSM-side request (empty when it conforms)."""
    parts = urlsplit(url)
    if parts.path.startswith(SERVER_PREFIX + "/"):
        inner = urlunsplit(
            ("https", "api.atlassian.com", parts.path[len(SERVER_PREFIX) :], parts.query, "")
        )
        return contract.check_request(spec, method, inner)
    path = parts.path
    if path.startswith("/ex/jira/"):
        path = "/" + path.split("/", 4)[4]  # /ex/jira/{cloudId}/rest/... -> /rest/...
    allowed = OTHER_OPERATIONS.get(path)
    if method != "GET" or allowed is None:
        return [
            f"{method} {parts.path}: not a JSM, site or Jira user API operation this module uses"
        ]
    return [
        f"{method} {path}: query parameter {name!r} is not one this module sends"
        for name, _ in parse_qsl(parts.query, keep_blank_values=True)
        if name not in allowed
    ]
