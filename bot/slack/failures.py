"""The one error path: what the person sees when their request fails, from a listener or from
background work it started. A BotError says what is wrong in its own words; anything else is
logged with a reference id, which the person is shown."""

from __future__ import annotations

import logging
import uuid

from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import markdown, plain_message
from bot.errors import BotError
from bot.runtime.tasks import OnBehalfOf
from bot.slack.client import CALL_FAILED, failure_reason
from bot.slack.notify import tell_user

log = logging.getLogger(__name__)


def failure_text(error: BaseException) -> str:
    if isinstance(error, BotError):
        return error.user_message
    reference = uuid.uuid4().hex[:10]
    log.error("unhandled error (ref %s)", reference, exc_info=error)
    return f"Something went wrong on our side (ref `{reference}`). It has been logged."


async def tell_failure(slack: AsyncWebClient, error: BaseException, who: OnBehalfOf) -> None:
    """Tell the person; a modal they are looking at ("Checking…") shows the failure too."""
    text = failure_text(error)
    if who.view_id:
        view = View(type="modal", title="bulkauth", close="Close", blocks=[markdown(text)])
        try:
            await slack.views_update(view_id=who.view_id, view=view)
        except CALL_FAILED as problem:  # closed meanwhile, or no answer: the message below says it
            log.info("failure not shown in the modal (%s)", failure_reason(problem))
    await tell_user(
        slack, user_id=who.user_id, channel_id=who.channel_id, message=plain_message(text)
    )
