"""Where a destructive request is approved when there is no approval channel: a direct message
with the approvers other than the requester (a group DM when there are several, up to Slack's
eight people)."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BotError
from bot.slack.access import AccessPolicy
from bot.slack.client import UNANSWERED, failure_reason

log = logging.getLogger(__name__)
MAX_GROUP_DM = 8


async def approval_dm(slack: AsyncWebClient, access: AccessPolicy, *, requester: str) -> str | None:
    """The DM's channel id; None when nobody else can approve or Slack refuses (the request is
    then withdrawn, saying so). Raises a BotError when Slack does not answer."""
    others = [user for user in await access.approver_ids() if user != requester]
    if not others:
        return None
    try:
        opened = await slack.conversations_open(users=",".join(others[:MAX_GROUP_DM]))
    except SlackApiError as error:
        log.warning("approval.dm_not_opened error=%s", error.response.get("error"))
        return None
    except UNANSWERED as error:  # not "nobody to ask": the person asks again
        log.warning("approval.dm_not_opened error=%s", failure_reason(error))
        raise BotError(
            "Slack did not answer when the bot opened a DM with the other approvers, so nothing "
            "was sent for approval. Try again in a moment."
        ) from error
    channel = (opened.get("channel") or {}).get("id")
    return str(channel) if channel else None
