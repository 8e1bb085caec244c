"""Recording audit events from the bot: actors from Slack users, one transaction per event."""

from __future__ import annotations

from typing import Any

from bot.access import SlackActor
from storage.audit import Actor, AuditAction, Subject, record_event
from storage.db import Sessions


def actor_of(slack_actor: SlackActor) -> Actor:
    return Actor(id=slack_actor.user_id, name=slack_actor.display_name)


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
