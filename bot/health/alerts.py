"""The seam between finding invalid grants and telling people: `GrantAlertSink`. The sweep (and
any other finder) hands it the grants that became invalid; the composition root decides how
they are told. `ChannelAlerts` is the small default: one summary message per credential in
`BULKAUTH_ALERT_CHANNEL`, with the **Re-authenticate N invalid grants** button."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Message, escape, markdown
from bot.health.causes import likely_cause
from bot.health.messages import reauth_button
from bot.nylas.models import Grant
from storage.credentials import get_credential
from storage.db import Sessions
from storage.models import utcnow

log = logging.getLogger(__name__)
SOURCES = {"sweep": "the health sweep", "webhook": "Nylas's notifications"}


class GrantAlertSink(Protocol):
    async def grants_became_invalid(
        self, credential_id: int, grants: Sequence[Grant], source: str = "sweep"
    ) -> None:
        """`grants` of the bot's credential `credential_id` are newly invalid."""


class NoAlerts:
    """Without an alert channel: /bulkauth health and the App Home still show them."""

    async def grants_became_invalid(
        self, credential_id: int, grants: Sequence[Grant], source: str = "sweep"
    ) -> None:
        log.debug(
            "no alert channel: %s grants of credential %s (%s)", len(grants), credential_id, source
        )


def build_invalid_alert(
    credential_name: str, credential_id: int, count: int, cause: str, source: str
) -> Message:
    noun = "grant" if count == 1 else "grants"
    text = (
        f":warning: {count:,} {noun} of *{escape(credential_name)}* became invalid (found by "
        f"{SOURCES.get(source, escape(source))}). Likely cause: {cause}"
    )
    return Message(
        text=text,
        blocks=[markdown(text), ActionsBlock(elements=[reauth_button(credential_id, count)])],
    )


class ChannelAlerts:
    def __init__(self, *, sessions: Sessions, slack: AsyncWebClient, channel: str) -> None:
        self._sessions = sessions
        self._slack = slack
        self._channel = channel

    async def grants_became_invalid(
        self, credential_id: int, grants: Sequence[Grant], source: str = "sweep"
    ) -> None:
        if not grants:
            return
        async with self._sessions() as session:
            credential = await get_credential(session=session, credential_id=credential_id)
        if credential is None:
            return
        cause = likely_cause(credential, grants[0], today=utcnow().date())
        alert = build_invalid_alert(credential.name, credential_id, len(grants), cause, source)
        try:
            await self._slack.chat_postMessage(channel=self._channel, **alert.as_kwargs())
        except SlackApiError as error:  # told in the log; the audit has every grant anyway
            log.warning("health.alert_not_posted error=%s", error.response.get("error"))
