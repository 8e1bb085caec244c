"""`/bulkauth health`'s figures: valid and invalid grants per registered credential, live from
List Grants (per provider and status, every page, through the shared client and rate limit),
kept for a minute so repeated asks cost Nylas nothing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bot.health.grants import PROVIDERS, by_credential, list_grants
from bot.nylas.client import NylasClient
from bot.nylas.models import Grant, GrantStatus
from storage.credentials import list_credentials
from storage.db import Sessions
from storage.models import CredentialRecord

CACHE_SECONDS = 60.0
NEWEST_SHOWN = 5
STATUSES: tuple[GrantStatus, ...] = ("valid", "invalid")


@dataclass(frozen=True)
class CredentialHealth:
    credential: CredentialRecord
    valid: int
    invalid: int
    newest_invalid: tuple[Grant, ...]  # newest first, at most NEWEST_SHOWN


class HealthChecker:
    def __init__(
        self, *, sessions: Sessions, nylas: NylasClient, cache_seconds: float = CACHE_SECONDS
    ) -> None:
        self._sessions = sessions
        self._nylas = nylas
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, list[CredentialHealth]] | None = None
        self._lock = asyncio.Lock()  # one look-up at a time; the others get its result

    async def check(self) -> list[CredentialHealth]:
        """Every registered credential's figures (NylasError when Nylas cannot be read)."""
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self._cache_seconds:
                return self._cached[1]
            result = await self._look_up()
            self._cached = (time.monotonic(), result)
            return result

    async def _look_up(self) -> list[CredentialHealth]:
        async with self._sessions() as session:
            credentials = await list_credentials(session=session)
        valid: dict[int, list[Grant]] = {}
        invalid: dict[int, list[Grant]] = {}
        for provider in PROVIDERS:
            if not any(c.provider == provider for c in credentials):
                continue
            for status in STATUSES:
                grants = await list_grants(self._nylas, provider, status=status)
                owned = await by_credential(self._sessions, credentials, provider, grants)
                (valid if status == "valid" else invalid).update(owned)
        return [
            CredentialHealth(
                credential=credential,
                valid=len(valid.get(credential.id, [])),
                invalid=len(invalid.get(credential.id, [])),
                newest_invalid=tuple(invalid.get(credential.id, [])[:NEWEST_SHOWN]),
            )
            for credential in credentials
            if credential.id is not None
        ]
