"""Deleting a credential: how many grants depend on it (the bot's runs and a List Grants pass),
the request (a run of kind `delete_credential` with no users, approved like any run: never by
the requester), and, once approved, the DELETE at Nylas exactly once. Nylas refuses to delete a
connector's default credential; that refusal is shown as such. The bot's record is marked
deleted, never removed: runs and the audit name it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.recording import actor_of
from bot.blocks import escape, plain_message
from bot.logs import log_event
from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasApiError, NylasError, NylasNotFound
from bot.nylas.models import GrantFilters, Provider
from bot.runs.emails import UserList
from bot.runs.plan import PendingPlan, Plan
from bot.runtime.scheduling import Scheduler
from bot.slack.access import AccessPolicy, SlackActor
from bot.slack.client import CALL_FAILED, failure_reason
from storage.audit import AuditAction, EventSpec, Subject, record_events
from storage.credentials import get_credential, mark_deleted
from storage.db import Sessions
from storage.models import CredentialRecord, RequestKind, RunStatus, as_utc, utcnow
from storage.runs import get_run, grants_by_credential, runs_with_status, transition

log = logging.getLogger(__name__)
SWEEP_GRACE = timedelta(minutes=1)
DEFAULT_REFUSAL = "default"  # words in Nylas's refusal to delete a connector's active credential


@dataclass(frozen=True)
class Dependents:
    at_nylas: int  # grants Nylas lists with this credential
    by_bot: int  # mailboxes the bot's runs gave a grant with it


class CredentialDeletion:
    def __init__(
        self,
        *,
        sessions: Sessions,
        nylas: NylasClient,
        slack: AsyncWebClient,
        access: AccessPolicy,
        scheduler: Scheduler,
        scan_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._nylas = nylas
        self._slack = slack
        self._access = access
        self._scheduler = scheduler
        self._scan_seconds = scan_seconds

    def start(self) -> None:
        """An approved deletion is carried out by the click that approved it; if that process
        stopped in between, the first replica's sweep carries it out after a grace period."""
        self._scheduler.every(
            self.sweep, seconds=self._scan_seconds, id="credential-deletion-sweep"
        )

    async def sweep(self) -> None:
        now = utcnow()
        async with self._sessions() as session:
            approved = await runs_with_status(session=session, statuses=[RunStatus.APPROVED])
        for run in approved:
            decided = as_utc(run.decided_at) if run.decided_at else now
            if run.kind == RequestKind.DELETE_CREDENTIAL and now - decided > SWEEP_GRACE:
                assert run.id is not None
                approver = await self._access.actor(run.approved_by or run.requested_by)
                await self.carry_out(run.id, approver)

    async def dependents(self, credential: CredentialRecord) -> Dependents:
        """One List Grants pass over the provider's grants, and the bot's own runs."""
        assert credential.id is not None
        async with self._sessions() as session:
            by_bot = (await grants_by_credential(session=session)).get(credential.id, 0)
        provider: Provider = "google" if credential.provider == "google" else "microsoft"
        at_nylas = 0
        async for grant in self._nylas.iter_grants(GrantFilters(provider=provider)):
            at_nylas += grant.credential_id == credential.nylas_credential_id
        return Dependents(at_nylas=at_nylas, by_bot=by_bot)

    @staticmethod
    def request(
        credential: CredentialRecord,
        dependents: Dependents,
        *,
        requester: SlackActor,
        reason: str,
        channel_id: str,
    ) -> PendingPlan:
        """The request as a plan of no users, for the runs' approval machinery."""
        assert credential.id is not None
        plan = Plan(
            credential_id=credential.id,
            credential_name=credential.name,
            nylas_credential_id=credential.nylas_credential_id,
            provider=credential.provider,
            scopes=(),
            skip_existing=False,
            users=UserList(),
            new=(),
            existing_valid={},
            existing_invalid={},
            kind=RequestKind.DELETE_CREDENTIAL,
            dependents=dependents.at_nylas,
            bot_grants=dependents.by_bot,
        )
        return PendingPlan(plan=plan, requester=requester, channel_id=channel_id, reason=reason)

    async def carry_out(self, run_id: int, approver: SlackActor) -> str:
        """The approved request: the run ends (exactly once, so one DELETE), then Nylas is
        asked; the outcome is told in the request's thread and to the requester, and returned
        ("" when another click or replica got there first)."""
        told = await self._delete(run_id, approver)
        if told:
            async with self._sessions() as session:
                run = await get_run(session=session, run_id=run_id)
            assert run is not None
            places = ((run.approval_channel_id, run.approval_ts), (run.requested_by, None))
            for channel, thread in places:
                if not channel:
                    continue
                try:
                    await self._slack.chat_postMessage(
                        channel=channel, thread_ts=thread, **plain_message(told).as_kwargs()
                    )
                except CALL_FAILED as error:  # refused, or Slack unreachable: the next place
                    log.warning("credential.deletion_not_told error=%s", failure_reason(error))
        return told

    async def _delete(self, run_id: int, approver: SlackActor) -> str:
        async with self._sessions() as session:
            won = await transition(
                session=session,
                run_id=run_id,
                from_statuses=[RunStatus.APPROVED],
                to_status=RunStatus.FINISHED,
                started_at=utcnow(),
                finished_at=utcnow(),
            )
            run = await get_run(session=session, run_id=run_id)
            await session.commit()
        if not won or run is None:
            return ""
        async with self._sessions() as session:
            owner = run.credential_id  # a credential deletion always names its credential
            credential = owner and await get_credential(session=session, credential_id=owner)
        assert credential and credential.id is not None
        provider: Provider = "google" if credential.provider == "google" else "microsoft"
        name = escape(credential.name)
        refusal, request_id = "", None
        try:
            await self._nylas.delete_credential(provider, credential.nylas_credential_id)
        except NylasNotFound:
            pass  # already gone at Nylas: record it as deleted
        except NylasError as error:
            refusal = error.message if isinstance(error, NylasApiError) else error.user_message
            request_id = error.request_id
        async with self._sessions() as session:
            if not refusal:
                await mark_deleted(
                    session=session, credential_id=credential.id, by=approver.user_id, at=utcnow()
                )
            event = EventSpec(
                actor=actor_of(approver),
                action=AuditAction.CREDENTIAL_DELETED,
                outcome="refused" if refusal else "ok",
                subject=Subject(credential_id=credential.nylas_credential_id, run_id=run_id),
                request_id=request_id,
                details={
                    "name": credential.name,
                    "requested_by": run.requested_by,
                    "approvers": run.approved_by_name,
                    "reason": run.reason,
                    **({"error": refusal[:500]} if refusal else {}),
                },
            )
            await record_events(session=session, specs=[event])
            await session.commit()
        log_event(log, "credential.deleted", run=run_id, refused=bool(refusal))
        if refusal and DEFAULT_REFUSAL in refusal.lower():
            return (
                f":no_entry: Nylas refused to delete *{name}*: it is the {provider} connector's "
                "default (active) credential. Make another credential the default first. "
                f"Nylas said: {escape(refusal)}"
            )
        if refusal:
            return f":x: Nylas refused to delete *{name}*: {escape(refusal)}"
        return f":wastebasket: The credential *{name}* was deleted at Nylas; its grants stopped."
