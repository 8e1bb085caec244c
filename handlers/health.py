"""Grant health surfaces: the **Re-authenticate N invalid grants** buttons (`/bulkauth health`,
the App Home, alerts), the re-authentication plan's submission, and `/bulkauth health`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.blocks import escape
from bot.blocks.metadata import CredentialRef, PlanRef
from bot.deps import Deps
from bot.health.messages import build_health_message
from bot.health.reauth_views import build_reauth_status_view
from bot.ids import ActionId, BlockId, CallbackId, Subcommand
from bot.nylas.errors import NylasError
from bot.slack.access import SlackActor
from bot.slack.forms import ViewState
from handlers.commands import CommandRequest, SubcommandHandler
from storage.models import utcnow

CHECKING = ":hourglass_flowing_sand: Checking every credential's grants at Nylas…"


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


async def health_command(request: CommandRequest) -> None:
    """`/bulkauth health [credential]`: "Checking…" at once, then the figures (live from
    Nylas, every page, kept a minute)."""
    await request.ack(response_type="ephemeral", text=CHECKING)
    deps, wanted = request.deps, " ".join(request.args).strip().lower()
    try:
        reports = await deps.health.check()
    except NylasError as error:
        text = f":x: Could not read the grants at Nylas. {error.user_message}"
        await request.respond(response_type="ephemeral", replace_original=True, text=text)
        return
    if wanted:
        reports = [
            r
            for r in reports
            if wanted in (r.credential.name.lower(), r.credential.nylas_credential_id.lower())
        ]
        if not reports:
            text = (
                f"No credential is registered as `{escape(wanted)}`; see `/bulkauth credentials`."
            )
            await request.respond(response_type="ephemeral", replace_original=True, text=text)
            return
    message = build_health_message(reports, today=utcnow().date())
    await request.respond(response_type="ephemeral", replace_original=True, **message.as_kwargs())


SUBCOMMANDS: dict[Subcommand, SubcommandHandler] = {Subcommand.HEALTH: health_command}


def register(app: AsyncApp) -> None:
    app.action(ActionId.REAUTHENTICATE_INVALID)(reauthenticate_clicked)
    app.view(CallbackId.REAUTH_PLAN)(submit_reauth_plan)
