"""Recording audit events from the bot: actors from Slack users, one transaction per event."""

from __future__ import annotations

import getpass
from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.errors import UserInputError
from bot.slack.access import SlackActor
from storage.audit import CLI_ACTOR_PREFIX, Actor, AuditAction, Subject, record_event
from storage.db import Sessions


def actor_of(slack_actor: SlackActor) -> Actor:
    return Actor(id=slack_actor.user_id, name=slack_actor.display_name)


def cli_actor() -> Actor:
    """Whoever runs the `bulkauth` command: `cli:<operating-system user>`."""
    user = getpass.getuser()
    return Actor(id=f"{CLI_ACTOR_PREFIX}{user}", name=user)


async def audit(
    sessions: Sessions,
    *,
    actor: Actor,
    action: AuditAction,
    subject: Subject = Subject(),
    outcome: str = "ok",
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event in a transaction of its own."""
    async with sessions() as session:
        await record_event(
            session=session,
            actor=actor,
            action=action,
            subject=subject,
            outcome=outcome,
            request_id=request_id,
            details=details,
        )
        await session.commit()


async def refuse_submission(
    ack: AsyncAck, sessions: Sessions, *, actor: SlackActor, error: UserInputError, form: str
) -> None:
    """Show a modal's field errors in place (the ack), then audit the refusal (fields only,
    never the values)."""
    await ack(response_action="errors", errors=error.field_errors)
    await audit(
        sessions,
        actor=actor_of(actor),
        action=AuditAction.INPUT_REJECTED,
        outcome="refused",
        details={"form": form, "fields": sorted(error.field_errors)},
    )
