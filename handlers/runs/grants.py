"""Grant creation surfaces: `/bulkauth grants [credential]`, the "Create grants" buttons, the
request modal, the dry-run plan and its confirmation."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit.recording import refuse_submission
from bot.blocks.metadata import CredentialRef, ModalOrigin, PlanRef
from bot.consent.links import Readiness, grant_gate
from bot.deps import Deps
from bot.errors import NotFound, UserInputError
from bot.ids import ActionId, BlockId, CallbackId, CommandName, Subcommand
from bot.offboarding.approvers import approval_dm
from bot.runs.emails import MAX_USER_FILE_BYTES, NoEmailColumn, emails_from_file, split_pasted
from bot.runs.modals import (
    SKIP_EXISTING,
    START_WHEN_READY,
    build_grants_modal,
    build_planning_view,
    build_status_view,
)
from bot.runs.plan import GrantRequest
from bot.runs.planning import NOT_HELD
from bot.runtime.tasks import OnBehalfOf
from bot.slack.access import SlackActor
from bot.slack.files import FileProblem
from bot.slack.forms import ViewState
from handlers.commands import CommandRequest, SubcommandHandler
from storage.credentials import list_credentials
from storage.models import DESTRUCTIVE_KINDS, CredentialRecord, utcnow


async def _credentials(deps: Deps) -> list[CredentialRecord]:
    async with deps.sessions() as session:
        return await list_credentials(session=session)


async def _open_modal(
    deps: Deps, trigger_id: str, channel_id: str, *, selected_id: int | None = None, name: str = ""
) -> None:
    credentials = await _credentials(deps)
    if not credentials:
        raise NotFound(
            "There is no credential to create grants with yet. Register one with "
            f"`{CommandName.BULKAUTH} credential google` or `… microsoft` first."
        )
    wanted = name.strip().lower()
    selected = next(
        (
            c
            for c in credentials
            if c.id == selected_id
            or (wanted and wanted in (c.name.lower(), c.nylas_credential_id.lower()))
        ),
        None,
    )
    await deps.slack.views_open(
        trigger_id=trigger_id,
        view=build_grants_modal(credentials, selected, ModalOrigin(channel_id=channel_id)),
    )


async def grants_command(request: CommandRequest) -> None:
    """`/bulkauth grants [credential]`: the request modal, opened at once."""
    await request.ack()
    await _open_modal(
        request.deps, request.trigger_id, request.channel_id, name=" ".join(request.args)
    )


async def open_grants_from_button(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """ "Create grants" on a registration message or a consent reminder."""
    await ack()
    ref = CredentialRef.parse(body["actions"][0]["value"])
    await _open_modal(
        deps,
        body["trigger_id"],
        (body.get("channel") or {}).get("id") or "",
        selected_id=ref.credential_id,
    )


async def credential_chosen(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """Show the scope fields for Google and the queue option for Microsoft."""
    await ack()
    view = body["view"]
    chosen = (body["actions"][0].get("selected_option") or {}).get("value")
    credentials = await _credentials(deps)
    selected = next((c for c in credentials if str(c.id) == chosen), None)
    await deps.slack.views_update(
        view_id=view["id"],
        hash=view.get("hash"),
        view=build_grants_modal(
            credentials, selected, ModalOrigin.load(view.get("private_metadata"))
        ),
    )


async def user_candidates(deps: Deps, state: ViewState) -> tuple[str, ...]:
    pasted, files = state.text(BlockId.GRANTS_USERS_TEXT), state.files(BlockId.GRANTS_USERS_FILE)
    if pasted and files:
        message = "Give the users either pasted or as a file, not both."
        raise UserInputError(
            message, {BlockId.GRANTS_USERS_TEXT: message, BlockId.GRANTS_USERS_FILE: message}
        )
    if files:
        try:
            text = await deps.files.download_text(
                files[0],
                max_bytes=MAX_USER_FILE_BYTES,
                extensions=(".csv", ".txt"),
                kind="a CSV or text file",
            )
            # Parsing a large file takes a while: off the event loop, so other acks go on.
            candidates = await asyncio.to_thread(emails_from_file, text)
        except (FileProblem, NoEmailColumn) as problem:
            raise UserInputError(str(problem), {BlockId.GRANTS_USERS_FILE: str(problem)}) from None
    else:
        candidates = split_pasted(pasted)
    if not candidates:
        message = "Give at least one user: paste addresses or upload a file."
        raise UserInputError(message, {BlockId.GRANTS_USERS_TEXT: message})
    limit = deps.settings.bulkauth_max_users
    if len({candidate.lower() for candidate in candidates}) > limit:
        message = f"That is more than {limit:,} users; split the list into several runs."
        block = BlockId.GRANTS_USERS_FILE if files else BlockId.GRANTS_USERS_TEXT
        raise UserInputError(message, {block: message})
    return tuple(candidates)


def _scopes(state: ViewState) -> tuple[str, ...]:
    scopes = state.selected_many(BlockId.GRANTS_SCOPES)
    scopes += [s for s in re.split(r"[\s,]+", state.text(BlockId.GRANTS_EXTRA_SCOPES)) if s]
    if not scopes:
        message = "Choose at least one scope (they must be delegated to the service account)."
        raise UserInputError(message, {BlockId.GRANTS_SCOPES: message})
    return tuple(dict.fromkeys(scopes))


async def _start_after(deps: Deps, credential: CredentialRecord, queue: bool) -> datetime | None:
    async with deps.sessions() as session:
        gate = await grant_gate(session=session, credential=credential, now=utcnow())
    if gate.readiness == Readiness.NOT_CONSENTED:
        message = (
            f"No admin consent is recorded for {credential.name} yet: get it with "
            f"/bulkauth consent {credential.name}."
        )
        raise UserInputError(message, {BlockId.GRANTS_CREDENTIAL: message})
    if gate.readiness == Readiness.WAITING and not queue:
        assert gate.ready_at is not None
        message = (
            f"Consent is still propagating: grants can start at "
            f"{gate.ready_at:%H:%M} UTC. Tick “Start automatically…” to queue the run."
        )
        raise UserInputError(message, {BlockId.GRANTS_CREDENTIAL: message})
    return gate.ready_at if gate.readiness == Readiness.WAITING else None


async def _validate(deps: Deps, state: ViewState) -> GrantRequest:
    """Everything that can be checked inside the ack; every field's problem at once."""
    chosen = state.selected(BlockId.GRANTS_CREDENTIAL)
    credential = next((c for c in await _credentials(deps) if str(c.id) == chosen), None)
    if credential is None or credential.id is None:
        raise UserInputError(
            "Choose a credential.", {BlockId.GRANTS_CREDENTIAL: "Choose a credential."}
        )
    options = state.checked(BlockId.GRANTS_OPTIONS)
    errors: dict[str, str] = {}
    candidates: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    start_after = None
    try:
        candidates = await user_candidates(deps, state)
    except UserInputError as error:
        errors.update(error.field_errors)
    try:
        scopes = _scopes(state) if credential.provider == "google" else ()
        start_after = await _start_after(deps, credential, START_WHEN_READY in options)
    except UserInputError as error:
        errors.update(error.field_errors)
    reason = state.text(BlockId.GRANTS_REASON)
    if not reason:  # Slack requires the field, but spaces alone pass its check
        errors[BlockId.GRANTS_REASON] = "Say why these grants are needed."
    if errors:
        raise UserInputError("Some fields need attention.", errors)
    return GrantRequest(
        credential=credential,
        candidates=candidates,
        scopes=scopes,
        skip_existing=SKIP_EXISTING in options,
        start_after=start_after,
        reason=reason,
    )


async def submit_grants_request(
    ack: AsyncAck, view: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    """The request modal: check it in place, then plan in the background."""
    try:
        request = await _validate(deps, ViewState(view))
    except UserInputError as error:
        await refuse_submission(
            ack, deps.sessions, actor=actor, error=error, form=CallbackId.GRANTS_REQUEST
        )
        return
    await ack(response_action="update", view=build_planning_view(len(request.candidates)))
    origin = ModalOrigin.load(view.get("private_metadata"))
    planning = deps.planner.plan(
        request, requester=actor, channel_id=origin.channel_id, view_id=str(view["id"])
    )
    deps.tasks.spawn(
        planning,
        name="plan",
        for_=OnBehalfOf(actor.user_id, origin.channel_id or None, str(view["id"])),
    )


async def confirm_plan(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """ "Request approval" / "Start run" on the plan."""
    await ack()
    ref = PlanRef.parse(body["actions"][0]["value"])
    view_id = str(body["view"]["id"])
    pending = deps.planner.claim(ref.token, actor)
    if pending is None:
        text = NOT_HELD
    else:
        dm = None
        if pending.plan.kind in DESTRUCTIVE_KINDS and not deps.settings.bulkauth_approval_channel:
            dm = await approval_dm(deps.slack, deps.access, requester=actor.user_id)
        text = await deps.runs.confirm(pending, approval_dm=dm)
    await deps.slack.views_update(view_id=view_id, view=build_status_view(text))


SUBCOMMANDS: dict[Subcommand, SubcommandHandler] = {Subcommand.GRANTS: grants_command}


def register(app: AsyncApp) -> None:
    app.view(CallbackId.GRANTS_REQUEST)(submit_grants_request)
    app.action(ActionId.GRANTS_CREDENTIAL_CHOSEN)(credential_chosen)
    app.action(ActionId.OPEN_GRANTS_MODAL)(open_grants_from_button)
    app.action(ActionId.CONFIRM_PLAN)(confirm_plan)
