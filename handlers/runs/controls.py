"""The Cancel and Resume buttons of a run (its progress message, its approval message for a
request not yet decided, the `/bulkauth status` answer and the App Home): for the requester,
approvers and admins, audited, through `bot.runs.controls` like `bulkauth runs cancel|resume`."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit.recording import actor_of
from bot.blocks import plain_message
from bot.blocks.metadata import RunRef
from bot.deps import Deps
from bot.ids import ActionId
from bot.runs import controls
from bot.slack.access import SlackActor
from bot.slack.notify import channel_of, tell_user
from handlers.runs.approvals import (
    already_decided,
    clicked_on,
    clicked_run,
    close_request,
    load_run,
    refused,
    request_summary,
)
from storage.models import BulkRun, RunStatus

log = logging.getLogger(__name__)
RESUME_WAIT_SECONDS = 30.0  # a held pass ends once its calls in flight are answered


def _on_a_listing(body: dict[str, Any]) -> bool:
    """Clicked on a surface that lists runs by id (the App Home, or the `/bulkauth status`
    answer, which only its reader sees): the button's run is the one meant."""
    container = body.get("container") or {}
    on_home = container.get("type") == "view" and (body.get("view") or {}).get("type") == "home"
    return on_home or bool(container.get("is_ephemeral"))


async def _cancel_refusal(
    deps: Deps, actor: SlackActor, run: BulkRun | None, ref: RunRef, body: dict[str, Any]
) -> str:
    """Why `actor` may not cancel or resume `run` from where they clicked ("" when they may):
    the requester, an approver or an admin, on the run's progress or approval message, the
    status answer or the App Home (a message of another run is refused: a tampered button)."""
    if run is None:
        return "This run does not exist."
    own_messages = ((run.channel_id, run.message_ts), (run.approval_channel_id, run.approval_ts))
    if not _on_a_listing(body) and not clicked_on(ref, *own_messages):
        return f"This button does not belong to run {run.id}."
    allowed = (
        run.requested_by == actor.user_id
        or deps.access.is_allowed(actor)
        or await deps.access.may_decide(actor)
    )
    return "" if allowed else "Only the requester, an approver or an admin may cancel a run."


async def _tell_done(deps: Deps, actor: SlackActor, body: dict[str, Any], text: str) -> None:
    """From a listing, the clicker hears what happened (and their Home is drawn again)."""
    if not _on_a_listing(body):
        return
    if (body.get("container") or {}).get("type") == "view":
        await deps.home.show(actor.user_id)
    await tell_user(
        deps.slack,
        user_id=actor.user_id,
        channel_id=channel_of(body),
        message=plain_message(text),
    )


async def cancel_run(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """Cancel: no new items are sent; finished ones stay as they are. An awaiting request's
    buttons are replaced; who cancelled is audited."""
    await ack()
    ref = clicked_run(body)
    run = await load_run(deps, ref.run_id)
    if await refused(deps, actor, body, run, await _cancel_refusal(deps, actor, run, ref, body)):
        return
    assert run is not None
    done = await controls.cancel(deps.sessions, ref.run_id, actor_of(actor), reported_here=True)
    if done is None:
        await already_decided(deps, actor, body, ref.run_id)
        return
    await _tell_done(deps, actor, body, f":octagonal_sign: Run {ref.run_id} was cancelled.")
    if done.was == RunStatus.AWAITING_APPROVAL and run.approval_channel_id and run.approval_ts:
        where = RunRef(run_id=ref.run_id, channel_id=run.approval_channel_id)
        where = where.model_copy(update={"message_ts": run.approval_ts})
        outcome = f":octagonal_sign: Cancelled by <@{actor.user_id}> before a decision."
        # request_summary reads the clicked message: from a listing that is not the request
        summary = f"Run {run.id} requested by <@{run.requested_by}>."
        if not _on_a_listing(body):
            summary = request_summary(body, run)
        await close_request(deps, where, run, summary, outcome)
        return
    await deps.run_engine.cancel(ref.run_id, cancelled_by=actor.user_id)


async def resume_run(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """Resume a held run (the requester, an approver or an admin; audited): the users that
    failed for the hold's reason are sent again, canary first."""
    await ack()
    ref = clicked_run(body)
    run = await load_run(deps, ref.run_id)
    if await refused(deps, actor, body, run, await _cancel_refusal(deps, actor, run, ref, body)):
        return
    # The held pass here may still have calls in flight (paced, then sent): their outcomes are
    # written first, so the users they failed for the hold's reason go again too.
    await deps.run_engine.wait_stopped(ref.run_id, timeout=RESUME_WAIT_SECONDS)
    again = await controls.resume(deps.sessions, ref.run_id, actor_of(actor))
    if again is None:
        await already_decided(deps, actor, body, ref.run_id)
        return
    deps.run_engine.kick(ref.run_id)
    await _tell_done(deps, actor, body, f":arrow_forward: Run {ref.run_id} was resumed.")


def register(app: AsyncApp) -> None:
    app.action(ActionId.CANCEL_RUN)(cancel_run)
    app.action(ActionId.RESUME_RUN)(resume_run)
