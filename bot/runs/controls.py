"""Cancel and resume a run: the one path behind every surface (the progress and approval
messages, `/bulkauth status`, the App Home and `bulkauth runs cancel|resume`). Who may act is
the surface's check (a Slack person: requester, approver or admin; the terminal: its operator);
the transition happens exactly once and names who did it in the audit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from slack_sdk.models.blocks import ButtonElement, ConfirmObject

from bot.blocks.metadata import RunRef
from bot.ids import ActionId
from storage.audit import CLI_ACTOR_PREFIX, Actor, AuditAction, Subject, record_event
from storage.db import Sessions
from storage.holds import resume_run
from storage.models import BulkRun, ItemStatus, RequestKind, RunStatus, utcnow
from storage.runs import ACTIVE_RUN_STATUSES, get_run, transition


@dataclass(frozen=True)
class Cancelled:
    run: BulkRun  # as it was before the cancel
    was: str


def who(actor_id: str) -> str:
    """How Slack names whoever acted: a mention, or the terminal user as code."""
    return f"`{actor_id}` (terminal)" if actor_id.startswith(CLI_ACTOR_PREFIX) else f"<@{actor_id}>"


async def cancel(
    sessions: Sessions, run_id: int, actor: Actor, *, reported_here: bool
) -> Cancelled | None:
    """Any active run → cancelled, once (None: no such run or it had already ended). With
    `reported_here` the caller tells Slack; otherwise a replica's scan claims the report."""
    async with sessions() as session:
        run = await get_run(session=session, run_id=run_id)
        if run is None:
            return None
        was = run.status
        now = utcnow()
        won = await transition(
            session=session,
            run_id=run_id,
            from_statuses=ACTIVE_RUN_STATUSES,
            to_status=RunStatus.CANCELLED,
            finished_at=now,
            cancelled_by=actor.id,
            end_reported_at=now if reported_here else None,
        )
        if won:
            await record_event(
                session=session,
                actor=actor,
                action=AuditAction.RUN_CANCELLED,
                subject=Subject(run_id=run_id),
                details={"was": was},
            )
        await session.commit()
    return Cancelled(run=run, was=was) if won else None


async def resume(sessions: Sessions, run_id: int, actor: Actor) -> int | None:
    """A held run → running, once, audited; how many users go again (None: it was not held).
    The engine picks it up on its next scan, or at once when the caller kicks it."""
    async with sessions() as session:
        run = await get_run(session=session, run_id=run_id)
        again = await resume_run(session=session, run_id=run_id) if run else None
        if run is not None and again is not None:
            await record_event(
                session=session,
                actor=actor,
                action=AuditAction.RUN_RESUMED,
                subject=Subject(run_id=run_id),
                details={"reason": run.hold_reason, "users_again": again},
            )
        await session.commit()
    return again


def undo_button(run: BulkRun, counts: Counter[str]) -> ButtonElement | None:
    """An ended grant run that created grants offers to revoke exactly those (a revoke plan,
    approved like any revocation); Slack asks to confirm first."""
    created = counts[ItemStatus.CREATED]
    if run.kind != RequestKind.GRANT or not created or run.id is None:
        return None
    return ButtonElement(
        action_id=ActionId.UNDO_RUN,
        text="Revoke the grants this run created",
        value=RunRef(run_id=run.id).model_dump_json(),
        confirm=ConfirmObject(
            title=f"Undo run {run.id}?",
            text=f"Plan the revocation of the {created:,} grants this run created (not those it "
            "re-authenticated). You give a reason; another approver must approve.",
            confirm="Plan revocation",
            deny="Keep them",
            style="danger",
        ),
    )
