"""The consent-propagation reminder. The database is the source of truth; APScheduler
(bot/scheduling.py, in-memory job store) is only the timer, rebuilt from the database at start.

Several replicas may schedule the same reminder; the one that claims it in the database posts it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.consent.messages import build_consent_reminder
from bot.logs import log_event
from bot.runtime.scheduling import Scheduler
from bot.slack.client import CALL_FAILED, failure_reason
from storage.audit import Actor, AuditAction, Subject, record_event
from storage.consents import (
    claim_reminder,
    get_consent_request,
    reminders_due,
    unclaim_reminder,
)
from storage.credentials import get_credential
from storage.db import Sessions
from storage.models import ConsentStatus, as_utc, utcnow

log = logging.getLogger(__name__)
SCHEDULER_ACTOR = Actor(id="bulkauth", name="bulkauth scheduler")
RETRY_AFTER_FAILED_POST = timedelta(seconds=60)


def reminder_job_id(consent_id: int) -> str:
    return f"consent-reminder:{consent_id}"


class ReminderService:
    def __init__(self, *, sessions: Sessions, slack: AsyncWebClient, scheduler: Scheduler) -> None:
        self._sessions = sessions
        self._slack = slack
        self.scheduler = scheduler

    async def start(self) -> None:
        """Schedule every reminder the database says is still owed (the scheduler runs)."""
        async with self._sessions() as session:
            due = await reminders_due(session=session)
        for consent in due:
            if consent.id is not None and consent.ready_at is not None:
                self.schedule(consent.id, as_utc(consent.ready_at))
        log.info("scheduled %d consent reminder(s) from the database", len(due))

    def schedule(self, consent_id: int, at: datetime) -> None:
        """One job per consent request; a time in the past fires at once (and only once)."""
        self.scheduler.once(self.fire, at=at, id=reminder_job_id(consent_id), args=[consent_id])

    async def fire(self, consent_id: int) -> None:
        """Re-read the request; post the reminder if it is still owed and this replica wins."""
        async with self._sessions() as session:
            consent = await get_consent_request(session=session, consent_id=consent_id)
            if consent is None or consent.status != ConsentStatus.CONSENTED:
                return
            credential = await get_credential(session=session, credential_id=consent.credential_id)
            if credential is None or not await claim_reminder(
                session=session, consent_id=consent_id, at=utcnow()
            ):
                return
            await session.commit()
        message = build_consent_reminder(credential=credential, requested_by=consent.requested_by)
        try:
            await self._slack.chat_postMessage(
                channel=consent.channel_id, thread_ts=consent.thread_ts, **message.as_kwargs()
            )
        except CALL_FAILED as error:  # refused, or Slack unreachable: it is owed still
            log.warning(
                "consent reminder %s could not be posted (%s); retrying later",
                consent_id,
                failure_reason(error),
            )
            async with self._sessions() as session:
                await unclaim_reminder(session=session, consent_id=consent_id)
                await session.commit()
            self.schedule(consent_id, utcnow() + RETRY_AFTER_FAILED_POST)
            return
        async with self._sessions() as session:
            await record_event(
                session=session,
                actor=SCHEDULER_ACTOR,
                action=AuditAction.CONSENT_REMINDER_SENT,
                subject=Subject(credential_id=credential.nylas_credential_id),
                details={"consent_request": consent_id},
            )
            await session.commit()
        log_event(
            log,
            "consent.reminder_sent",
            consent_request=consent_id,
            credential=credential.nylas_credential_id,
        )
