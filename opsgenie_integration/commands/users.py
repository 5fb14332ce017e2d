"""The user commands: Get Single User."""

from __future__ import annotations

from typing import Any

from ..command import CommandContext, CommandResult, CommandSpec
from ..readable import markdown_table
from ._answers import answer_data, text_of


def get_single_user(ctx: CommandContext) -> CommandResult:
    """Get Single User: ``GET /v2/users/{id or username}``. Output ``user``: ``data`` as answered.

    Raises:
        errors.BadResponseError: ``data`` is not an object.
    """
    body = ctx.client.get_user(ctx.inputs["user"])
    user = answer_data(body, dict, "user")
    return CommandResult(raw_data=body, outputs={"user": user}, readable=_readable(user))


def _readable(user: dict[str, Any]) -> str:
    """``Jane Smith (jane@example.com): role User, time zone Europe/Berlin.`` and, when the answer
    has them, a table of the contacts (Method, To, Enabled)."""
    name, username = text_of(user.get("fullName")), text_of(user.get("username"))
    role = user.get("role") if isinstance(user.get("role"), dict) else {}
    facts = [f"role {text_of(role.get('name'))}" if role.get("name") else None]
    facts.append(f"time zone {text_of(user.get('timeZone'))}" if user.get("timeZone") else None)
    facts.append("blocked" if user.get("blocked") is True else None)
    head = f"{name} ({username})" if name and username else (name or username or "The user")
    text = head + (": " + ", ".join(f for f in facts if f) if any(facts) else "") + "."
    contacts = user.get("userContacts")
    if isinstance(contacts, list) and contacts:
        rows = [c for c in contacts if isinstance(c, dict)]
        columns = [("contactMethod", "Method"), ("to", "To"), ("enabled", "Enabled")]
        text += "\n\n" + markdown_table(rows, columns, title="Contacts")
    return text


COMMANDS = [CommandSpec("get_single_user", get_single_user)]
