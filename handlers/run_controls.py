"""The Cancel and Resume buttons of a run (its progress message, or its approval message for
a request not yet decided): for the requester, approvers and admins, audited."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit.recording import actor_of, audit
from bot.blocks.metadata import RunRef
from bot.deps import Deps
from bot.ids import ActionId
from bot.slack.access import SlackActor
from handlers.approvals import (
    already_decided,
    clicked_on,
    clicked_run,
    close_request,
    load_run,
    refused,
    request_summary,
)
from storage.audit import AuditAction, Subject, record_event
from storage.holds import resume_run as resume_held_run
from storage.models import BulkRun, RunStatus, utcnow
from storage.runs import ACTIVE_RUN_STATUSES, transition

log = logging.getLogger(__name__)


async def _cancel_refusal(deps: Deps, actor: SlackActor, run: BulkRun | None, ref: RunRef) -> str:
    """Why `actor` may not cancel `run` from the message in `ref` ("" when they may): the
    requester, an approver or an admin, on the run's progress or approval message."""
    if run is None:
        return "This run does not exist."
    own_messages = ((run.channel_id, run.message_ts), (run.approval_channel_id, run.approval_ts))
    if not clicked_on(ref, *own_messages):
        return f"This button does not belong to run {run.id}."
    allowed = (
        run.requested_by == actor.user_id
        or deps.access.is_allowed(actor)
        or await deps.access.may_decide(actor)
    )
    return "" if allowed else "Only the requester, an approver or an admin may cancel a run."


async def cancel_run(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """Cancel: no new items are sent; finished ones stay as they are. An awaiting request's
    buttons are replaced; who cancelled is audited."""
    await ack()
    ref = clicked_run(body)
    run = await load_run(deps, ref.run_id)
    if await refused(deps, actor, body, run, await _cancel_refusal(deps, actor, run, ref)):
        return
    assert run is not None
    async with deps.sessions() as session:
        won = await transition(
            session=session,
            run_id=ref.run_id,
            from_statuses=ACTIVE_RUN_STATUSES,
            to_status=RunStatus.CANCELLED,
            finished_at=utcnow(),
        )
        await session.commit()
    if not won:
        await already_decided(deps, actor, body, ref.run_id)
        return
    await audit(
        deps.sessions,
        actor=actor_of(actor),
        action=AuditAction.RUN_CANCELLED,
        subject=Subject(run_id=run.id),
        details={"was": run.status},
    )
    if run.status == RunStatus.AWAITING_APPROVAL and run.approval_channel_id and run.approval_ts:
        where = RunRef(run_id=ref.run_id, channel_id=run.approval_channel_id)
        where = where.model_copy(update={"message_ts": run.approval_ts})
        outcome = f":octagonal_sign: Cancelled by <@{actor.user_id}> before a decision."
        await close_request(deps, where, run, request_summary(body, run), outcome)
        return
    await deps.run_engine.cancel(ref.run_id, cancelled_by=actor.user_id)


async def resume_run(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """Resume a held run (the requester, an approver or an admin; audited): the users that
    failed for the hold's reason are sent again, canary first."""
    await ack()
    ref = clicked_run(body)
    run = await load_run(deps, ref.run_id)
    if await refused(deps, actor, body, run, await _cancel_refusal(deps, actor, run, ref)):
        return
    assert run is not None
    async with deps.sessions() as session:
        again = await resume_held_run(session=session, run_id=ref.run_id)
        if again is not None:
            await record_event(
                session=session,
                actor=actor_of(actor),
                action=AuditAction.RUN_RESUMED,
                subject=Subject(run_id=run.id),
                details={"reason": run.hold_reason, "users_again": again},
            )
        await session.commit()
    if again is None:
        await already_decided(deps, actor, body, ref.run_id)
        return
    deps.run_engine.kick(ref.run_id)


def register(app: AsyncApp) -> None:
    app.action(ActionId.CANCEL_RUN)(cancel_run)
    app.action(ActionId.RESUME_RUN)(resume_run)
