"""Approval buttons in the approval channel (Approve / Reject with a reason) and the Cancel
and Resume buttons of a run's progress message. Each decision is applied exactly once, only to
the run of the message it was clicked in, and its Slack side effects never leave a run without a
place to report."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit.recording import actor_of, audit
from bot.blocks import escape, plain_message
from bot.blocks.metadata import RunRef
from bot.deps import Deps
from bot.ids import ActionId, BlockId, CallbackId
from bot.runs.approving import Approval, Tally
from bot.runs.messages import approval_outcome, build_approval_request, build_decided_request
from bot.runs.modals import build_reject_reason_modal
from bot.runs.policy import approvals_line
from bot.slack.access import SlackActor
from bot.slack.client import CALL_FAILED, failure_reason, told_reason
from bot.slack.forms import ViewState
from bot.slack.notify import channel_of, tell_user
from storage.audit import AuditAction, Subject
from storage.models import BulkRun, ItemStatus, RequestKind, RunStatus, as_utc, utcnow
from storage.runs import get_run, item_counts

log = logging.getLogger(__name__)


async def load_run(deps: Deps, run_id: int) -> BulkRun | None:
    async with deps.sessions() as session:
        return await get_run(session=session, run_id=run_id)


def clicked_on(ref: RunRef, *messages: tuple[str | None, str | None]) -> bool:
    return (ref.channel_id, ref.message_ts) in messages


async def _decision_refusal(deps: Deps, actor: SlackActor, run: BulkRun | None, ref: RunRef) -> str:
    """Why `actor` may not decide on `run` from the message in `ref` ("" when they may). An
    undecided request past its time is expired here, whether or not the sweep got to it."""
    if run is None:
        return "This run does not exist."
    if not clicked_on(ref, (run.approval_channel_id, run.approval_ts)):
        return f"This button does not belong to run {run.id}'s approval request."
    if run.requested_by == actor.user_id:
        return "You cannot approve or reject your own request; another approver must."
    if not await deps.access.may_decide(actor):
        return "Only approvers (BULKAUTH_APPROVERS, BULKAUTH_APPROVER_GROUP) may decide on runs."
    now = utcnow()
    if run.status == RunStatus.EXPIRED or (
        run.status == RunStatus.AWAITING_APPROVAL
        and run.expires_at is not None
        and as_utc(run.expires_at) <= now
    ):
        await deps.approvals.expire(run, now=now)
        return f"Run {run.id} expired without a decision; it can no longer be approved."
    return ""


async def refused(
    deps: Deps, actor: SlackActor, body: dict[str, Any], run: BulkRun | None, reason: str
) -> bool:
    """True (after an ephemeral refusal, audited) when there is a `reason` to refuse."""
    if not reason:
        return False
    await audit(
        deps.sessions,
        actor=actor_of(actor),
        action=AuditAction.ACCESS_DENIED,
        outcome="refused",
        subject=Subject(run_id=run.id if run else None),
        details={"surface": "run button", "reason": reason},
    )
    await tell_user(
        deps.slack,
        user_id=actor.user_id,
        channel_id=channel_of(body),
        message=plain_message(reason),
    )
    return True


async def already_decided(deps: Deps, actor: SlackActor, body: dict[str, Any], run_id: int) -> None:
    run = await load_run(deps, run_id)
    who = f" by <@{run.approved_by}>" if run and run.approved_by else ""
    status = run.status.replace("_", " ") if run else "gone"
    await tell_user(
        deps.slack,
        user_id=actor.user_id,
        channel_id=channel_of(body),
        message=plain_message(f"Run {run_id} was already decided{who}: {status}."),
    )


def clicked_run(body: dict[str, Any]) -> RunRef:
    """The run named by the clicked button, with the message it was clicked in."""
    ref = RunRef.parse(body["actions"][0]["value"])
    container = body.get("container") or {}
    return ref.model_copy(
        update={
            "channel_id": container.get("channel_id") or "",
            "message_ts": container.get("message_ts") or "",
        }
    )


def request_summary(body: dict[str, Any], run: BulkRun) -> str:
    """The request's own text (from the clicked message) so the decision keeps the plan."""
    blocks = (body.get("message") or {}).get("blocks") or []
    text = ((blocks[0].get("text") or {}).get("text") or "") if blocks else ""
    return text or f"Run {run.id} requested by <@{run.requested_by}>."


async def close_request(deps: Deps, ref: RunRef, run: BulkRun, summary: str, outcome: str) -> str:
    """Replace the request's buttons with the decision and tell the requester; returns Slack's
    error when the request message could not be edited ("" when it was)."""
    decided = build_decided_request(run, summary, outcome)
    problem = ""
    try:
        await deps.slack.chat_update(
            channel=ref.channel_id, ts=ref.message_ts, **decided.as_kwargs()
        )
    except CALL_FAILED as error:
        problem = told_reason(error)
        log.warning("run.request_not_updated run=%s error=%s", run.id, failure_reason(error))
    try:
        told = plain_message(f"Your run {run.id}: {outcome}")
        await deps.slack.chat_postMessage(channel=run.requested_by, **told.as_kwargs())
    except CALL_FAILED as error:  # refused, or Slack unreachable: the decision goes on
        log.warning("run.requester_not_told run=%s error=%s", run.id, failure_reason(error))
    return problem


async def approve_run(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """Approve: counted once per approver, never the requester, refused when stale; the
    approval that completes the request starts the run in the thread (or, when the bot can no
    longer post there, in the requester's DMs)."""
    await ack()
    ref = clicked_run(body)
    run = await load_run(deps, ref.run_id)
    if await refused(deps, actor, body, run, await _decision_refusal(deps, actor, run, ref)):
        return
    assert run is not None
    if await refused(deps, actor, body, run, await deps.approvals.stale_reason(run)):
        return
    now = utcnow()
    approval = await deps.approvals.approve(ref.run_id, actor, now=now)
    if approval.tally == Tally.CLOSED:
        await already_decided(deps, actor, body, ref.run_id)
        return
    if approval.tally == Tally.TWICE:
        twice = f"You have already approved run {run.id}; another approver must."
        await refused(deps, actor, body, run, twice)
        return
    if approval.tally == Tally.RECORDED:
        await _show_approvals(deps, ref, run, body, approval)
        return
    run = await load_run(deps, ref.run_id)
    assert run is not None
    outcome = approval_outcome(approved=True, by=actor.user_id, at=now)
    if approval.required > 1:
        outcome += " " + escape(approvals_line(list(approval.approvers), approval.required))
    problem = await close_request(deps, ref, run, request_summary(body, run), outcome)
    if run.kind == RequestKind.DELETE_CREDENTIAL:  # no users to work: the one DELETE, now
        await deps.deletions.carry_out(ref.run_id, actor)
        return
    where = await deps.runs.start(
        ref.run_id,
        channel_id=ref.channel_id,
        thread_ts=ref.message_ts,
        fallbacks=[run.requested_by, actor.user_id],
    )
    if problem:
        note = (
            f"Run {run.id} is approved and started, but its request message could not be "
            f"updated: {problem}. Its progress is in <#{where}>."
        )
        await tell_user(deps.slack, user_id=actor.user_id, message=plain_message(note))


async def _show_approvals(
    deps: Deps, ref: RunRef, run: BulkRun, body: dict[str, Any], approval: Approval
) -> None:
    """The request keeps its buttons and says who approved so far: "1 of 2 approvals (Ann)"."""
    async with deps.sessions() as session:
        counts = await item_counts(session=session, run_id=run.id or 0)
    calls = counts.get(ItemStatus.PENDING, 0)
    message = build_approval_request(
        run, request_summary(body, run), calls=calls, approvers=approval.approvers
    )
    try:
        await deps.slack.chat_update(
            channel=ref.channel_id, ts=ref.message_ts, **message.as_kwargs()
        )
    except CALL_FAILED as error:  # refused, or Slack unreachable: the approval counts all the same
        log.warning("run.request_not_updated run=%s error=%s", run.id, failure_reason(error))


async def reject_run(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """Reject: ask for a reason first (the decision happens on submit)."""
    await ack()
    ref = clicked_run(body)
    run = await load_run(deps, ref.run_id)
    if await refused(deps, actor, body, run, await _decision_refusal(deps, actor, run, ref)):
        return
    await deps.slack.views_open(trigger_id=body["trigger_id"], view=build_reject_reason_modal(ref))


async def submit_rejection(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    await ack()
    ref = RunRef.parse(view["private_metadata"])
    run = await load_run(deps, ref.run_id)
    if await refused(deps, actor, body, run, await _decision_refusal(deps, actor, run, ref)):
        return
    reason = ViewState(view).text(BlockId.REJECT_REASON)
    now = utcnow()
    if not await deps.runs.decide(ref.run_id, actor, approved=False, reason=reason, now=now):
        await already_decided(deps, actor, body, ref.run_id)
        return
    run = await load_run(deps, ref.run_id)
    assert run is not None
    outcome = approval_outcome(approved=False, by=actor.user_id, at=now, reason=reason)
    summary = f"Run {run.id} requested by <@{run.requested_by}>."
    problem = await close_request(deps, ref, run, summary, outcome)
    if problem:
        note = f"Run {run.id} is rejected, but its request message could not be updated: {problem}."
        await tell_user(deps.slack, user_id=actor.user_id, message=plain_message(note))


def register(app: AsyncApp) -> None:
    app.action(ActionId.APPROVE_RUN)(approve_run)
    app.action(ActionId.REJECT_RUN)(reject_run)
    app.view(CallbackId.REJECT_REASON)(submit_rejection)
