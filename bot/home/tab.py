"""Publishing the App Home tab: on `app_home_opened`, and again for everyone who has looked at
it (since this process started) when a run ends."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.times import zone
from bot.home.dashboard import HomeSnapshot, load_home
from bot.home.views import build_home_refusal_view, build_home_view
from bot.slack.access import AccessPolicy
from bot.slack.client import CALL_FAILED, failure_reason
from storage.db import Sessions
from storage.models import utcnow

log = logging.getLogger(__name__)


class HomeTab:
    def __init__(self, *, sessions: Sessions, slack: AsyncWebClient, access: AccessPolicy) -> None:
        self._sessions = sessions
        self._slack = slack
        self._access = access
        self._viewers: set[str] = set()

    async def show(self, user_id: str, snapshot: HomeSnapshot | None = None) -> None:
        """Publish the user's Home: the dashboard when they may use the bot, else why not."""
        actor = await self._access.actor(user_id)
        if not self._access.is_allowed(actor):
            self._viewers.discard(user_id)
            await self._slack.views_publish(user_id=user_id, view=build_home_refusal_view())
            return
        self._viewers.add(user_id)
        snapshot = snapshot or await load_home(self._sessions, now=utcnow())
        view = build_home_view(snapshot, tz=zone(actor.tz))
        await self._slack.views_publish(user_id=user_id, view=view)

    async def refresh(self) -> None:
        """Republish for every recent viewer (a run ended, so their Home is out of date); the
        database is read once for all of them."""
        if not self._viewers:
            return
        snapshot = await load_home(self._sessions, now=utcnow())
        for user_id in sorted(self._viewers):
            try:
                await self.show(user_id, snapshot)
            except CALL_FAILED as error:  # refused, or Slack unreachable: the next viewer
                log.warning("home of %s not refreshed (%s)", user_id, failure_reason(error))
