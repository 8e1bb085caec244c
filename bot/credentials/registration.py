"""Registering a credential with Nylas after its modal was accepted: preflight, create, record.

Runs in the background after the ack; the modal shows progress and the outcome, and the user
gets the result where they started. On a Nylas error the submission is kept in memory (never
stored) so that "Try again" needs no retyping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.recording import actor_of
from bot.blocks import Message, markdown
from bot.blocks.metadata import RetryToken
from bot.credentials.forms import MAX_KEY_FILE_BYTES, GoogleForm, PendingRegistration
from bot.credentials.messages import (
    PROVIDER_LABELS,
    Registered,
    build_no_connector_message,
    build_registered_message,
    build_status_view,
)
from bot.logs import log_event
from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasError, NylasNotFound
from bot.runtime.pending import PendingStore
from bot.slack.client import CALL_FAILED
from bot.slack.files import FileProblem, SlackFiles
from bot.slack.notify import tell_user
from storage.audit import AuditAction, Subject, record_event
from storage.credentials import add_credential
from storage.db import Sessions
from storage.models import CredentialRecord, utcnow

log = logging.getLogger(__name__)


def _record_for(pending: PendingRegistration, credential_id: str) -> CredentialRecord:
    form = pending.form
    record = CredentialRecord(
        nylas_credential_id=credential_id,
        provider=pending.provider,
        name=form.name,
        credential_type="serviceaccount" if isinstance(form, GoogleForm) else "adminconsent",
        registered_by=pending.actor.user_id,
        registered_by_name=pending.actor.display_name,
        secret_set_at=utcnow(),  # when the key or secret was given to Nylas
    )
    if isinstance(form, GoogleForm):
        record.client_email = form.key.client_email
        record.private_key_id = form.key.private_key_id
        record.project_id = form.key.project_id
        record.client_id = form.key.client_id  # public; prefills the delegation link of a hold
    else:
        record.tenant = form.data.tenant
        record.client_id = form.data.client_id
        record.uses_connector_app = form.data.client_id is None
        record.secret_expires_on = form.secret_expires_on
    return record


async def remove_uploaded_key(slack: AsyncWebClient, file_id: str | None) -> str:
    """Delete the key file a person uploaded (registration, rotation); what to tell them."""
    if not file_id:
        return ""
    try:
        await slack.files_delete(file=file_id)
    except CALL_FAILED:
        return (
            ":warning: The key file you uploaded stays in Slack. Delete it now: open it "
            "from your Files, then ⋯ → *Delete file*."
        )
    return "The key file you uploaded has been deleted from Slack."


class CredentialRegistrar:
    """Registers an accepted credential modal with Nylas in the background: connector check,
    create, record, tell. Failed submissions stay in `held` for Try again."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        slack: AsyncWebClient,
        nylas: NylasClient,
        files: SlackFiles,
        held: PendingStore[PendingRegistration],
        on_registered: Callable[[CredentialRecord], None] | None = None,
    ) -> None:
        self._on_registered = on_registered  # e.g. scheduling its expiry reminders
        self._sessions = sessions
        self._slack = slack
        self._nylas = nylas
        self._files = files
        self._held = held

    async def download_key_file(self, file: dict[str, Any]) -> tuple[str | None, str | None]:
        """(text, None) or (None, what went wrong), for the key file uploaded in the modal."""
        try:
            text = await self._files.download_text(
                file,
                max_bytes=MAX_KEY_FILE_BYTES,
                extensions=(".json",),
                kind="a service account JSON key",
            )
        except FileProblem as problem:
            return None, str(problem)
        return text, None

    async def _failed(
        self,
        pending: PendingRegistration,
        view_id: str,
        token: str,
        text: str,
        error: NylasError | None,
        outcome: str,
    ) -> None:
        """Record the failure, then show it (with "Try again" when retrying can help)."""
        self._held.restore(token)  # the held submission may be retried once more
        async with self._sessions() as session:
            await record_event(
                session=session,
                actor=actor_of(pending.actor),
                action=AuditAction.CREDENTIAL_REGISTRATION_FAILED,
                outcome=outcome,
                request_id=error.request_id if error else None,
                details={
                    "provider": pending.provider,
                    "name": pending.form.name,
                    "status": error.status if error else None,
                },
            )
            await session.commit()
        title = f"{PROVIDER_LABELS[pending.provider]} credential"
        retry = RetryToken(token=token, channel_id=pending.channel_id) if error else None
        await self._slack.views_update(
            view_id=view_id, view=build_status_view(title, text, retry=retry)
        )

    async def register(self, pending: PendingRegistration, *, view_id: str, token: str) -> None:
        """Preflight the connector, create the credential, record it, tell the user."""
        form = pending.form
        try:
            await self._nylas.get_connector(pending.provider)
        except NylasNotFound:
            self._held.drop(token)
            await self._failed(
                pending,
                view_id,
                token,
                build_no_connector_message(pending.provider),
                None,
                "no_connector",
            )
            return
        except NylasError as error:
            await self._failed(pending, view_id, token, f":x: {error.user_message}", error, "error")
            return
        data = form.key if isinstance(form, GoogleForm) else form.data
        try:
            created = await self._nylas.create_credential(
                pending.provider, name=form.name, data=data
            )
        except NylasError as error:
            text = f":x: Nylas did not register the credential. {error.user_message}"
            await self._failed(pending, view_id, token, text, error, "error")
            return
        self._held.drop(token)
        record = _record_for(pending, created.data.id)
        async with self._sessions() as session:
            await add_credential(session=session, record=record)
            await record_event(
                session=session,
                actor=actor_of(pending.actor),
                action=AuditAction.CREDENTIAL_REGISTERED,
                subject=Subject(credential_id=created.data.id),
                request_id=created.request_id,
                details={
                    "provider": pending.provider,
                    "name": form.name,
                    "check": pending.check,
                    **({"findings": list(pending.findings)} if pending.findings else {}),
                },
            )
            await session.commit()
        if self._on_registered is not None:
            self._on_registered(record)
        log_event(
            log,
            "credential.registered",
            provider=pending.provider,
            credential=created.data.id,
            by=pending.actor.user_id,
            request_id=created.request_id,
        )
        message = build_registered_message(
            Registered(
                provider=pending.provider,
                name=form.name,
                credential_id=created.data.id,
                client_email=record.client_email,
                tenant=record.tenant,
                record_id=record.id,
            )
        )
        removed = await remove_uploaded_key(self._slack, pending.uploaded_file_id)
        cleanup_note = f"\n{removed}" if removed else ""
        title = f"{PROVIDER_LABELS[pending.provider]} credential"
        await self._slack.views_update(
            view_id=view_id, view=build_status_view(title, message.text + cleanup_note)
        )
        await tell_user(
            self._slack,
            user_id=pending.actor.user_id,
            channel_id=pending.channel_id,
            message=Message(
                text=message.text + cleanup_note,
                blocks=[*message.blocks, *([markdown(cleanup_note)] if cleanup_note else [])],
            ),
        )
