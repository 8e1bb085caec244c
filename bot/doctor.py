"""`/bulkauth doctor` and `bulkauth doctor`: a checklist of everything bulk auth depends on,
each with pass, warning or fail and the fix. It needs no secret and shows none.

Checks: the Slack token and its scopes, the Nylas API key and region, each provider's
connector, each credential still present at Nylas, the consent callback URL answering, consent
and propagation per Microsoft credential, client secrets expiring, the database and pending
migrations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.consent.links import CALLBACK_PATH, Readiness, grant_gate
from bot.ids import BOT_SCOPES
from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasAuthError, NylasError, NylasNotFound
from bot.settings import Settings
from storage.db import Sessions, is_reachable
from storage.migrate import pending_revisions
from storage.models import CredentialRecord, utcnow

CHECK_SECONDS = 5.0
EXPIRY_WARNING_DAYS = 30


class Verdict(StrEnum):
    PASS = "pass"
    WARNING = "warning"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}


def _ok(name: str, detail: str) -> Check:
    return Check(name, Verdict.PASS, detail)


@dataclass
class Doctor:
    settings: Settings
    slack: AsyncWebClient
    nylas: NylasClient
    database: AsyncEngine
    sessions: Sessions
    http: aiohttp.ClientSession

    async def examine(self, credentials: Sequence[CredentialRecord]) -> list[Check]:
        """Every check, in a fixed order; a check that cannot run is a failure, never a crash."""
        groups: list[tuple[str, Callable[[], Awaitable[list[Check]]]]] = [
            ("Slack bot token and scopes", self._slack),
            ("Nylas API key and region", self._nylas),
            ("Consent callback URL", self._callback),
            ("Database", self._database),
        ]
        found = await asyncio.gather(*(self._safely(name, group) for name, group in groups))
        checks = [check for group in found for check in group]
        checks += await self._credentials(credentials)
        return checks

    @staticmethod
    async def _safely(name: str, group: Callable[[], Awaitable[list[Check]]]) -> list[Check]:
        """A check whose service does not answer fails under its own name."""
        try:
            async with asyncio.timeout(CHECK_SECONDS):
                return await group()
        except (TimeoutError, aiohttp.ClientError, OSError, NylasError, SQLAlchemyError) as error:
            words = error.user_message if isinstance(error, NylasError) else type(error).__name__
            return [Check(name, Verdict.FAIL, f"no good answer ({words})")]

    async def _slack(self) -> list[Check]:
        name = "Slack bot token and scopes"
        try:
            answer = await self.slack.auth_test()
        except SlackApiError as error:
            refused = f"Slack refused it ({error.response.get('error')})"
            return [
                Check(
                    name, Verdict.FAIL, refused, "Set SLACK_BOT_TOKEN to the Bot User OAuth Token."
                )
            ]
        granted = set(str(answer.headers.get("x-oauth-scopes", "")).replace(" ", "").split(","))
        missing = sorted(set(BOT_SCOPES) - granted)
        if missing:
            fix = "Update the app from app.manifest.yml and reinstall it to the workspace."
            return [Check(name, Verdict.FAIL, f"missing scopes: {', '.join(missing)}", fix)]
        return [_ok(name, f"bot {answer.get('user_id')} in {answer.get('team')}")]

    async def _nylas(self) -> list[Check]:
        name = "Nylas API key and region"
        try:
            connectors = {c.provider for c in await self.nylas.list_connectors()}
        except NylasAuthError:
            fix = "Check NYLAS_API_KEY and NYLAS_REGION (a US key does not work on the EU API)."
            return [Check(name, Verdict.FAIL, "Nylas refused the API key", fix)]
        checks = [_ok(name, f"{self.settings.nylas_api_uri} accepted the key")]
        for provider in ("google", "microsoft"):
            present = provider in connectors
            checks.append(
                Check(
                    f"{provider.title()} connector",
                    Verdict.PASS if present else Verdict.WARNING,
                    "present" if present else "missing: its credentials cannot be registered",
                    "" if present else "Nylas Dashboard → Connectors → Create Connector.",
                )
            )
        return checks

    async def _callback(self) -> list[Check]:
        name = "Consent callback URL"
        base = self.settings.public_base_url
        if not base:
            fix = "Set PUBLIC_BASE_URL; until then admins press Consent was granted by hand."
            return [Check(name, Verdict.WARNING, "PUBLIC_BASE_URL is not set", fix)]
        url = base.rstrip("/") + CALLBACK_PATH
        # The callback route itself would count a probe as a rejected (audited) callback; the
        # health route of the same server proves PUBLIC_BASE_URL reaches this bot.
        health = base.rstrip("/") + "/healthz"
        async with self.http.get(health, allow_redirects=False) as reply:
            answers = reply.status == 200
        if not answers:
            fix = f"Make {url} reach this bot, and register it as a Nylas callback URI."
            return [Check(name, Verdict.FAIL, f"{health} answered {reply.status}", fix)]
        return [_ok(name, f"{url} answers")]

    async def _database(self) -> list[Check]:
        if not await is_reachable(self.database):
            return [Check("Database", Verdict.FAIL, "unreachable", "Check DATABASE_URL.")]
        checks = [_ok("Database", f"{self.database.dialect.name} reachable")]
        pending = await pending_revisions(self.database)
        checks.append(
            Check(
                "Migrations",
                Verdict.FAIL if pending else Verdict.PASS,
                f"pending: {', '.join(pending)}" if pending else "current",
                "Run `bulkauth db upgrade`." if pending else "",
            )
        )
        return checks

    async def _credentials(self, credentials: Sequence[CredentialRecord]) -> list[Check]:
        checks: list[Check] = []
        for credential in credentials:
            checks.append(await self._present(credential))
            if credential.provider == "microsoft":
                checks.append(await self._consent(credential))
                checks.append(_expiry(credential, utcnow().date()))
        return checks

    async def _present(self, credential: CredentialRecord) -> Check:
        name = f"{credential.name}: at Nylas"
        provider: Any = credential.provider
        try:
            await self.nylas.get_credential(provider, credential.nylas_credential_id)
        except NylasNotFound:
            fix = "It was deleted at Nylas: register it again with `/bulkauth credential`."
            return Check(name, Verdict.FAIL, "not found", fix)
        except NylasError as error:
            return Check(name, Verdict.FAIL, f"Nylas answered {error.status}")
        return _ok(name, f"present (`{credential.nylas_credential_id}`)")

    async def _consent(self, credential: CredentialRecord) -> Check:
        name = f"{credential.name}: admin consent"
        async with self.sessions() as session:
            gate = await grant_gate(session=session, credential=credential, now=utcnow())
        if gate.readiness == Readiness.READY:
            return _ok(name, "granted and propagated")
        if gate.readiness == Readiness.WAITING and gate.ready_at is not None:
            return Check(name, Verdict.WARNING, f"propagating until {gate.ready_at:%H:%M} UTC")
        fix = f"Send the consent link: `/bulkauth consent {credential.name}`."
        return Check(name, Verdict.WARNING, "not granted yet", fix)


def _expiry(credential: CredentialRecord, today: date) -> Check:
    name = f"{credential.name}: client secret"
    expires = credential.secret_expires_on
    if credential.uses_connector_app:
        return _ok(name, "the Microsoft connector's own app")
    if expires is None:
        return Check(
            name, Verdict.WARNING, "expiry not recorded", "Re-register with its expiry date."
        )
    fix = "Create a new secret in the Azure portal, then rotate the credential."
    if expires <= today:
        return Check(name, Verdict.FAIL, f"expired on {expires}", fix)
    if expires - today <= timedelta(days=EXPIRY_WARNING_DAYS):
        return Check(name, Verdict.WARNING, f"expires on {expires}", fix)
    return _ok(name, f"valid until {expires}")
