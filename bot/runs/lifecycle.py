"""Bulk runs from a confirmed plan to their start: writing the run, asking for approval,
deciding, starting."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.recording import actor_of
from bot.logs import log_event
from bot.runs.execution.engine import RunEngine
from bot.runs.messages import build_approval_request, build_progress, request_text
from bot.runs.plan import PendingPlan
from bot.runs.policy import ApprovalRules
from bot.slack.access import AccessPolicy, SlackActor
from bot.slack.client import CALL_FAILED, CHANNEL_PROBLEMS, failure_reason, told_reason
from bot.slack.notify import post_first
from storage.approvals import request_basis, users_digest
from storage.audit import AuditAction, EventSpec, Subject, record_events
from storage.db import Sessions
from storage.models import DESTRUCTIVE_KINDS, BulkRun, RunStatus, as_utc, utcnow
from storage.runs import (
    create_run,
    get_run,
    items_with_presets,
    set_approval_message,
    set_run_message,
    transition,
)

log = logging.getLogger(__name__)
NO_OTHER_APPROVER = "it needs an approver other than you, and none is configured to ask."


class Runs:
    """The run's use cases, from a confirmed plan to its start (the engine works it then)."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        slack: AsyncWebClient,
        access: AccessPolicy,
        engine: RunEngine,
        approval_channel: str | None,
        rate: float,
        rules: ApprovalRules,
    ) -> None:
        self._sessions = sessions
        self._slack = slack
        self._access = access
        self._engine = engine
        self._approval_channel = approval_channel
        self._rate = rate  # Nylas calls per second, for the request's time estimate
        self.rules = rules

    async def confirm(self, pending: PendingPlan, *, approval_dm: str | None = None) -> str:
        """Write the run, then ask for approval in the approval channel, or (without one)
        approve and start it at once; returns what the requester is told. A destructive request
        goes to `approval_dm` (the other approvers' DM) instead, or is withdrawn."""
        run = await self.write_run(pending)
        assert run.id is not None
        if self._approval_channel:
            return await self._request_approval(run, pending, self._approval_channel)
        if pending.plan.kind in DESTRUCTIVE_KINDS:
            if approval_dm is not None:
                return await self._request_approval(run, pending, approval_dm)
            await self._withdraw(run.id)
            return f":x: Run {run.id} was withdrawn: {NO_OTHER_APPROVER}"
        requester = pending.requester
        await self.decide(run.id, requester, approved=True, now=utcnow())
        await self.start(run.id, channel_id=requester.user_id, thread_ts=None)
        return f"Run {run.id} has started; its progress is in your DMs."

    async def _withdraw(self, run_id: int) -> None:
        async with self._sessions() as session:
            await transition(
                session=session,
                run_id=run_id,
                from_statuses=[RunStatus.AWAITING_APPROVAL],
                to_status=RunStatus.CANCELLED,
                finished_at=utcnow(),
            )
            await session.commit()

    async def _request_approval(self, run: BulkRun, pending: PendingPlan, channel: str) -> str:
        assert run.id is not None
        summary = request_text(run, pending.plan, rate=self._rate)
        request = build_approval_request(run, summary, calls=pending.plan.calls)
        try:
            posted = await self._slack.chat_postMessage(channel=channel, **request.as_kwargs())
        except CALL_FAILED as error:
            # Nobody could approve it: withdraw the run rather than leave it waiting unseen.
            await self._withdraw(run.id)
            reason = failure_reason(error)
            log_event(log, "run.withdrawn", logging.WARNING, run=run.id, error=reason)
            if reason in CHANNEL_PROBLEMS:
                return (
                    f":x: Run {run.id} was withdrawn: the bot cannot post in <#{channel}> "
                    f"({reason}). Invite it there and plan again."
                )
            return (
                f":x: Run {run.id} was withdrawn: {told_reason(error)} when the bot posted its "
                "approval request. Plan again in a moment."
            )
        async with self._sessions() as session:
            await set_approval_message(
                session=session,
                run_id=run.id,
                channel_id=str(posted["channel"]),
                ts=str(posted["ts"]),
            )
            await session.commit()
        where = f"<#{channel}>" if self._approval_channel else "a DM with the other approvers"
        return f"Run {run.id} was sent for approval in {where}."

    async def write_run(self, pending: PendingPlan) -> BulkRun:
        """The run and every one of its items, before any Nylas call; skipped users are audited."""
        plan, requester = pending.plan, pending.requester
        created = utcnow()
        awaiting = self._approval_channel is not None or plan.kind in DESTRUCTIVE_KINDS
        async with self._sessions() as session:
            basis = await request_basis(session=session, credential_id=plan.credential_id)
            run = await create_run(
                session=session,
                run=BulkRun(
                    credential_id=plan.credential_id,
                    provider=plan.provider,
                    scopes=" ".join(plan.scopes),
                    skip_existing=plan.skip_existing,
                    requested_by=requester.user_id,
                    requested_by_name=requester.display_name,
                    total=plan.size,
                    start_after=plan.start_after,
                    kind=plan.kind,
                    credential_name=plan.credential_name,
                    reason=pending.reason,
                    approvals_required=self.rules.approvals_needed(plan.kind, plan.size),
                    basis=basis,
                    users_digest=users_digest(plan.users.emails),
                    created_at=created,
                    remind_at=self.rules.remind_at(created) if awaiting else None,
                    expires_at=self.rules.expires_at(created) if awaiting else None,
                ),
            )
            assert run.id is not None
            await items_with_presets(session=session, run_id=run.id, items=plan.items())
            actor = actor_of(requester)
            specs = [
                EventSpec(
                    actor=actor,
                    action=AuditAction.RUN_REQUESTED,
                    subject=Subject(credential_id=plan.nylas_credential_id or None, run_id=run.id),
                    details={
                        "users": plan.size,
                        "calls": plan.calls,
                        "invalid": len(plan.users.invalid),
                        "kind": run.kind,
                        "reason": run.reason,
                        "approvals_required": run.approvals_required,
                    },
                )
            ]
            specs += [
                EventSpec(
                    actor=actor,
                    action=AuditAction.GRANT_SKIPPED,
                    subject=Subject(
                        credential_id=plan.nylas_credential_id or None,
                        email=email,
                        grant_id=grant_id,
                        run_id=run.id,
                    ),
                    details={"reason": "no grant" if plan.revokes else "already has a valid grant"},
                )
                for email, grant_id in plan.skipped()
            ]
            await record_events(session=session, specs=specs)
            await session.commit()
        return run

    async def decide(
        self,
        run_id: int,
        decider: SlackActor,
        *,
        approved: bool,
        now: datetime,
        reason: str = "",
    ) -> bool:
        """Awaiting approval → approved or rejected, exactly once (False: already decided)."""
        values: dict[str, object] = {
            "approved_by": decider.user_id,  # who decided, either way
            "approved_by_name": decider.display_name,
            "decided_at": now,
        }
        if not approved:
            values["rejection_reason"] = reason or None
        async with self._sessions() as session:
            won = await transition(
                session=session,
                run_id=run_id,
                from_statuses=[RunStatus.AWAITING_APPROVAL],
                to_status=RunStatus.APPROVED if approved else RunStatus.REJECTED,
                **values,
            )
            run = await get_run(session=session, run_id=run_id)
            if won and run is not None:
                event = EventSpec(
                    actor=actor_of(decider),
                    action=AuditAction.RUN_APPROVED if approved else AuditAction.RUN_REJECTED,
                    subject=Subject(run_id=run_id),
                    details={
                        "requested_by": run.requested_by,
                        **({"reason": reason} if reason else {}),
                    },
                )
                await record_events(session=session, specs=[event])
            await session.commit()
        if won:
            decision = "approved" if approved else "rejected"
            log_event(log, "run.decided", run=run_id, decision=decision, by=decider.user_id)
        return won

    async def start(
        self,
        run_id: int,
        *,
        channel_id: str,
        thread_ts: str | None,
        fallbacks: Sequence[str] = (),
    ) -> str:
        """Post the progress message (in the approval thread, or a DM), then start or queue the run;
        returns the channel the message went to. In that order: a short run can end within
        milliseconds, and its summary and CSV go to that message, so the message must exist before
        the run may start. When the bot cannot post there (removed from the channel, or Slack did
        not answer), the message goes to the first of `fallbacks` (user ids: a DM) that works."""
        async with self._sessions() as session:
            run = await get_run(session=session, run_id=run_id)
        assert run is not None and run.id is not None
        queued = run.start_after is not None and as_utc(run.start_after) > utcnow()
        progress = build_progress(
            run,
            Counter(),
            rate=None,
            eta_seconds=None,
            state="waiting for consent propagation" if queued else "starting",
        )
        # before the post: a look-up that fails leaves no message saying "starting" for ever
        starter = actor_of(await self._access.actor(run.approved_by or run.requested_by))
        places = [(channel_id, thread_ts), *((user, None) for user in fallbacks)]
        posted, thread_ts = await post_first(
            self._slack, places, progress, what=f"run {run_id}'s progress"
        )
        async with self._sessions() as session:
            await set_run_message(
                session=session,
                run_id=run_id,
                channel_id=str(posted["channel"]),
                ts=str(posted["ts"]),
                thread_ts=thread_ts or str(posted["ts"]),
            )
            await transition(
                session=session,
                run_id=run_id,
                from_statuses=[RunStatus.APPROVED],
                to_status=RunStatus.WAITING_FOR_CONSENT if queued else RunStatus.RUNNING,
                **({} if queued else {"started_at": utcnow()}),
            )
            await record_events(
                session=session,
                specs=[
                    EventSpec(
                        actor=starter,
                        action=AuditAction.RUN_STARTED,
                        subject=Subject(run_id=run_id),
                        outcome="queued" if queued else "ok",
                    )
                ],
            )
            await session.commit()
        log_event(
            log, "run.started", run=run_id, users=run.total, state="queued" if queued else "running"
        )
        if not queued:
            self._engine.kick(run_id)
        return str(posted["channel"])
