"""`/bulkauth credential delete <name>`: what depends on the credential, its name typed to
confirm and a reason, then a request approved like a run (never by the requester); the DELETE
happens when the last approval needed is given (`handlers/runs/approvals.py`)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit.recording import refuse_submission
from bot.blocks import escape
from bot.blocks.metadata import DeletionRef
from bot.deps import Deps
from bot.errors import NotFound, UserInputError
from bot.ids import BlockId, CallbackId, CommandName
from bot.nylas.errors import NylasError
from bot.offboarding.approvers import approval_dm
from bot.offboarding.deletion import Dependents
from bot.offboarding.messages import (
    build_counting_view,
    build_deletion_form,
    build_deletion_status,
)
from bot.runtime.tasks import OnBehalfOf
from bot.slack.access import SlackActor
from bot.slack.forms import ViewState
from handlers.commands import CommandRequest
from storage.credentials import find_credential, get_credential
from storage.models import CredentialRecord


async def delete_command(request: CommandRequest) -> None:
    """Opens the modal at once; the counting (a List Grants pass) follows in the background."""
    name = " ".join(request.args[1:]).strip()
    if not name:
        usage = f"Say which credential: `{CommandName.BULKAUTH} credential delete <name>`."
        await request.ack(response_type="ephemeral", text=usage)
        return
    await request.ack()
    deps = request.deps
    async with deps.sessions() as session:
        credential = await find_credential(session=session, name_or_id=name)
    if credential is None or credential.id is None:
        raise NotFound(
            f"There is no credential named {escape(name)} (see `/bulkauth credentials`)."
        )
    opened = await deps.slack.views_open(
        trigger_id=request.trigger_id, view=build_counting_view(credential)
    )
    view_id = str((opened.get("view") or {}).get("id"))
    deps.tasks.spawn(
        _show_form(deps, credential, view_id, request.channel_id),
        name="count-dependents",
        for_=OnBehalfOf(request.actor.user_id, request.channel_id or None, view_id),
    )


async def _show_form(deps: Deps, credential: CredentialRecord, view_id: str, channel: str) -> None:
    assert credential.id is not None
    try:
        dependents = await deps.deletions.dependents(credential)
    except NylasError as error:
        failed = f":x: Could not count the grants at Nylas. {error.user_message}"
        await deps.slack.views_update(view_id=view_id, view=build_deletion_status(failed))
        return
    ref = DeletionRef(
        credential_id=credential.id,
        at_nylas=dependents.at_nylas,
        by_bot=dependents.by_bot,
        channel_id=channel,
    )
    await deps.slack.views_update(view_id=view_id, view=build_deletion_form(credential, ref))


async def _checked(deps: Deps, view: dict[str, Any]) -> tuple[CredentialRecord, DeletionRef, str]:
    ref = DeletionRef.parse(view.get("private_metadata"))
    async with deps.sessions() as session:
        credential = await get_credential(session=session, credential_id=ref.credential_id)
    if credential is None or credential.deleted_at is not None:
        raise UserInputError("Already deleted.", {BlockId.CONFIRM_NAME: "It is already deleted."})
    state = ViewState(view)
    errors: dict[str, str] = {}
    if state.text(BlockId.CONFIRM_NAME) != credential.name:
        errors[BlockId.CONFIRM_NAME] = "That is not the credential's name; type it exactly."
    reason = state.text(BlockId.DELETE_REASON)
    if not reason:
        errors[BlockId.DELETE_REASON] = "Say why the credential is deleted."
    if errors:
        raise UserInputError("Some fields need attention.", errors)
    return credential, ref, reason


async def submit_deletion(
    ack: AsyncAck, view: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    try:
        credential, ref, reason = await _checked(deps, view)
    except UserInputError as error:
        await refuse_submission(
            ack, deps.sessions, actor=actor, error=error, form=CallbackId.DELETE_CREDENTIAL
        )
        return
    sending = build_deletion_status(":hourglass_flowing_sand: Sending the request for approval…")
    await ack(response_action="update", view=sending)
    deps.tasks.spawn(
        _request(deps, credential, ref, reason, actor, str(view["id"])),
        name="request-deletion",
        for_=OnBehalfOf(actor.user_id, ref.channel_id or None, str(view["id"])),
    )


async def _request(
    deps: Deps,
    credential: CredentialRecord,
    ref: DeletionRef,
    reason: str,
    actor: SlackActor,
    view_id: str,
) -> None:
    pending = deps.deletions.request(
        credential,
        Dependents(at_nylas=ref.at_nylas, by_bot=ref.by_bot),
        requester=actor,
        reason=reason,
        channel_id=ref.channel_id,
    )
    dm = None
    if not deps.settings.bulkauth_approval_channel:
        dm = await approval_dm(deps.slack, deps.access, requester=actor.user_id)
    text = await deps.runs.confirm(pending, approval_dm=dm)
    await deps.slack.views_update(view_id=view_id, view=build_deletion_status(text))


def register(app: AsyncApp) -> None:
    app.view(CallbackId.DELETE_CREDENTIAL)(submit_deletion)
