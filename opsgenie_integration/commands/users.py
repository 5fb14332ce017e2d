"""The user commands: Get Single User."""

from __future__ import annotations

from ..command import CommandContext, CommandResult, CommandSpec
from ._answers import answer_data


def get_single_user(ctx: CommandContext) -> CommandResult:
    """Get Single User: ``GET /v2/users/{id or username}``. Output ``user``: ``data`` as answered.

    Raises:
        errors.BadResponseError: ``data`` is not an object.
    """
    body = ctx.client.get_user(ctx.inputs["user"])
    return CommandResult(raw_data=body, outputs={"user": answer_data(body, dict, "user")})


COMMANDS = [CommandSpec("get_single_user", get_single_user)]
