"""The buttons of a grant alert: Show list, Mute for a day (confirmed by Slack first) and
Re-authenticate these."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.alerts.actions import (
    grants_to_reauthenticate,
    mute_alerts,
    muted_note,
    send_alert_list,
)
from bot.alerts.messages import AlertRef
from bot.audit.recording import actor_of
from bot.blocks import plain_message
from bot.deps import Deps
from bot.errors import UserInputError
from bot.ids import ActionId
from bot.slack.access import SlackActor
from bot.slack.notify import tell_user
from bot.slack.upload import UploadFailed

log = logging.getLogger(__name__)


def _alert_id(body: dict[str, Any]) -> int:
    return AlertRef.parse(body["actions"][0]["value"]).alert_id


async def _tell(deps: Deps, body: dict[str, Any], actor: SlackActor, text: str) -> None:
    await tell_user(
        deps.slack,
        user_id=actor.user_id,
        channel_id=(body.get("channel") or {}).get("id"),
        message=plain_message(text),
    )


async def show_list(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    await ack()
    try:
        rows = await send_alert_list(
            sessions=deps.sessions,
            slack=deps.slack,
            http=deps.http,
            alert_id=_alert_id(body),
            actor=actor_of(actor),
            attempts=deps.settings.bulkauth_upload_attempts,
        )
    except (UserInputError, UploadFailed) as problem:
        await _tell(deps, body, actor, str(problem))
        return
    log.info("alert list of %d grants sent for %s", rows, actor.user_id)


async def mute(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    await ack()
    try:
        until = await mute_alerts(
            sessions=deps.sessions, alert_id=_alert_id(body), actor=actor_of(actor)
        )
    except UserInputError as problem:
        await _tell(deps, body, actor, str(problem))
        return
    deps.alerts.wake.set()
    await _tell(deps, body, actor, muted_note(until))


async def reauthenticate(
    ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    """The alert's grants in a re-authentication plan (the modal opens at once; approval,
    rate limit, progress, CSV and audit as for any run)."""
    await ack()
    try:
        credential_id, grant_ids = await grants_to_reauthenticate(
            sessions=deps.sessions, alert_id=_alert_id(body)
        )
    except UserInputError as problem:
        await _tell(deps, body, actor, str(problem))
        return
    await deps.reauth.propose_reauthentication(
        credential_id=credential_id,
        only=grant_ids,
        requester=actor,
        trigger_id=str(body["trigger_id"]),
        channel_id=str((body.get("channel") or {}).get("id") or ""),
    )


def register(app: AsyncApp) -> None:
    app.action(ActionId.SHOW_ALERT_LIST)(show_list)
    app.action(ActionId.MUTE_ALERTS)(mute)
    app.action(ActionId.REAUTHENTICATE_ALERT)(reauthenticate)
