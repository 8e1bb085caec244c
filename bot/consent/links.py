"""Microsoft admin consent: issuing single-use links, recording the outcome, and the gate that
says whether grants may be created yet (consent recorded and the propagation wait over)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import UserInputError
from bot.ids import BlockId
from bot.nylas.consent import COMMON_TENANT, admin_consent_url
from bot.settings import Settings
from storage.consents import latest_consent
from storage.models import ConsentRequest, ConsentStatus, CredentialRecord, as_utc

CALLBACK_PATH = "/nylas/callback"
STATE_BYTES = 32  # 43 URL-safe characters, well under Nylas's 256
_SCOPE = re.compile(r"^[A-Za-z0-9._:/-]{3,200}$")


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def callback_uri(settings: Settings) -> tuple[str, bool]:
    """(redirect URI, whether the callback can reach this bot)."""
    if settings.public_base_url:
        return settings.public_base_url + CALLBACK_PATH, True
    return f"http://localhost:{settings.port}{CALLBACK_PATH}", False


def parse_scopes(text: str, *, tenant: str) -> list[str]:
    scopes = [word for word in re.split(r"[\s,]+", text) if word]
    if scopes and tenant.lower() == COMMON_TENANT:
        message = "Tenant `common` takes its scopes from the Azure app."
        raise UserInputError(message, {BlockId.CONSENT_CREDENTIAL: message})
    bad = [scope for scope in scopes if not _SCOPE.match(scope)]
    if bad:
        message = f"Not a Microsoft Graph scope: {', '.join(bad[:3])}"
        raise UserInputError(message, {BlockId.CONSENT_SCOPES: message})
    return scopes


@dataclass(frozen=True)
class IssuedLink:
    request: ConsentRequest
    url: str
    callback_reachable: bool


def new_consent_link(
    *,
    settings: Settings,
    credential: CredentialRecord,
    requested_by: str,
    requested_by_name: str,
    channel_id: str,
    scopes: list[str],
    now: datetime,
) -> IssuedLink:
    """A fresh consent request (state stored hashed) and its authorization URL."""
    if not settings.nylas_client_id:
        raise UserInputError(
            "The bot has no NYLAS_CLIENT_ID (the Nylas application id), which "
            "consent links need. Ask whoever runs the bot to set it."
        )
    assert credential.id is not None and settings.nylas_api_uri is not None
    state = secrets.token_urlsafe(STATE_BYTES)
    redirect_uri, reachable = callback_uri(settings)
    url = admin_consent_url(
        api_uri=settings.nylas_api_uri,
        client_id=settings.nylas_client_id,
        redirect_uri=redirect_uri,
        credential_id=credential.nylas_credential_id,
        state=state,
        tenant=credential.tenant or COMMON_TENANT,
        scopes=scopes or None,
    )
    request = ConsentRequest(
        credential_id=credential.id,
        state_hash=hash_state(state),
        scopes=" ".join(scopes),
        requested_by=requested_by,
        requested_by_name=requested_by_name,
        channel_id=channel_id,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.bulkauth_consent_link_ttl_seconds),
    )
    return IssuedLink(request=request, url=url, callback_reachable=reachable)


class Readiness(StrEnum):
    READY = "ready"
    NOT_CONSENTED = "not_consented"
    WAITING = "waiting"


@dataclass(frozen=True)
class Gate:
    readiness: Readiness
    ready_at: datetime | None = None


async def grant_gate(*, session: AsyncSession, credential: CredentialRecord, now: datetime) -> Gate:
    """Google credentials are always ready; Microsoft ones once consent has propagated."""
    if credential.provider != "microsoft":
        return Gate(Readiness.READY)
    assert credential.id is not None
    consent = await latest_consent(session=session, credential_id=credential.id)
    if consent is None or consent.status != ConsentStatus.CONSENTED or consent.ready_at is None:
        return Gate(Readiness.NOT_CONSENTED)
    ready_at = as_utc(consent.ready_at)
    if ready_at > now:
        return Gate(Readiness.WAITING, ready_at)
    return Gate(Readiness.READY, ready_at)
