"""Grant health surfaces: the **Re-authenticate N invalid grants** buttons (`/bulkauth health`,
the App Home, alerts), the re-authentication plan's submission, and `/bulkauth health`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.blocks.metadata import CredentialRef, PlanRef
from bot.deps import Deps
from bot.health.reauth_views import build_reauth_status_view
from bot.ids import ActionId, BlockId, CallbackId
from bot.slack.access import SlackActor
from bot.slack.forms import ViewState


async def reauthenticate_clicked(
    ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    """ "Re-authenticate N invalid grants": the plan modal, opened at once."""
    await ack()
    ref = CredentialRef.parse(body["actions"][0]["value"])
    if ref.credential_id is None:
        return
    await deps.reauth.propose_reauthentication(
        credential_id=ref.credential_id,
        only=None,
        requester=actor,
        trigger_id=str(body["trigger_id"]),
        channel_id=str((body.get("channel") or {}).get("id") or ""),
    )


async def submit_reauth_plan(
    ack: AsyncAck, view: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    """The plan's "Request approval" / "Start run": the reason is required."""
    reason = ViewState(view).text(BlockId.REAUTH_REASON)
    if not reason:  # Slack requires the field, but spaces alone pass its check
        await ack(
            response_action="errors",
            errors={BlockId.REAUTH_REASON: "Say why these grants are re-authenticated."},
        )
        return
    ref = PlanRef.parse(view.get("private_metadata"))
    working = build_reauth_status_view(":hourglass_flowing_sand: Writing the run…")
    await ack(response_action="update", view=working)
    text = await deps.reauth.confirm(ref.token, actor, reason)
    await deps.slack.views_update(view_id=str(view["id"]), view=build_reauth_status_view(text))


def register(app: AsyncApp) -> None:
    app.action(ActionId.REAUTHENTICATE_INVALID)(reauthenticate_clicked)
    app.view(CallbackId.REAUTH_PLAN)(submit_reauth_plan)
