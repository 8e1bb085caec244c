"""The approval step's rules at click time and over time: approvals counted per distinct
approver until the request has enough, stale approvals refused, one reminder, and expiry.
Each is applied exactly once across replicas and restarts (conditional updates)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.recording import actor_of
from bot.blocks import escape, plain_message
from bot.blocks.times import slack_time
from bot.logs import log_event
from bot.runs.kinds import kind_verb
from bot.runs.messages import build_decided_request, reason_line
from bot.runtime.scheduling import Scheduler
from bot.slack.access import AccessPolicy, SlackActor
from bot.slack.client import CALL_FAILED, failure_reason
from storage.approvals import (
    add_approval,
    approvals_of,
    awaiting_due,
    basis_change,
    claim_reminder,
    lock_awaiting,
    newer_request,
    request_basis,
    unclaim_reminder,
)
from storage.audit import Actor, AuditAction, EventSpec, Subject, record_events
from storage.db import Sessions
from storage.models import BulkRun, RequestKind, RunStatus, as_utc, utcnow
from storage.runs import get_run, transition

log = logging.getLogger(__name__)
BOT_ACTOR = Actor(id="bulkauth", name="bulkauth")  # what the bot does by itself (expiry)


class Tally(StrEnum):
    RECORDED = "recorded"  # counted; more approvals are needed
    APPROVED = "approved"  # this approval completed the request
    TWICE = "twice"  # this person had approved it already
    CLOSED = "closed"  # no longer awaiting approval


@dataclass(frozen=True)
class Approval:
    tally: Tally
    approvers: tuple[str, ...] = ()  # names, in the order they approved
    required: int = 1


def request_summary(run: BulkRun) -> str:
    """The request in one line, for messages written without the plan at hand."""
    name = escape(run.credential_name)
    what = {
        RequestKind.REVOKE: f"revoke the grants of {run.total:,} users of *{name}*",
        RequestKind.DELETE_CREDENTIAL: f"delete the credential *{name}*",
    }.get(
        RequestKind(run.kind), f"{kind_verb(run.kind)} grants for {run.total:,} users of *{name}*"
    )
    return f"Run {run.id} requested by <@{run.requested_by}>: {what}.\n{reason_line(run)}"


class ApprovalDesk:
    def __init__(
        self,
        *,
        sessions: Sessions,
        slack: AsyncWebClient,
        access: AccessPolicy,
        scheduler: Scheduler,
        scan_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._slack = slack
        self._access = access
        self._scheduler = scheduler
        self._scan_seconds = scan_seconds

    def start(self) -> None:
        self._scheduler.every(self.sweep, seconds=self._scan_seconds, id="approval-sweep")

    async def approve(self, run_id: int, actor: SlackActor, *, now: datetime) -> Approval:
        """Count `actor`'s approval; the one that reaches the required number approves."""
        async with self._sessions() as session:
            if not await lock_awaiting(session=session, run_id=run_id):
                return Approval(Tally.CLOSED)
            added = await add_approval(
                session=session,
                run_id=run_id,
                approver_id=actor.user_id,
                approver_name=actor.display_name,
                at=now,
            )
            run = await get_run(session=session, run_id=run_id)
            assert run is not None
            names = tuple(
                a.approver_name for a in await approvals_of(session=session, run_id=run_id)
            )
            required = run.approvals_required
            if not added:
                await session.rollback()  # attributes expire here: read before
                return Approval(Tally.TWICE, names, required)
            complete = len(names) >= run.approvals_required
            if complete:
                await transition(
                    session=session,
                    run_id=run_id,
                    from_statuses=[RunStatus.AWAITING_APPROVAL],
                    to_status=RunStatus.APPROVED,
                    approved_by=actor.user_id,
                    approved_by_name=", ".join(names)[:255],
                    decided_at=now,
                )
            event = EventSpec(
                actor=actor_of(actor),
                action=AuditAction.RUN_APPROVED,
                subject=Subject(run_id=run_id),
                outcome="ok" if complete else "partial",
                details={
                    "requested_by": run.requested_by,
                    "approval": f"{len(names)} of {run.approvals_required}",
                    "reason": run.reason,
                },
            )
            await record_events(session=session, specs=[event])
            await session.commit()
        if complete:
            log_event(log, "run.decided", run=run_id, decision="approved", by=actor.user_id)
        return Approval(
            Tally.APPROVED if complete else Tally.RECORDED, names, run.approvals_required
        )

    async def stale_reason(self, run: BulkRun) -> str:
        """Why approving `run` now would approve something else than was planned ("" if not)."""
        async with self._sessions() as session:
            basis = await request_basis(session=session, credential_id=run.credential_id)
            newer = await newer_request(session=session, run=run)
        name = escape(run.credential_name)
        change = basis_change(run.basis, basis)
        if change == "deleted":
            return f"Run {run.id} is stale: the credential {name} was deleted after the plan."
        if change == "credential" and run.credential_id is None:
            return f"Run {run.id} is stale: a credential was registered, rotated or deleted."
        if change == "credential":
            return f"Run {run.id} is stale: the credential {name} was rotated after the plan."
        if change == "consent":
            return f"Run {run.id} is stale: the admin consent of {name} changed after the plan."
        if newer is not None:
            return f"Run {run.id} is stale: run {newer} is a newer plan for the same users."
        return ""

    async def sweep(self, now: datetime | None = None) -> None:
        """Expire requests past their time; remind approvers once."""
        moment = now or utcnow()
        async with self._sessions() as session:
            due = await awaiting_due(session=session, now=moment)
        for run in due:
            if run.expires_at is not None and as_utc(run.expires_at) <= moment:
                await self.expire(run, now=moment)
            else:
                await self._remind(run, now=moment)

    async def expire(self, run: BulkRun, *, now: datetime) -> bool:
        """Awaiting → expired, exactly once: buttons replaced, requester told, audited."""
        assert run.id is not None
        async with self._sessions() as session:
            won = await transition(
                session=session,
                run_id=run.id,
                from_statuses=[RunStatus.AWAITING_APPROVAL],
                to_status=RunStatus.EXPIRED,
                finished_at=now,
            )
            if won:
                event = EventSpec(
                    actor=BOT_ACTOR,
                    action=AuditAction.RUN_EXPIRED,
                    subject=Subject(run_id=run.id),
                    outcome="expired",
                    details={"requested_by": run.requested_by, "reason": run.reason},
                )
                await record_events(session=session, specs=[event])
            await session.commit()
        if not won:
            return False
        log_event(log, "run.expired", run=run.id)
        outcome = f":hourglass: Expired at {slack_time(now)}: nobody decided in time."
        await self._post_quietly(
            "chat_update",
            channel=run.approval_channel_id,
            ts=run.approval_ts,
            **build_decided_request(run, request_summary(run), outcome).as_kwargs(),
        )
        told = plain_message(
            f"Your run {run.id} expired without a decision. Plan it again if it is still needed."
        )
        await self._post_quietly("chat_postMessage", channel=run.requested_by, **told.as_kwargs())
        return True

    async def _remind(self, run: BulkRun, *, now: datetime) -> None:
        """Claimed by one replica, posted, then audited: a post Slack refused or did not answer
        for leaves the reminder owed, and a later sweep posts it (at least once: an unanswered
        post may have been shown)."""
        assert run.id is not None
        async with self._sessions() as session:
            won = await claim_reminder(session=session, run_id=run.id, at=now)
            await session.commit()
        if not won or not run.approval_channel_id:
            return
        expires = f" It expires at {slack_time(as_utc(run.expires_at))}." if run.expires_at else ""
        text = f"{self._access.approver_mentions()} run {run.id} still awaits a decision.{expires}"
        try:
            await self._slack.chat_postMessage(
                channel=run.approval_channel_id,
                thread_ts=run.approval_ts,
                **plain_message(text).as_kwargs(),
            )
        except CALL_FAILED as error:
            reason = failure_reason(error)
            log.warning("approval.reminder_not_posted run=%s error=%s", run.id, reason)
            async with self._sessions() as session:
                await unclaim_reminder(session=session, run_id=run.id)
                await session.commit()
            return
        async with self._sessions() as session:
            event = EventSpec(
                actor=BOT_ACTOR, action=AuditAction.RUN_REMINDED, subject=Subject(run_id=run.id)
            )
            await record_events(session=session, specs=[event])
            await session.commit()

    async def _post_quietly(self, method: str, **kwargs: object) -> None:
        """A Slack call whose failure is logged, never raised: the decision stands either way."""
        if not kwargs.get("channel"):
            return
        try:
            await getattr(self._slack, method)(**kwargs)
        except CALL_FAILED as error:
            log.warning("approval.%s_failed error=%s", method, failure_reason(error))
