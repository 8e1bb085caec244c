"""Checking a credential with the provider before it is registered: the key or the secret is in
hand only during the modal's ack and is never stored.

Google: a JWT-bearer assertion for a test mailbox, one per scope (so the answer names the scope
that lacks delegation), exchanged at Google's token endpoint. Microsoft: a client-credentials
token request at the tenant's login endpoint. Failures come back as plain-language problems
(bot/nylas/problems.py), each under the modal field it is about.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import jwt

from bot.nylas.models import GoogleServiceAccountKey
from bot.nylas.problems import Field, Problem, explain

CHECK_SECONDS = 2.0  # inside the 3-second budget of the view_submission ack
GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOCK_SKEW_SECONDS = 60
# A token for the service account itself (no `sub`): proves the key without any delegation.
SERVICE_ACCOUNT_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


@dataclass(frozen=True)
class Finding:
    """One check's answer: `problem` None means it passed; `subject` is the scope (Google) or
    the tenant (Microsoft) it was about."""

    subject: str
    problem: Problem | None
    detail: str = ""  # the provider's own words, for the audit


UNREACHABLE = Problem(
    "check_unreachable",
    "The provider could not be asked just now, so the credential was not checked.",
    "Nothing to fix here; the first run's canary will tell.",
    blocking=False,
)


class ProviderChecks:
    def __init__(
        self, *, http: aiohttp.ClientSession, google_token_url: str, microsoft_login_url: str
    ) -> None:
        self._http = http
        self._google_token_url = google_token_url
        self._microsoft_login_url = microsoft_login_url.rstrip("/")

    async def google(
        self, key: GoogleServiceAccountKey, *, mailbox: str, scopes: list[str]
    ) -> list[Finding]:
        """One finding per scope, asked at once."""
        return list(await asyncio.gather(*(self._google_scope(key, mailbox, s) for s in scopes)))

    async def google_key(self, key: GoogleServiceAccountKey) -> Finding:
        """A token for the service account itself: Google accepts the key (not revoked, not
        disabled, the right account), whatever is delegated."""
        return await self._google_scope(key, None, SERVICE_ACCOUNT_SCOPE)

    async def _google_scope(
        self, key: GoogleServiceAccountKey, mailbox: str | None, scope: str
    ) -> Finding:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": key.client_email,
            "scope": scope,
            "aud": self._google_token_url,
            "iat": now,
            "exp": now + 3600,
        }
        if mailbox is not None:
            claims["sub"] = mailbox
        assertion = jwt.encode(
            claims,
            key.private_key.get_secret_value(),
            algorithm="RS256",
            headers={"kid": key.private_key_id},
        )
        form = {"grant_type": JWT_BEARER, "assertion": assertion}
        return await self._ask(self._google_token_url, form, subject=scope)

    async def microsoft(self, *, tenant: str, client_id: str, client_secret: str) -> Finding:
        url = f"{self._microsoft_login_url}/{tenant}/oauth2/v2.0/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": GRAPH_DEFAULT_SCOPE,
        }
        return await self._ask(url, form, subject=tenant)

    async def _ask(self, url: str, form: dict[str, str], *, subject: str) -> Finding:
        try:
            async with self._http.post(
                url, data=form, timeout=aiohttp.ClientTimeout(total=CHECK_SECONDS)
            ) as reply:
                body: dict[str, Any] = await reply.json(content_type=None)
                skew = _clock_skew(reply.headers.get("Date"))
                status = reply.status
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return Finding(subject, UNREACHABLE)
        if status == 200:
            return Finding(subject, None)
        words = f"{body.get('error', '')}: {body.get('error_description', '')}"
        problem = explain(words, status=status)
        if problem is not None and problem.code == "clock_skew" and skew is not None:
            problem = Problem(
                problem.code,
                f"Google refused the token's times: this server's clock is {skew:+.0f} s off.",
                problem.fix,
                problem.field,
            )
        return Finding(subject, problem or _unknown(words), detail=words[:300])


def _clock_skew(date_header: str | None) -> float | None:
    """How far this machine's clock is from the provider's (seconds), when it is notable."""
    if not date_header:
        return None
    try:
        theirs = parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError):
        return None
    skew = time.time() - theirs
    return skew if abs(skew) > CLOCK_SKEW_SECONDS else None


def _unknown(words: str) -> Problem:
    return Problem("provider_refused", f"The provider refused: {words[:200]}", "", Field.NONE)
