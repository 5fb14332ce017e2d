"""The connection command: Test Connection."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..command import CommandContext, CommandResult, CommandSpec


def test_connection(ctx: CommandContext) -> CommandResult:
    """Test Connection: each right the backend's ``access_checks`` name, with the call proving it.

    OpsGenie: ``GET /v2/account`` (key, region, Configuration access), then ``GET /v2/alerts?
    limit=1`` (Read). JSM Operations: ``GET /v1/schedules?size=1`` (the configuration
    permission, ``read:ops-config``; the site's cloud id is read first), then ``GET
    /v1/alerts?size=1`` (``read:ops-alert``).

    Successful only when every command of the manifest can run with these credentials. Outputs:
    ``commands`` ``{display name: {right, can_run, reason?}}`` and ``account`` (``{name, plan}``).
    A 403 on a call marks the commands needing its right as unable to run and makes the result a
    ``ForbiddenError`` naming them with the platform's own message; a 401, a 404, a 422 or no
    answer at all ends the test at once (nothing else can be learnt), with a hint naming what to
    check.
    """
    client = ctx.client
    raw: list[Any] = []
    rights: dict[str, errors.OpsGenieIntegrationError | None] = {}
    labels: dict[str, str] = {}
    account = None
    for check in client.access_checks():
        labels[check.right] = check.label
        try:
            body = check.call()
        except errors.ForbiddenError as exc:
            raw.append(exc.body)
            rights[check.right] = exc
            continue
        except (errors.AuthenticationError, errors.UnprocessableError, errors.NotFoundError) as exc:
            hint = client.connection_hint(exc)
            if hint:
                exc.hint = hint
            raise
        raw.append(body)
        rights[check.right] = None
        if check.right == "configuration":
            account = client.account(body)
    report, error = _report(ctx, rights, labels)
    return CommandResult(
        raw_data=raw, outputs={"commands": report, "account": account}, error=error
    )


def _report(
    ctx: CommandContext,
    rights: dict[str, errors.OpsGenieIntegrationError | None],
    labels: dict[str, str],
) -> tuple[dict[str, dict[str, Any]], errors.ForbiddenError | None]:
    """Each manifest command with its right and whether the credentials can run it; the error
    naming the commands they cannot run, by missing right (as the platform names it), or None."""
    manifest = ctx.manifest
    client = ctx.client
    credential = client.credential
    service = client.service
    report: dict[str, dict[str, Any]] = {}
    missing: dict[str, list[str]] = {}
    for command in manifest.commands:
        right_name = labels.get(command.right) or manifest.rights.get(command.right, command.right)
        problem = rights.get(command.right)
        entry: dict[str, Any] = {"right": right_name, "can_run": problem is None}
        if problem is not None:
            entry["reason"] = (
                f"the {credential.split()[-1]} lacks {right_name} ({service}: {problem.message})"
            )
            missing.setdefault(right_name, []).append(command.name)
        report[command.name] = entry
    if not missing:
        return report, None
    parts = [f"{', '.join(names)} (missing right: {right})" for right, names in missing.items()]
    first = next(p for p in rights.values() if p is not None)
    error = errors.ForbiddenError(
        f"This {credential} cannot run: " + "; ".join(parts) + ".",
        status_code=first.status_code,
        code=first.code,
        request_id=first.request_id,
        hint=client.rights_hint,
    )
    return report, error


COMMANDS = [CommandSpec("test_connection", test_connection)]
