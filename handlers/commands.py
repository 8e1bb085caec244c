"""The `/bulkauth` slash command: parses the subcommand and hands it to its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.blocks.help import build_help_message
from bot.deps import Deps
from bot.ids import CommandName, Subcommand
from bot.slack.access import SlackActor


@dataclass(frozen=True)
class CommandRequest:
    """One parsed `/bulkauth <subcommand> <args…>` invocation by an allowed user."""

    ack: AsyncAck
    respond: AsyncRespond
    body: dict[str, Any]
    args: list[str]
    deps: Deps
    actor: SlackActor

    @property
    def trigger_id(self) -> str:
        return str(self.body["trigger_id"])

    @property
    def channel_id(self) -> str:
        return str(self.body.get("channel_id") or "")


SubcommandHandler = Callable[[CommandRequest], Awaitable[None]]


async def show_help(request: CommandRequest, *, not_understood: str | None = None) -> None:
    message = build_help_message(not_understood=not_understood)
    await request.ack(response_type="ephemeral", **message.as_kwargs())


def parse(text: str) -> tuple[str, list[str]]:
    words = text.split()
    if not words:
        return Subcommand.HELP, []
    return words[0].lower(), words[1:]


def register(app: AsyncApp, routes: Mapping[Subcommand, SubcommandHandler]) -> None:
    table: dict[str, SubcommandHandler] = {Subcommand.HELP: show_help}
    table.update({str(name): handler for name, handler in routes.items()})

    async def handle_bulkauth(
        ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any], deps: Deps, actor: SlackActor
    ) -> None:
        """Slash command `/bulkauth`."""
        name, args = parse(str(body.get("text") or ""))
        request = CommandRequest(
            ack=ack, respond=respond, body=body, args=args, deps=deps, actor=actor
        )
        handler = table.get(name)
        if handler is None:
            await show_help(request, not_understood=str(body.get("text") or "").strip())
            return
        await handler(request)

    app.command(CommandName.BULKAUTH)(handle_bulkauth)
