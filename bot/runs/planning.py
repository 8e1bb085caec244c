"""Planning a bulk run (the dry run): fold the list, one List Grants pass, make the plan, hold
it for the requester's confirmation and show it in the modal."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasError
from bot.nylas.models import Grant, GrantFilters
from bot.runs.emails import fold
from bot.runs.modals import build_plan_view, build_status_view
from bot.runs.plan import GrantRequest, PendingPlan, make_plan
from bot.runtime.pending import PendingStore
from bot.slack.access import SlackActor

NOT_HELD = "This plan is no longer held (plans are kept 15 minutes). Run `/bulkauth grants` again."


class Planner:
    def __init__(
        self,
        *,
        nylas: NylasClient,
        slack: AsyncWebClient,
        plans: PendingStore[PendingPlan],
        rate: float,
        approval_channel: str | None,
    ) -> None:
        self._nylas = nylas
        self._slack = slack
        self._plans = plans
        self._rate = rate  # Nylas calls per second, for the plan's time estimate
        self._approval_channel = approval_channel

    async def plan(
        self, request: GrantRequest, *, requester: SlackActor, channel_id: str, view_id: str
    ) -> None:
        """Runs after the ack, in the background; the modal shows "Checking…" meanwhile."""
        users = await asyncio.to_thread(fold, request.candidates)  # ~30 µs an address
        credentials = request.across if request.credential is None else (request.credential,)
        existing: list[Grant] = []
        try:  # one List Grants pass (every page) per provider; across every credential, both
            for provider in sorted({credential.provider for credential in credentials}):
                existing += await self._nylas.list_grants(GrantFilters(provider=provider))
        except NylasError as error:
            failed = f":x: Could not read the existing grants. {error.user_message}"
            await self._slack.views_update(view_id=view_id, view=build_status_view(failed))
            return
        plan = make_plan(request, users, existing)
        pending = PendingPlan(
            plan=plan, requester=requester, channel_id=channel_id, reason=request.reason
        )
        token = self._plans.put(pending)
        view = build_plan_view(
            plan, rate=self._rate, token=token, approval_channel=self._approval_channel
        )
        await self._slack.views_update(view_id=view_id, view=view)

    def claim(self, token: str, requester: SlackActor) -> PendingPlan | None:
        """The held plan, once, for the person who made it (None: gone, or someone else's)."""
        pending = self._plans.get(token)
        if pending is None or pending.requester.user_id != requester.user_id:
            return None
        self._plans.drop(token)
        return pending
