"""`/bulkauth status`: runs by state, open consent requests and expiring client secrets.

Its Cancel and Resume buttons are handled by `run_controls` (the same as on a run's own
message), so this module has only its subcommand (routed by `commands`)."""

from __future__ import annotations

from bot.home.dashboard import load_status
from bot.home.status import build_status_message
from bot.ids import Subcommand
from handlers.commands import CommandRequest, SubcommandHandler
from storage.models import utcnow


async def status_command(request: CommandRequest) -> None:
    await request.ack()
    report = await load_status(request.deps.sessions, now=utcnow())
    message = build_status_message(report)
    await request.respond(response_type="ephemeral", **message.as_kwargs())


SUBCOMMANDS: dict[Subcommand, SubcommandHandler] = {Subcommand.STATUS: status_command}
