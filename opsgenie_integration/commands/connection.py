"""The connection command: Test Connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import errors
from ..command import CommandContext, CommandResult, CommandSpec


def test_connection(ctx: CommandContext) -> CommandResult:
    """Test Connection: ``GET /v2/account`` (key, region, Configuration access), then
    ``GET /v2/alerts?limit=1`` (Read).

    Successful only when every command of the manifest can run with this key. Outputs:
    ``commands`` ``{display name: {right, can_run, reason?}}`` and ``account`` (``{name, plan}``).
    A 403 on a call marks the commands needing its right as unable to run and makes the result a
    ``ForbiddenError`` naming them; a 401, a 404, a 422 or no answer at all ends the test at once
    (nothing else can be learnt), with a hint naming what to check.
    """
    client = ctx.client
    raw: list[Any] = []
    rights: dict[str, errors.OpsGenieIntegrationError | None] = {}
    account = None
    calls: tuple[tuple[str, Callable[[], dict]], ...] = (
        ("configuration", client.get_account),
        ("read", lambda: client.list_alerts(limit=1)),
    )
    for right, call in calls:
        try:
            body = call()
        except errors.ForbiddenError as exc:
            raw.append(exc.body)
            rights[right] = exc
            continue
        except errors.AuthenticationError as exc:
            exc.hint = (
                f"The API Key is unknown to {client.base_url}: check the key, and that Server URL "
                "is the account's region (US https://api.opsgenie.com, "
                "EU https://api.eu.opsgenie.com)."
            )
            raise
        except errors.UnprocessableError as exc:
            exc.hint = (
                "The API Key is malformed, or is a user's key rather than the key of an API "
                "integration (Settings > Integrations > API)."
            )
            raise
        except errors.NotFoundError as exc:
            exc.hint = (
                f"{client.url_for(['account'])} does not exist: check the Server URL and the "
                "API Version (OpsGenie's is v2)."
            )
            raise
        raw.append(body)
        rights[right] = None
        if right == "configuration":
            account = _account(body)
    report, error = _report(ctx, rights)
    return CommandResult(
        raw_data=raw, outputs={"commands": report, "account": account}, error=error
    )


def _account(body: dict) -> dict[str, Any]:
    """``{name, plan}`` of ``GET /v2/account``'s answer (None where absent or malformed)."""
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    plan = data.get("plan")
    return {"name": data.get("name"), "plan": plan.get("name") if isinstance(plan, dict) else None}


def _report(
    ctx: CommandContext, rights: dict[str, errors.OpsGenieIntegrationError | None]
) -> tuple[dict[str, dict[str, Any]], errors.ForbiddenError | None]:
    """Each manifest command with its right and whether the key can run it; the error naming
    the commands it cannot run, by missing right, or None."""
    manifest = ctx.manifest
    report: dict[str, dict[str, Any]] = {}
    missing: dict[str, list[str]] = {}
    for command in manifest.commands:
        right_name = manifest.rights.get(command.right, command.right)
        problem = rights.get(command.right)
        entry: dict[str, Any] = {"right": right_name, "can_run": problem is None}
        if problem is not None:
            entry["reason"] = f"the key lacks {right_name} (OpsGenie: {problem.message})"
            missing.setdefault(right_name, []).append(command.name)
        report[command.name] = entry
    if not missing:
        return report, None
    parts = [f"{', '.join(names)} (missing right: {right})" for right, names in missing.items()]
    first = next(p for p in rights.values() if p is not None)
    error = errors.ForbiddenError(
        "This API key cannot run: " + "; ".join(parts) + ".",
        status_code=first.status_code,
        code=first.code,
        request_id=first.request_id,
        hint="Give the API integration the missing access rights in OpsGenie (Settings > "
        "Integrations > API), or check that it is not restricted to another team.",
    )
    return report, error


COMMANDS = [CommandSpec("test_connection", test_connection)]
