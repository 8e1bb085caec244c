"""`/bulkauth audit [filter]`: the newest matching audit events, and the "Export CSV" button
that sends every matching event to the user's DM. Each search and export is audited."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.audit.export import export_events
from bot.audit.messages import ANSWER_EVENTS, build_audit_answer
from bot.audit.query import AuditQuery, resolve_audit_filter
from bot.audit.recording import actor_of, audit
from bot.blocks.times import zone
from bot.deps import Deps
from bot.errors import UserInputError
from bot.ids import ActionId, Subcommand
from bot.slack.access import SlackActor
from bot.slack.upload import Upload, scratch_file, upload_file
from handlers.commands import CommandRequest, SubcommandHandler
from storage.audit import AuditAction, count_events, latest_events, record_event
from storage.credentials import credentials_by_nylas_id
from storage.models import utcnow


async def audit_command(request: CommandRequest) -> None:
    """`/bulkauth audit [email|@person|credential|run]`."""
    deps, actor = request.deps, request.actor
    try:
        query = await resolve_audit_filter(deps.sessions, " ".join(request.args))
    except UserInputError as error:
        await request.ack(response_type="ephemeral", text=error.user_message)
        return
    await request.ack()
    filters = query.filters()
    async with deps.sessions() as session:
        events = await latest_events(session=session, filters=filters, limit=ANSWER_EVENTS)
        matching = await count_events(session=session, filters=filters)
        known = await credentials_by_nylas_id(
            session=session, nylas_ids=sorted({e.credential_id for e in events if e.credential_id})
        )
        await record_event(
            session=session,
            actor=actor_of(actor),
            action=AuditAction.AUDIT_QUERIED,
            details={"filter": query.model_dump(exclude_none=True), "matching": matching},
        )
        await session.commit()
    message = build_audit_answer(
        query,
        events,
        matching=matching,
        tz=zone(actor.tz),
        credential_names={nylas_id: record.name for nylas_id, record in known.items()},
    )
    await request.respond(response_type="ephemeral", **message.as_kwargs())


async def export_audit(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, deps: Deps, actor: SlackActor
) -> None:
    """ "Export CSV": every matching event, oldest first, as a file in the user's DM."""
    await ack()
    query = AuditQuery.parse(body["actions"][0]["value"])
    opened = await deps.slack.conversations_open(users=actor.user_id)
    dm = str(opened["channel"]["id"])
    filename = f"audit-{query.slug()}-{utcnow():%Y%m%d-%H%M}.csv"
    with scratch_file(filename) as path:
        with path.open("w", newline="", encoding="utf-8") as out:
            rows = await export_events(
                sessions=deps.sessions, filters=query.filters(), output_format="csv", out=out
            )
        upload = Upload(
            filename=filename,
            title=f"Audit log: {rows:,} events",
            channel_id=dm,
            initial_comment=f"The audit log, {query.describe()}: {rows:,} events, oldest first "
            "(times in UTC).",
        )
        await upload_file(deps.slack, deps.http, path, upload)
    await audit(
        deps.sessions,
        actor=actor_of(actor),
        action=AuditAction.AUDIT_EXPORTED,
        details={"filter": query.model_dump(exclude_none=True), "rows": rows},
    )
    await respond(
        response_type="ephemeral",
        replace_original=False,
        text=f"The CSV of {rows:,} events is in your direct messages with me.",
    )


SUBCOMMANDS: dict[Subcommand, SubcommandHandler] = {Subcommand.AUDIT: audit_command}


def register(app: AsyncApp) -> None:
    app.action(ActionId.EXPORT_AUDIT)(export_audit)
