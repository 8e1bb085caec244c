"""Rotating a registered credential's secret or key at Nylas, after its modal was accepted.

Nylas's PATCH replaces a credential's `credential_data` whole, so the PATCH always carries the
complete data: the Microsoft tenant and client id the bot kept (never secrets) with the new
client secret, or the whole new Google key file. Runs in the background after the ack; the modal
shows progress and the outcome, and the person gets it where they started.
"""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.recording import actor_of
from bot.blocks import escape
from bot.credentials.messages import build_status_view
from bot.credentials.registration import remove_uploaded_key
from bot.lifecycle.forms import PendingRotation
from bot.lifecycle.messages import Rotated, build_rotated_message, build_rotation_failed
from bot.lifecycle.reminders import ExpiryReminders
from bot.logs import log_event
from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasError
from bot.nylas.models import GoogleServiceAccountKey, Provider
from bot.slack.notify import tell_user
from storage.audit import AuditAction, Subject, record_event
from storage.credentials import get_credential
from storage.db import Sessions
from storage.models import CredentialRecord, utcnow

log = logging.getLogger(__name__)
TITLE = "Rotate credential"


def _apply(record: CredentialRecord, pending: PendingRotation) -> dict[str, str]:
    """Update the kept facts; what changed, for the audit (identifiers and dates only)."""
    changes: dict[str, str] = {}
    data = pending.data
    if isinstance(data, GoogleServiceAccountKey):
        changes["old_key_id"] = record.private_key_id or ""
        changes["new_key_id"] = data.private_key_id
        record.private_key_id = data.private_key_id
        record.project_id = data.project_id
        record.client_id = data.client_id or record.client_id
    else:
        old = record.secret_expires_on
        changes["old_expiry"] = old.isoformat() if old else ""
        changes["new_expiry"] = pending.expires_on.isoformat() if pending.expires_on else ""
        record.secret_expires_on = pending.expires_on
        for name, value in (("tenant", data.tenant), ("client_id", data.client_id)):
            if getattr(record, name) is None and value is not None:
                setattr(record, name, value)
                changes[f"learned_{name}"] = value
    record.secret_set_at = utcnow()
    return changes


def _change_words(changes: dict[str, str]) -> str:
    if "new_key_id" in changes:
        return f"new key `{escape(changes['new_key_id'])}` (was `{escape(changes['old_key_id'])}`)"
    return f"new client secret, expires {changes['new_expiry']}"


class CredentialRotator:
    def __init__(
        self,
        *,
        sessions: Sessions,
        slack: AsyncWebClient,
        nylas: NylasClient,
        reminders: ExpiryReminders,
    ) -> None:
        self._sessions = sessions
        self._slack = slack
        self._nylas = nylas
        self._reminders = reminders

    async def _failed(
        self,
        pending: PendingRotation,
        record: CredentialRecord,
        view_id: str,
        reason: str,
        error: NylasError | None,
    ) -> None:
        async with self._sessions() as session:
            await record_event(
                session=session,
                actor=actor_of(pending.actor),
                action=AuditAction.CREDENTIAL_ROTATED,
                outcome="error",
                subject=Subject(credential_id=record.nylas_credential_id),
                request_id=error.request_id if error else None,
                details={"provider": record.provider, "name": record.name, "error": reason},
            )
            await session.commit()
        note = await remove_uploaded_key(self._slack, pending.uploaded_file_id)  # used or not
        text = "\n".join(
            line for line in (build_rotation_failed(record.name, escape(reason)), note) if line
        )
        await self._slack.views_update(view_id=view_id, view=build_status_view(TITLE, text))

    async def rotate(self, pending: PendingRotation, *, view_id: str) -> None:
        """PATCH the complete data, record the new facts, audit, reschedule reminders, tell."""
        async with self._sessions() as session:
            record = await get_credential(session=session, credential_id=pending.record_id)
        if record is None:
            text = "This credential is no longer known to the bot; nothing was rotated."
            await self._slack.views_update(view_id=view_id, view=build_status_view(TITLE, text))
            return
        provider: Provider = "google" if record.provider == "google" else "microsoft"
        try:
            await self._nylas.update_credential(
                provider, record.nylas_credential_id, data=pending.data
            )
        except NylasError as error:
            await self._failed(pending, record, view_id, error.user_message, error)
            return
        async with self._sessions() as session:
            record = await get_credential(session=session, credential_id=pending.record_id)
            assert record is not None
            changes = _apply(record, pending)
            session.add(record)
            await record_event(
                session=session,
                actor=actor_of(pending.actor),
                action=AuditAction.CREDENTIAL_ROTATED,
                subject=Subject(credential_id=record.nylas_credential_id),
                details={
                    "provider": record.provider,
                    "name": record.name,
                    "check": pending.check,
                    **changes,
                },
            )
            await session.commit()
            await session.refresh(record)
        self._reminders.reschedule(record)
        log_event(
            log,
            "credential.rotated",
            provider=record.provider,
            credential=record.nylas_credential_id,
            by=pending.actor.user_id,
        )
        note = await remove_uploaded_key(self._slack, pending.uploaded_file_id)
        message = build_rotated_message(
            Rotated(record=record, change=_change_words(changes), check=pending.check, note=note)
        )
        await self._slack.views_update(view_id=view_id, view=build_status_view(TITLE, message.text))
        await tell_user(
            self._slack,
            user_id=pending.actor.user_id,
            channel_id=pending.channel_id or None,
            message=message,
        )
