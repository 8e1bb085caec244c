"""Where a destructive request is approved when there is no approval channel: a direct message
with the approvers other than the requester (a group DM when there are several, up to Slack's
eight people)."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.access import AccessPolicy

log = logging.getLogger(__name__)
MAX_GROUP_DM = 8


async def approval_dm(slack: AsyncWebClient, access: AccessPolicy, *, requester: str) -> str | None:
    """The DM's channel id; None when nobody else can approve or Slack refuses."""
    others = [user for user in await access.approver_ids() if user != requester]
    if not others:
        return None
    try:
        opened = await slack.conversations_open(users=",".join(others[:MAX_GROUP_DM]))
    except SlackApiError as error:
        log.warning("approval.dm_not_opened error=%s", error.response.get("error"))
        return None
    channel = (opened.get("channel") or {}).get("id")
    return str(channel) if channel else None
