"""The approvers' Slack user group (BULKAUTH_APPROVER_GROUP): its members, read with
`usergroups.users.list` and cached briefly, so that a click is checked against the group as it
is now, give or take the cache, within Slack's 3-second ack."""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 120.0


class ApproverGroup:
    def __init__(self, slack: AsyncWebClient, group: str) -> None:
        self._slack = slack
        self._configured = group  # S… or @handle
        self._id = group if group.startswith("S") else None
        self._members: tuple[float, frozenset[str]] | None = None

    async def members(self) -> frozenset[str]:
        """The group's member ids; empty (nobody approves through the group) when Slack
        cannot say, which is never cached."""
        if self._members and self._members[0] > time.monotonic():
            return self._members[1]
        try:
            group_id = await self._group_id()
            if group_id is None:
                return frozenset()
            answer = await self._slack.usergroups_users_list(usergroup=group_id)
        except SlackApiError as error:
            log.warning("approver_group.unreadable error=%s", error.response.get("error"))
            return frozenset()
        members = frozenset(str(user) for user in answer.get("users") or [])
        self._members = (time.monotonic() + GROUP_CACHE_SECONDS, members)
        return members

    async def _group_id(self) -> str | None:
        """The group's id, looked up once by its handle when configured as @handle."""
        if self._id is None:
            handle = self._configured.removeprefix("@")
            answer = await self._slack.usergroups_list()
            found = [g for g in answer.get("usergroups") or [] if g.get("handle") == handle]
            if not found:
                log.warning("approver_group.not_found handle=%s", handle)
                return None
            self._id = str(found[0]["id"])
        return self._id

    def mention(self) -> str:
        """A mention that pings the group (needs its id; a handle is shown as typed)."""
        return f"<!subteam^{self._id}>" if self._id else self._configured
