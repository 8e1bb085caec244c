"""Recording an admin-consent outcome, from Nylas's callback or the manual button: the same
steps either way, applied once per consent request."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Message, escape, markdown
from bot.consent.messages import (
    build_consent_failed_reply,
    build_consent_granted_reply,
    build_consent_outcome_line,
)
from bot.consent.reminders import ReminderService
from bot.logs import log_event
from storage.audit import Actor, AuditAction, Subject, record_event
from storage.consents import mark_consented, mark_failed
from storage.credentials import get_credential
from storage.db import Sessions
from storage.models import ConsentRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsentOutcome:
    granted: bool
    error: str | None = None  # for a failure: what Microsoft/Nylas said (untrusted text)


class ConsentRecorder:
    """Applies an admin-consent outcome once, from the callback or the manual button."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        slack: AsyncWebClient,
        reminders: ReminderService,
        wait_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._slack = slack
        self._reminders = reminders
        self._wait_seconds = wait_seconds  # Microsoft's propagation time after consent

    async def record(
        self, consent: ConsentRequest, outcome: ConsentOutcome, *, actor: Actor, now: datetime
    ) -> bool:
        """Apply the outcome; False when the request was already used (nothing changes then)."""
        assert consent.id is not None
        ready_at = now + timedelta(seconds=self._wait_seconds)
        async with self._sessions() as session:
            credential = await get_credential(session=session, credential_id=consent.credential_id)
            assert credential is not None
            if outcome.granted:
                applied = await mark_consented(
                    session=session, consent_id=consent.id, by=actor.name, at=now, ready_at=ready_at
                )
            else:
                applied = await mark_failed(
                    session=session,
                    consent_id=consent.id,
                    at=now,
                    error=outcome.error or "unknown error",
                )
            if not applied:
                return False
            await record_event(
                session=session,
                actor=actor,
                action=AuditAction.CONSENT_GRANTED
                if outcome.granted
                else AuditAction.CONSENT_FAILED,
                outcome="ok" if outcome.granted else "failed",
                subject=Subject(credential_id=credential.nylas_credential_id),
                details={"consent_request": consent.id, "error": outcome.error}
                if outcome.error
                else {"consent_request": consent.id},
            )
            await session.commit()
        log_event(
            log,
            "consent.recorded",
            consent_request=consent.id,
            credential=credential.nylas_credential_id,
            outcome="granted" if outcome.granted else "failed",
            ready_at=ready_at.isoformat() if outcome.granted else None,
        )
        if outcome.granted:
            self._reminders.schedule(consent.id, ready_at)
            reply = build_consent_granted_reply(
                credential=credential, consented_by=actor.name, consented_at=now, ready_at=ready_at
            )
        else:
            reply = build_consent_failed_reply(
                credential=credential, error=outcome.error or "unknown error"
            )
        await self._tell_thread(
            consent,
            reply,
            build_consent_outcome_line(granted=outcome.granted, by=actor.name, at=now),
            credential.name,
        )
        return True

    async def _tell_thread(
        self, consent: ConsentRequest, reply: Message, outcome_line: str, credential_name: str
    ) -> None:
        """Reply in the link's thread and replace the link's buttons with the outcome."""
        await self._slack.chat_postMessage(
            channel=consent.channel_id, thread_ts=consent.thread_ts, **reply.as_kwargs()
        )
        if consent.thread_ts:
            closed = Message(
                text=f"Admin consent link for {escape(credential_name)}: {outcome_line}",
                blocks=[
                    markdown(f"Admin consent link for *{escape(credential_name)}* (used)."),
                    markdown(outcome_line),
                ],
            )
            await self._slack.chat_update(
                channel=consent.channel_id, ts=consent.thread_ts, **closed.as_kwargs()
            )
