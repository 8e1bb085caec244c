"""Who may use the bot: the Slack user ids in BULKAUTH_ADMINS, or else workspace admins and owners.

`users.info` answers are cached briefly so that the check fits easily in Slack's 3-second ack.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import AccessDenied
from bot.slack.groups import ApproverGroup

CACHE_SECONDS = 300.0
REFUSAL = (
    "Sorry, you are not allowed to use bulkauth. Ask a workspace admin to add your Slack user id "
    "to BULKAUTH_ADMINS."
)


@dataclass(frozen=True)
class SlackActor:
    """A Slack user as seen at the moment they acted (the name is kept for the audit log)."""

    user_id: str
    display_name: str
    is_workspace_admin: bool = False
    tz: str = "UTC"


class AccessPolicy:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        admins: list[str],
        approvers: list[str] | None = None,
        approver_group: str | None = None,
    ) -> None:
        self._slack = slack
        self._admins = frozenset(admins)
        self._approvers = frozenset(approvers or [])
        self._cache: dict[str, tuple[float, SlackActor]] = {}
        self.group = ApproverGroup(slack, approver_group) if approver_group else None

    async def actor(self, user_id: str) -> SlackActor:
        """The user's display name, admin flag and time zone (cached)."""
        cached = self._cache.get(user_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            answer = await self._slack.users_info(user=user_id)
        except SlackApiError:
            return SlackActor(user_id=user_id, display_name=user_id)
        user = answer.get("user") or {}
        profile = user.get("profile") or {}
        actor = SlackActor(
            user_id=user_id,
            display_name=profile.get("display_name") or user.get("real_name") or user_id,
            is_workspace_admin=bool(user.get("is_admin") or user.get("is_owner")),
            tz=user.get("tz") or "UTC",
        )
        self._cache[user_id] = (time.monotonic() + CACHE_SECONDS, actor)
        return actor

    def is_allowed(self, actor: SlackActor) -> bool:
        """BULKAUTH_ADMINS when set, else workspace admins and owners."""
        return actor.user_id in self._admins if self._admins else actor.is_workspace_admin

    async def may_decide(self, actor: SlackActor) -> bool:
        """BULKAUTH_APPROVERS and members of BULKAUTH_APPROVER_GROUP (as Slack lists it now, give
        or take the cache); when neither is set, whoever may use the bot."""
        if not self._approvers and self.group is None:
            return self.is_allowed(actor)
        if actor.user_id in self._approvers:
            return True
        return self.group is not None and actor.user_id in await self.group.members()

    async def approver_ids(self) -> list[str]:
        """Everyone who may decide, as far as the bot can list them: BULKAUTH_APPROVERS and the
        approver group's members, else BULKAUTH_ADMINS (workspace admins cannot be listed)."""
        people = set(self._approvers)
        if self.group is not None:
            people |= await self.group.members()
        if not self._approvers and self.group is None:
            people = set(self._admins)
        return sorted(people)

    def approver_mentions(self) -> str:
        """Whom a reminder pings: the group and the listed approvers (else the admins)."""
        people = self._approvers or self._admins
        mentions = [f"<@{user}>" for user in sorted(people)]
        if self.group is not None:
            mentions.insert(0, self.group.mention())
        return " ".join(mentions) or "Approvers"

    async def require(self, user_id: str | None) -> SlackActor:
        """The acting user when allowed; raises AccessDenied otherwise."""
        if not user_id:
            raise AccessDenied(REFUSAL)
        actor = await self.actor(user_id)
        if not self.is_allowed(actor):
            raise AccessDenied(REFUSAL)
        return actor
