"""Rotating a credential's secret or key: `/bulkauth credential rotate <name or id>`, the
"Rotate now" button of an expiry reminder, and the two rotation modals' submissions.

Only the bot's admins reach these (the access check of bot/app.py runs on every command,
click and submission); the submission checks the acting person once more before anything is
sent, and the provider check runs inside the ack, before any PATCH.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit.recording import refuse_submission
from bot.blocks import escape
from bot.blocks.metadata import CredentialRef, RotationOrigin
from bot.credentials.checks import Finding
from bot.credentials.messages import build_status_view
from bot.deps import Deps
from bot.errors import UserInputError
from bot.ids import ActionId, BlockId, CallbackId, CommandName
from bot.lifecycle.forms import PendingRotation, parse_google_rotation, parse_microsoft_rotation
from bot.lifecycle.messages import build_google_rotation_modal, build_microsoft_rotation_modal
from bot.lifecycle.rotation import TITLE
from bot.nylas.consent import COMMON_TENANT
from bot.nylas.problems import Field
from bot.runtime.tasks import OnBehalfOf
from bot.slack.access import REFUSAL, SlackActor
from bot.slack.forms import ViewState
from handlers.commands import CommandRequest
from storage.credentials import find_credential, get_credential
from storage.models import CredentialRecord

USAGE = f"Say which credential: `{CommandName.BULKAUTH} credential rotate &lt;name or id&gt;`."
CONNECTOR_APP = (
    "*{name}* uses the Microsoft connector's own Azure app, so its secret is the connector's: "
    "rotate it in the Nylas Dashboard (Connectors → Microsoft)."
)


def _modal_for(record: CredentialRecord, channel_id: str) -> dict[str, Any] | str:
    """The rotation modal, or why this credential cannot be rotated here."""
    assert record.id is not None
    origin = RotationOrigin(credential_id=record.id, channel_id=channel_id)
    if record.provider == "google":
        return build_google_rotation_modal(record, origin).to_dict()
    if record.uses_connector_app:
        return CONNECTOR_APP.format(name=escape(record.name))
    return build_microsoft_rotation_modal(record, origin).to_dict()


async def open_rotation(request: CommandRequest) -> None:
    """`/bulkauth credential rotate <name or id>`: the modal opens at once."""
    wanted = " ".join(request.args[1:]).strip()
    if not wanted:
        await request.ack(response_type="ephemeral", text=USAGE)
        return
    async with request.deps.sessions() as session:
        record = await find_credential(session=session, name_or_id=wanted)
    if record is None:
        text = (
            f"No credential is named `{escape(wanted)}`. See `{CommandName.BULKAUTH} credentials`."
        )
        await request.ack(response_type="ephemeral", text=text)
        return
    view = _modal_for(record, request.channel_id)
    if isinstance(view, str):
        await request.ack(response_type="ephemeral", text=view)
        return
    await request.ack()
    await request.deps.slack.views_open(trigger_id=request.trigger_id, view=view)


GONE = "This credential is no longer known to the bot (deleted, or never registered here)."


async def open_rotation_from_button(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """ "Rotate now" on an expiry reminder (a DM or the alert channel)."""
    await ack()
    ref = CredentialRef.parse(body["actions"][0].get("value"))
    async with deps.sessions() as session:
        record = (
            await get_credential(session=session, credential_id=ref.credential_id)
            if ref.credential_id
            else None
        )
    if record is None or record.deleted_at is not None:
        view = build_status_view(TITLE, GONE)
        await deps.slack.views_open(trigger_id=body["trigger_id"], view=view)
        return
    channel = str((body.get("channel") or {}).get("id") or "")
    modal = _modal_for(record, channel)
    if isinstance(modal, str):
        modal = build_status_view(TITLE, modal).to_dict()
    await deps.slack.views_open(trigger_id=body["trigger_id"], view=modal)


async def _load(view: dict[str, Any], deps: Deps) -> tuple[RotationOrigin, CredentialRecord]:
    origin = RotationOrigin.parse(view.get("private_metadata"))
    async with deps.sessions() as session:
        record = await get_credential(session=session, credential_id=origin.credential_id)
    if record is None or record.deleted_at is not None:
        raise UserInputError(GONE, {})
    return origin, record


def _blocking(finding: Finding, fields: Mapping[Field, str], default: str) -> None:
    """Refuse the submission when the provider refused the new secret or key."""
    problem = finding.problem
    if problem is None or not problem.blocking:
        return
    block = fields.get(problem.field, default)
    raise UserInputError(problem.reason, {block: f"{problem.reason} {problem.fix}".strip()})


def _check_word(finding: Finding) -> str:
    return "unreachable" if finding.problem is not None else "passed"


async def _accept(ack: AsyncAck, deps: Deps, pending: PendingRotation, view_id: str) -> None:
    text = ":hourglass_flowing_sand: Giving Nylas the new credential data…"
    await ack(response_action="update", view=build_status_view(TITLE, text))
    deps.tasks.spawn(
        deps.rotator.rotate(pending, view_id=view_id),
        name=f"rotate-{pending.record_id}",
        for_=OnBehalfOf(pending.actor.user_id, pending.channel_id or None, view_id),
    )


async def _refuse(
    ack: AsyncAck, deps: Deps, actor: SlackActor, error: UserInputError, form: str
) -> None:
    if not error.field_errors:
        await ack(response_action="update", view=build_status_view(TITLE, str(error)))
        return
    await refuse_submission(ack, deps.sessions, actor=actor, error=error, form=form)


async def submit_microsoft(
    ack: AsyncAck, view: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    state = ViewState(view)
    secret = state.text(BlockId.CLIENT_SECRET)
    deps.redactor.add(secret)
    try:
        if not deps.access.is_allowed(actor):
            raise UserInputError(REFUSAL, {})
        origin, record = await _load(view, deps)
        data = parse_microsoft_rotation(
            record,
            tenant=state.text(BlockId.TENANT),
            client_id=state.text(BlockId.CLIENT_ID),
            client_secret=secret,
            expires_on=state.date(BlockId.SECRET_EXPIRES_ON),
            today=datetime.now(UTC).date(),
        )
        check = "not possible"
        assert data.client_id is not None
        if data.tenant.lower() != COMMON_TENANT:
            finding = await deps.checks.microsoft(
                tenant=data.tenant, client_id=data.client_id, client_secret=secret
            )
            fields = {
                Field.CLIENT_SECRET: BlockId.CLIENT_SECRET,
                **({Field.CLIENT_ID: BlockId.CLIENT_ID} if not record.client_id else {}),
                **({Field.TENANT: BlockId.TENANT} if not record.tenant else {}),
            }
            _blocking(finding, fields, BlockId.CLIENT_SECRET)
            check = _check_word(finding)
    except UserInputError as error:
        await _refuse(ack, deps, actor, error, CallbackId.ROTATE_MICROSOFT)
        return
    pending = PendingRotation(
        record_id=origin.credential_id,
        data=data,
        actor=actor,
        channel_id=origin.channel_id,
        expires_on=state.date(BlockId.SECRET_EXPIRES_ON),
        check=check,
    )
    await _accept(ack, deps, pending, str(view["id"]))


async def submit_google(ack: AsyncAck, view: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    state = ViewState(view)
    files = state.files(BlockId.KEY_FILE)
    try:
        if not deps.access.is_allowed(actor):
            raise UserInputError(REFUSAL, {})
        origin, record = await _load(view, deps)
        uploaded, upload_problem = (
            await deps.registrar.download_key_file(files[0]) if files else (None, None)
        )
        key = parse_google_rotation(
            record,
            pasted=state.text(BlockId.KEY_JSON),
            uploaded=uploaded,
            upload_problem=upload_problem,
        )
        deps.redactor.add(key.private_key.get_secret_value())
        finding = await deps.checks.google_key(key)
        _blocking(finding, {}, BlockId.KEY_FILE if files else BlockId.KEY_JSON)
    except UserInputError as error:
        await _refuse(ack, deps, actor, error, CallbackId.ROTATE_GOOGLE)
        return
    pending = PendingRotation(
        record_id=origin.credential_id,
        data=key,
        actor=actor,
        channel_id=origin.channel_id,
        check=_check_word(finding),
        uploaded_file_id=str(files[0]["id"]) if files else None,
    )
    await _accept(ack, deps, pending, str(view["id"]))


def register(app: AsyncApp) -> None:
    app.view(CallbackId.ROTATE_MICROSOFT)(submit_microsoft)
    app.view(CallbackId.ROTATE_GOOGLE)(submit_google)
    app.action(ActionId.ROTATE_CREDENTIAL)(open_rotation_from_button)
