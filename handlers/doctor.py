"""`/bulkauth doctor [credential]`: the checklist, only to the person who asked. It is acked at
once and answered through the response URL when the checks are done (a few seconds)."""

from __future__ import annotations

from bot.blocks.doctor import build_doctor_message
from bot.doctor import Doctor
from bot.errors import NotFound
from bot.ids import Subcommand
from bot.runtime.tasks import OnBehalfOf
from handlers.commands import CommandRequest, SubcommandHandler
from storage.credentials import find_credential, list_credentials


async def doctor_command(request: CommandRequest) -> None:
    await request.ack(response_type="ephemeral", text=":stethoscope: Checking…")
    request.deps.tasks.spawn(
        _examine(request),
        name="doctor",
        for_=OnBehalfOf(request.actor.user_id, request.channel_id or None),
    )


async def _examine(request: CommandRequest) -> None:
    deps, wanted = request.deps, " ".join(request.args).strip()
    async with deps.sessions() as session:
        if wanted:
            credential = await find_credential(session=session, name_or_id=wanted)
            if credential is None:
                raise NotFound(f"No credential is named `{wanted}`.")
            credentials = [credential]
        else:
            credentials = await list_credentials(session=session)
    doctor = Doctor(
        settings=deps.settings,
        slack=deps.slack,
        nylas=deps.nylas,
        database=deps.database,
        sessions=deps.sessions,
        http=deps.http,
    )
    message = build_doctor_message(await doctor.examine(credentials))
    await request.respond(response_type="ephemeral", replace_original=True, **message.as_kwargs())


SUBCOMMANDS: dict[Subcommand, SubcommandHandler] = {Subcommand.DOCTOR: doctor_command}
