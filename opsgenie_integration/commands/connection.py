"""The connection command: Test Connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import errors
from ..command import CommandContext, CommandResult, CommandSpec
from ..readable import markdown_table

#: What Test Connection calls to learn whether each command can run: probe -> (request shown,
#: call). Each probe is the request (or the same endpoint family, same right and same team
#: scoping) the commands mapped to it in PROBE_OF_COMMAND make.
PROBES: dict[str, tuple[str, Callable[[Any], dict]]] = {
    "account": ("GET /v2/account", lambda c: c.get_account()),
    "alerts": ("GET /v2/alerts?limit=1", lambda c: c.list_alerts(limit=1)),
    "schedules": ("GET /v2/schedules", lambda c: c.list_schedules()),
    "users": ("GET /v2/users?limit=1", lambda c: c.list_users(limit=1)),
}
#: The probe of each built-in command; other commands (plugins) are probed by their right:
#: Read -> alerts, Configuration access -> account.
PROBE_OF_COMMAND = {
    "fetch_event": "alerts",
    "get_on_call_user": "schedules",
    "get_schedules": "schedules",
    "get_schedule_timeline": "schedules",
    "get_single_user": "users",
    "get_next_on_call_user": "schedules",
    "get_on_call_users_across_schedules": "schedules",
    "is_user_on_call": "users",
}
#: Probes of account-level endpoints: a team integration's key is refused on them by design.
ACCOUNT_LEVEL = frozenset({"account", "users"})
#: Rights Test Connection cannot check without writing (their commands report can_run null).
UNCHECKED_RIGHTS = ("create_update", "delete")


def test_connection(ctx: CommandContext) -> CommandResult:
    """Test Connection: probes what each command calls -- ``GET /v2/account`` (key, region,
    account), ``GET /v2/alerts?limit=1`` (Fetch Event), ``GET /v2/schedules`` (the schedule
    commands), ``GET /v2/users?limit=1`` (Get Single User) -- once each, only those some command
    needs (the account always).

    A key refused (403) on ``/v2/account`` but allowed on ``/v2/schedules`` (both need
    Configuration access) is a team integration's key (``key_scope: team``): its commands see only the team's alerts and
    schedules (reported per command as ``scope: team``), and the commands needing an
    account-wide key are reported as unable to run without failing the test. Otherwise the
    result is Failed (a ``ForbiddenError`` naming them) when any command cannot run. A 401, a
    404, a 422 or no answer at all ends the test at once, with a hint naming what to check.

    Outputs: ``commands`` ``{display name: {right, can_run, probe, scope?, reason?}}``,
    ``key_scope`` (``account`` or ``team``) and ``account`` (``{name, plan}``, None for a team
    key).

    ``can_run`` is null for the writes (Create and update, Delete): only a write would show
    whether the key has those rights, and Test Connection changes nothing.
    """
    client = ctx.client
    manifest = ctx.manifest
    wanted = {"account"}
    for command in manifest.commands if manifest else ():
        probe = _probe_of(command)
        if probe:
            wanted.add(probe)
    raw: list[Any] = []
    results: dict[str, errors.ForbiddenError | None] = {}
    account = None
    for probe in [p for p in PROBES if p in wanted]:
        shown, call = PROBES[probe]
        try:
            body = call(client)
        except errors.ForbiddenError as exc:
            raw.append(exc.body)
            results[probe] = exc
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
                f"{client.base_url}{shown.split('?')[0].split(' ')[1]} does not exist: check the "
                "Server URL and the API Version (OpsGenie's is v2)."
            )
            raise
        raw.append(body)
        results[probe] = None
        if probe == "account":
            account = _account(body)
    # Configuration access is what both the account and the schedules need: refused on the one
    # and allowed on the other, the key is limited to a team (not short of a right)
    team_key = results.get("account") is not None and results.get("schedules", "absent") is None
    report, error = _report(ctx, results, team_key)
    outputs = {
        "commands": report,
        "key_scope": "team" if team_key else "account",
        "account": account,
    }
    return CommandResult(
        raw_data=raw, outputs=outputs, error=error, readable=_readable(report, account, team_key)
    )


def _probe_of(command: Any) -> str | None:
    if command.id in PROBE_OF_COMMAND:
        return PROBE_OF_COMMAND[command.id]
    return {"read": "alerts", "configuration": "account"}.get(command.right)


def _readable(
    report: dict[str, dict[str, Any]], account: dict[str, Any] | None, team_key: bool = False
) -> str:
    """A sentence (the account, whether every command can run) and a table (Command, Right,
    Can run, Reason)."""
    blocked = [name for name, entry in report.items() if not entry["can_run"]]
    where = f"Account {account['name']}" if account and account.get("name") else "The account"
    if team_key:
        where = "A team's API key"
    if account and account.get("plan"):
        where += f" (plan {account['plan']})"
    verdict = (
        "this API key can run every command."
        if not blocked
        else f"this API key cannot run {len(blocked)} of {len(report)} commands."
    )
    rows = [{"command": name, **entry} for name, entry in report.items()]
    columns = [("command", "Command"), ("right", "Right"), ("can_run", "Can run")]
    if blocked:
        columns.append(("reason", "Reason"))
    return f"{where}: {verdict}\n\n{markdown_table(rows, columns)}"


def _account(body: dict) -> dict[str, Any]:
    """``{name, plan}`` of ``GET /v2/account``'s answer (None where absent or malformed)."""
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    plan = data.get("plan")
    return {"name": data.get("name"), "plan": plan.get("name") if isinstance(plan, dict) else None}


def _report(
    ctx: CommandContext, results: dict[str, errors.ForbiddenError | None], team_key: bool
) -> tuple[dict[str, dict[str, Any]], errors.ForbiddenError | None]:
    """Each manifest command with its right, its probe and whether the key can run it; the error
    naming the commands it cannot run (by missing right), or None."""
    manifest = ctx.manifest
    report: dict[str, dict[str, Any]] = {}
    missing: dict[str, list[str]] = {}
    first: errors.ForbiddenError | None = None
    for command in manifest.commands if manifest else ():
        right_name = manifest.rights.get(command.right, command.right)
        if command.right in UNCHECKED_RIGHTS:
            reason = f"not checked: only a write would show whether the key has {right_name}"
            report[command.name] = {"right": right_name, "can_run": None, "reason": reason}
            continue
        probe = _probe_of(command)
        problem = results.get(probe) if probe else None
        entry: dict[str, Any] = {"right": right_name, "can_run": problem is None}
        if probe:
            entry["probe"] = PROBES[probe][0]
        if team_key and problem is None and probe and probe not in ACCOUNT_LEVEL:
            entry["scope"] = "team"
        if problem is not None:
            if team_key and probe in ACCOUNT_LEVEL:
                entry["reason"] = (
                    f"{PROBES[probe][0]} is account-level: a team integration's key cannot call "
                    "it (use a key from API Key Management or a global API integration)"
                )
                report[command.name] = entry
                continue
            entry["reason"] = f"the key lacks {right_name} (OpsGenie: {problem.message})"
            missing.setdefault(right_name, []).append(command.name)
            first = first or problem
        report[command.name] = entry
    if not missing or first is None:
        return report, None
    parts = [f"{', '.join(names)} (missing right: {right})" for right, names in missing.items()]
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
