"""Re-authentication runs: the invalid grants of one credential (or some of them), planned and
sent through the same machinery as a grant run (approval, rate limit, progress, CSV, claims,
audit), with the same Custom Authentication call, which keeps each grant's id.

`Reauthenticator.propose_reauthentication` is the one entry point: `/bulkauth health`, the App
Home, the sweep's and the webhooks' alerts and credential rotation all call it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import escape
from bot.health.grants import by_credential, list_grants
from bot.health.reauth_views import (
    build_looking_up_view,
    build_reauth_plan_view,
    build_reauth_status_view,
)
from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasError
from bot.nylas.models import Grant, Provider
from bot.runs.emails import fold
from bot.runs.lifecycle import Runs
from bot.runs.plan import GrantRequest, PendingPlan, make_plan
from bot.runs.planning import NOT_HELD
from bot.runtime.pending import PendingStore
from bot.slack.access import SlackActor
from storage.credentials import get_credential, list_credentials
from storage.db import Sessions
from storage.grant_owners import last_scopes
from storage.models import CredentialRecord, RequestKind

GONE = "This credential is no longer registered here, so there is nothing to re-authenticate."


def choose_scopes(
    grants: Sequence[Grant], fallback: tuple[str, ...]
) -> tuple[tuple[str, ...], int]:
    """Google needs scopes on every call. Each grant's own `scope` (List Grants returns it) is
    what was delegated and granted before, so re-authenticating with it changes nothing for the
    user: the most common set among the grants; the credential's last run's scopes when the
    grants carry none. Returns the scopes and how many grants had a different set."""
    sets = Counter(tuple(sorted(grant.scope)) for grant in grants if grant.scope)
    if not sets:
        return fallback, 0
    chosen, count = sets.most_common(1)[0]
    return chosen, sum(sets.values()) - count


def selected(grants: Sequence[Grant], only: Sequence[str] | None) -> list[Grant]:
    """The grants named in `only` (grant ids or mailboxes, any case), or all of them."""
    if only is None:
        return list(grants)
    wanted = {entry.strip().lower() for entry in only if entry.strip()}
    return [g for g in grants if g.id.lower() in wanted or (g.email or "").lower() in wanted]


class Reauthenticator:
    def __init__(
        self,
        *,
        sessions: Sessions,
        nylas: NylasClient,
        slack: AsyncWebClient,
        plans: PendingStore[PendingPlan],
        runs: Runs,
        rate: float,
        approval_channel: str | None,
    ) -> None:
        self._sessions = sessions
        self._nylas = nylas
        self._slack = slack
        self._plans = plans
        self._runs = runs
        self._rate = rate
        self._approval_channel = approval_channel

    async def propose_reauthentication(
        self,
        *,
        credential_id: int,
        only: Sequence[str] | None,
        requester: SlackActor,
        trigger_id: str,
        channel_id: str,
    ) -> None:
        """Open the plan modal at once (call it right after the ack, `trigger_id` lives 3 s),
        then list the credential's invalid grants at Nylas and show the dry-run plan, from
        which the requester asks for approval as for a grant run. `only`: grant ids or
        mailboxes to limit it to (None: every invalid grant of the credential)."""
        async with self._sessions() as session:
            credential = await get_credential(session=session, credential_id=credential_id)
        if credential is None:
            await self._slack.views_open(trigger_id=trigger_id, view=build_reauth_status_view(GONE))
            return
        opened = await self._slack.views_open(
            trigger_id=trigger_id, view=build_looking_up_view(credential.name)
        )
        view_id = str(opened["view"]["id"])
        try:
            invalid = selected(await self.invalid_grants(credential), only)
        except NylasError as error:
            failed = f":x: Could not read the invalid grants. {error.user_message}"
            await self._slack.views_update(view_id=view_id, view=build_reauth_status_view(failed))
            return
        await self._show_plan(credential, invalid, requester, channel_id, view_id)

    async def invalid_grants(self, credential: CredentialRecord) -> list[Grant]:
        """The credential's grants Nylas marks invalid, newest first (every page)."""
        provider: Provider = "google" if credential.provider == "google" else "microsoft"
        grants = await list_grants(self._nylas, provider, status="invalid")
        async with self._sessions() as session:
            credentials = await list_credentials(session=session)
        assert credential.id is not None
        owned = await by_credential(self._sessions, credentials, provider, grants)
        return owned.get(credential.id, [])

    async def _show_plan(
        self,
        credential: CredentialRecord,
        invalid: list[Grant],
        requester: SlackActor,
        channel_id: str,
        view_id: str,
    ) -> None:
        if not invalid:
            text = (
                f"*{escape(credential.name)}* has no invalid grant at Nylas: nothing to "
                "re-authenticate."
            )
            await self._slack.views_update(view_id=view_id, view=build_reauth_status_view(text))
            return
        notes: list[str] = []
        scopes: tuple[str, ...] = ()
        if credential.provider == "google":
            assert credential.id is not None
            async with self._sessions() as session:
                fallback = await last_scopes(session=session, credential_id=credential.id)
            scopes, others = choose_scopes(invalid, fallback)
            if not scopes:
                text = (
                    "These grants carry no scopes and no run of this credential recorded any, "
                    "so the scopes to ask Google for are unknown. Use `/bulkauth grants` with "
                    "the users and their scopes instead."
                )
                await self._slack.views_update(view_id=view_id, view=build_reauth_status_view(text))
                return
            if others:
                notes.append(
                    f":warning: {others:,} of these grants had other scopes; they get these."
                )
        emails = [grant.email for grant in invalid if grant.email]
        request = GrantRequest(
            credential=credential,
            candidates=tuple(emails),
            scopes=scopes,
            skip_existing=True,
            kind=RequestKind.REAUTHENTICATE,
        )
        users = await asyncio.to_thread(fold, emails)
        plan = make_plan(request, users, invalid)
        token = self._plans.put(PendingPlan(plan=plan, requester=requester, channel_id=channel_id))
        view = build_reauth_plan_view(
            plan,
            rate=self._rate,
            token=token,
            approval_channel=self._approval_channel,
            notes=tuple(notes),
        )
        await self._slack.views_update(view_id=view_id, view=view)

    async def confirm(self, token: str, requester: SlackActor, reason: str) -> str:
        """The plan modal's submission: the run is written and sent for approval (or started);
        returns what the requester is told."""
        pending = self._plans.get(token)
        if pending is None or pending.requester.user_id != requester.user_id:
            return NOT_HELD.replace("/bulkauth grants", "/bulkauth health")
        self._plans.drop(token)
        return await self._runs.confirm(replace(pending, reason=reason))
