"""Approval buttons in the approval channel (Approve / Reject with a reason) and the Cancel
button of a run's progress message. Each decision is applied exactly once."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.access import SlackActor
from bot.auditing import actor_of, audit
from bot.blocks import plain_message
from bot.blocks.grants import (
    approval_outcome,
    build_decided_request,
    build_reject_reason_modal,
)
from bot.blocks.metadata import RunRef
from bot.deps import Deps
from bot.forms import ViewState
from bot.ids import ActionId, BlockId, CallbackId
from bot.notify import tell_user
from bot.runs import decide, start
from storage.audit import AuditAction, Subject
from storage.models import BulkRun, RunStatus, utcnow
from storage.runs import get_run, transition

CANCELLABLE = (
    RunStatus.AWAITING_APPROVAL,
    RunStatus.APPROVED,
    RunStatus.WAITING_FOR_CONSENT,
    RunStatus.RUNNING,
)


async def _load(deps: Deps, run_id: int) -> BulkRun | None:
    async with deps.sessions() as session:
        return await get_run(session=session, run_id=run_id)


async def _refuse(
    deps: Deps,
    actor: SlackActor,
    body: dict[str, Any],
    run: BulkRun | None,
) -> bool:
    """True (after an ephemeral refusal, audited) when `actor` may not decide on `run`."""
    if run is None:
        reason = "This run does not exist."
    elif run.requested_by == actor.user_id:
        reason = "You cannot approve or reject your own request; another approver must."
    elif not deps.access.may_decide(actor):
        reason = "Only approvers (BULKAUTH_APPROVERS) may decide on runs."
    else:
        return False
    await audit(
        deps.sessions,
        actor=actor_of(actor),
        action=AuditAction.ACCESS_DENIED,
        outcome="refused",
        subject=Subject(run_id=run.id if run else None),
        details={"surface": "approval", "reason": reason},
    )
    await tell_user(
        deps.slack,
        user_id=actor.user_id,
        channel_id=(body.get("channel") or {}).get("id"),
        message=plain_message(reason),
    )
    return True


async def _already_decided(
    deps: Deps, actor: SlackActor, body: dict[str, Any], run_id: int
) -> None:
    run = await _load(deps, run_id)
    who = f" by <@{run.approved_by}>" if run and run.approved_by else ""
    status = run.status.replace("_", " ") if run else "gone"
    await tell_user(
        deps.slack,
        user_id=actor.user_id,
        channel_id=(body.get("channel") or {}).get("id"),
        message=plain_message(f"Run {run_id} was already decided{who}: {status}."),
    )


def _ref(body: dict[str, Any]) -> RunRef:
    ref = RunRef.model_validate_json(body["actions"][0]["value"])
    container = body.get("container") or {}
    return ref.model_copy(
        update={
            "channel_id": container.get("channel_id") or "",
            "message_ts": container.get("message_ts") or "",
        }
    )


def _request_summary(body: dict[str, Any], run: BulkRun) -> str:
    """The request's own text (from the clicked message) so the decision keeps the plan."""
    blocks = (body.get("message") or {}).get("blocks") or []
    text = ((blocks[0].get("text") or {}).get("text") or "") if blocks else ""
    return text or f"Run {run.id} requested by <@{run.requested_by}>."


async def _close_request(deps: Deps, ref: RunRef, run: BulkRun, summary: str, outcome: str) -> None:
    """Replace the request's buttons with the decision, and tell the requester."""
    decided = build_decided_request(run, summary, outcome)
    await deps.slack.chat_update(channel=ref.channel_id, ts=ref.message_ts, **decided.as_kwargs())
    told = plain_message(f"Your run {run.id}: {outcome}")
    await deps.slack.chat_postMessage(channel=run.requested_by, **told.as_kwargs())


async def approve_run(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """Approve: exactly once, never by the requester; then the run starts in the thread."""
    await ack()
    ref = _ref(body)
    run = await _load(deps, ref.run_id)
    if await _refuse(deps, actor, body, run):
        return
    now = utcnow()
    if not await decide(deps, ref.run_id, actor, approved=True, now=now):
        await _already_decided(deps, actor, body, ref.run_id)
        return
    run = await _load(deps, ref.run_id)
    assert run is not None
    outcome = approval_outcome(approved=True, by=actor.user_id, at=now)
    await _close_request(deps, ref, run, _request_summary(body, run), outcome)
    await start(deps, ref.run_id, channel_id=ref.channel_id, thread_ts=ref.message_ts)


async def reject_run(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """Reject: ask for a reason first (the decision happens on submit)."""
    await ack()
    ref = _ref(body)
    if await _refuse(deps, actor, body, await _load(deps, ref.run_id)):
        return
    await deps.slack.views_open(trigger_id=body["trigger_id"], view=build_reject_reason_modal(ref))


async def submit_rejection(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    await ack()
    ref = RunRef.model_validate_json(view["private_metadata"])
    run = await _load(deps, ref.run_id)
    if await _refuse(deps, actor, body, run):
        return
    reason = ViewState(view).text(BlockId.REJECT_REASON)
    now = utcnow()
    if not await decide(deps, ref.run_id, actor, approved=False, reason=reason, now=now):
        await _already_decided(deps, actor, body, ref.run_id)
        return
    run = await _load(deps, ref.run_id)
    assert run is not None
    outcome = approval_outcome(approved=False, by=actor.user_id, at=now, reason=reason)
    summary = f"Run {run.id} requested by <@{run.requested_by}>."
    await _close_request(deps, ref, run, summary, outcome)


async def cancel_run(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """Cancel: no new items are sent; finished ones stay as they are."""
    await ack()
    ref = _ref(body)
    async with deps.sessions() as session:
        won = await transition(
            session=session,
            run_id=ref.run_id,
            from_statuses=CANCELLABLE,
            to_status=RunStatus.CANCELLED,
            finished_at=utcnow(),
        )
        await session.commit()
    if not won:
        await _already_decided(deps, actor, body, ref.run_id)
        return
    deps.runs.cancel_locally(ref.run_id)
    await deps.runs.wait_stopped(ref.run_id, timeout=30)
    await deps.reporter.finish(ref.run_id, cancelled_by=actor.user_id)


def register(app: AsyncApp) -> None:
    app.action(ActionId.APPROVE_RUN)(approve_run)
    app.action(ActionId.REJECT_RUN)(reject_run)
    app.view(CallbackId.REJECT_REASON)(submit_rejection)
    app.action(ActionId.CANCEL_RUN)(cancel_run)
