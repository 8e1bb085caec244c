"""Revocation surfaces: `/bulkauth revoke [credential]` (one credential or all of them), a
finished run's "Revoke the grants this run created", and the revoke request modal. The plan,
its confirmation and the approval are the runs' own (`handlers/runs/grants.confirm_plan`,
`handlers/runs/approvals.py`)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit.recording import refuse_submission
from bot.blocks import plain_message
from bot.blocks.metadata import RevokeOrigin, RunRef
from bot.deps import Deps
from bot.errors import NotFound, UserInputError
from bot.ids import ALL_CREDENTIALS_OPTION, ActionId, BlockId, CallbackId, Subcommand
from bot.offboarding.modals import build_revoke_modal
from bot.runs.modals import build_planning_view
from bot.runs.plan import GrantRequest
from bot.runtime.tasks import OnBehalfOf
from bot.slack.access import SlackActor
from bot.slack.forms import ViewState
from bot.slack.notify import channel_of, tell_user
from handlers.commands import CommandRequest, SubcommandHandler
from handlers.runs.grants import user_candidates
from storage.credentials import get_credential, list_credentials
from storage.models import CredentialRecord, RequestKind, RunStatus
from storage.runs import created_grants, get_run

UNDOABLE = (RunStatus.FINISHED, RunStatus.CANCELLED)


async def revoke_command(request: CommandRequest) -> None:
    """`/bulkauth revoke [credential | all]`: the request modal, opened at once."""
    await request.ack()
    deps = request.deps
    async with deps.sessions() as session:
        credentials = await list_credentials(session=session)
    if not credentials:
        raise NotFound("There is no registered credential, so no grant of the bot's to revoke.")
    wanted = " ".join(request.args).strip().lower()
    selected = next(
        (c for c in credentials if wanted and wanted in (c.name.lower(), c.nylas_credential_id)),
        None,
    )
    origin = RevokeOrigin(channel_id=request.channel_id)
    every = wanted == ALL_CREDENTIALS_OPTION and selected is None  # a credential named "all" wins
    view = build_revoke_modal(credentials, selected, origin, all_selected=every)
    await deps.slack.views_open(trigger_id=request.trigger_id, view=view)


async def _undo_source(deps: Deps, run_id: int) -> tuple[CredentialRecord, dict[str, str]]:
    """The credential and created grants of a run that may be undone (else UserInputError)."""
    async with deps.sessions() as session:
        run = await get_run(session=session, run_id=run_id)
        if (
            run is None
            or run.kind != RequestKind.GRANT
            or run.status not in UNDOABLE
            or run.credential_id is None
        ):
            raise UserInputError(f"Run {run_id} is not a grant run that has ended.")
        credential = await get_credential(session=session, credential_id=run.credential_id)
        grants = await created_grants(session=session, run_id=run_id)
    if credential is None or not grants:
        raise UserInputError(f"Run {run_id} created no grant that could be revoked.")
    return credential, grants


async def open_undo(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """ "Revoke the grants this run created" on a run's summary (after Slack's confirm)."""
    await ack()
    ref = RunRef.parse(body["actions"][0]["value"])
    try:
        credential, grants = await _undo_source(deps, ref.run_id)
    except UserInputError as error:
        await tell_user(
            deps.slack,
            user_id=actor.user_id,
            channel_id=channel_of(body),
            message=plain_message(error.user_message),
        )
        return
    origin = RevokeOrigin(channel_id=channel_of(body) or "", undo_run_id=ref.run_id)
    view = build_revoke_modal([credential], credential, origin, undo_users=len(grants))
    await deps.slack.views_open(trigger_id=body["trigger_id"], view=view)


async def _validate(deps: Deps, state: ViewState, origin: RevokeOrigin) -> GrantRequest:
    """Every field's problem at once, inside the ack."""
    errors: dict[str, str] = {}
    reason = state.text(BlockId.GRANTS_REASON)
    if not reason:  # Slack requires the field, but spaces alone pass its check
        errors[BlockId.GRANTS_REASON] = "Say why these grants are revoked."
    if origin.undo_run_id is not None:
        credential, grants = await _undo_source(deps, origin.undo_run_id)
        if errors:
            raise UserInputError("Some fields need attention.", errors)
        return GrantRequest(
            credential=credential,
            candidates=tuple(grants),
            scopes=(),
            skip_existing=False,
            reason=reason,
            kind=RequestKind.REVOKE,
            only_grants=frozenset(grants.values()),
        )
    chosen = state.selected(BlockId.REVOKE_CREDENTIAL)
    async with deps.sessions() as session:
        credentials = await list_credentials(session=session)
    across = chosen == ALL_CREDENTIALS_OPTION  # every grant of these users, any credential
    picked = next((c for c in credentials if str(c.id) == chosen), None)
    if picked is None and not across:
        errors[BlockId.REVOKE_CREDENTIAL] = "Choose a credential."
    candidates: tuple[str, ...] = ()
    try:
        candidates = await user_candidates(deps, state)
    except UserInputError as error:
        errors.update(error.field_errors)
    if errors:
        raise UserInputError("Some fields need attention.", errors)
    return GrantRequest(
        credential=picked,
        candidates=candidates,
        scopes=(),
        skip_existing=False,
        reason=reason,
        kind=RequestKind.REVOKE,
        across=tuple(credentials) if across else (),
    )


async def submit_revoke_request(
    ack: AsyncAck, view: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    """The revoke modal: checked in place, then the dry run in the background."""
    origin = RevokeOrigin.parse(view.get("private_metadata"))
    try:
        request = await _validate(deps, ViewState(view), origin)
    except UserInputError as error:
        fields = error.field_errors or {BlockId.GRANTS_REASON: error.user_message}
        await refuse_submission(
            ack,
            deps.sessions,
            actor=actor,
            error=UserInputError(error.user_message, fields),
            form=CallbackId.REVOKE_REQUEST,
        )
        return
    await ack(response_action="update", view=build_planning_view(len(request.candidates)))
    planning = deps.planner.plan(
        request, requester=actor, channel_id=origin.channel_id, view_id=str(view["id"])
    )
    deps.tasks.spawn(
        planning,
        name="plan-revoke",
        for_=OnBehalfOf(actor.user_id, origin.channel_id or None, str(view["id"])),
    )


SUBCOMMANDS: dict[Subcommand, SubcommandHandler] = {Subcommand.REVOKE: revoke_command}


def register(app: AsyncApp) -> None:
    app.view(CallbackId.REVOKE_REQUEST)(submit_revoke_request)
    app.action(ActionId.UNDO_RUN)(open_undo)
