"""Credential surfaces: `/bulkauth credential google|microsoft`, `/bulkauth credentials`, the
two registration modals, their "Try again" button and the App Home's "Register" buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit.recording import refuse_submission
from bot.blocks.metadata import ModalOrigin, RetryToken
from bot.credentials.forms import (
    USE_CONNECTOR_APP,
    GoogleForm,
    MicrosoftForm,
    PendingRegistration,
    parse_google_form,
    parse_microsoft_form,
)
from bot.credentials.listing import CredentialLine, build_credentials_list
from bot.credentials.messages import (
    build_google_credential_modal,
    build_microsoft_credential_modal,
    build_registering_view,
    build_status_view,
)
from bot.credentials.verdicts import check_google, check_microsoft
from bot.deps import Deps
from bot.errors import UserInputError
from bot.ids import ActionId, BlockId, CallbackId, CommandName, Subcommand
from bot.nylas.errors import NylasError
from bot.nylas.models import Provider
from bot.runtime.tasks import OnBehalfOf
from bot.slack.access import SlackActor
from bot.slack.forms import ViewState
from handlers.commands import CommandRequest, SubcommandHandler
from handlers.credentials.deletion import delete_command
from handlers.credentials.rotation import open_rotation
from storage.consents import latest_consents
from storage.credentials import credentials_by_nylas_id, name_taken

PROVIDERS: tuple[Provider, ...] = ("google", "microsoft")
MODALS = {"google": build_google_credential_modal, "microsoft": build_microsoft_credential_modal}


def _provider(args: list[str]) -> Provider | None:
    word = args[0].lower() if args else ""
    return next((provider for provider in PROVIDERS if provider == word), None)


async def open_credential_modal(request: CommandRequest) -> None:
    """`/bulkauth credential google|microsoft`: the registration modal, opened at once;
    `/bulkauth credential rotate <name or id>`: the rotation modal; `credential delete <name>`:
    see `handlers/credentials/deletion.py`."""
    actions = {"rotate": open_rotation, "delete": delete_command}
    action = actions.get(request.args[0].lower()) if request.args else None
    if action is not None:
        await action(request)
        return
    provider = _provider(request.args)
    if provider is None:
        usage = (
            f"Say which provider: `{CommandName.BULKAUTH} credential google` or `… microsoft` "
            f"(or `… credential rotate <name>`, `… credential delete <name>`)."
        )
        await request.ack(response_type="ephemeral", text=usage)
        return
    await request.ack()
    view = MODALS[provider](ModalOrigin(channel_id=request.channel_id))
    await request.deps.slack.views_open(trigger_id=request.trigger_id, view=view)


async def open_credential_from_home(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """The App Home's "Register … credential" buttons (no channel: results come as a DM)."""
    await ack()
    provider: Provider = "google" if body["actions"][0]["value"] == "google" else "microsoft"
    await deps.slack.views_open(trigger_id=body["trigger_id"], view=MODALS[provider](ModalOrigin()))


async def list_credentials(request: CommandRequest) -> None:
    """`/bulkauth credentials [google|microsoft]`: Nylas's list joined with what the bot knows."""
    provider = _provider(request.args)
    if request.args and provider is None:
        await request.ack(
            response_type="ephemeral", text="Filter by `google` or `microsoft`, or give no filter."
        )
        return
    await request.ack()
    deps = request.deps
    try:
        lines = await _credential_lines(deps, [provider] if provider else list(PROVIDERS))
    except NylasError as error:
        await request.respond(response_type="ephemeral", text=f":x: {error.user_message}")
        return
    message = build_credentials_list(lines, provider=provider)
    await request.respond(response_type="ephemeral", **message.as_kwargs())


async def _credential_lines(deps: Deps, providers: list[Provider]) -> list[CredentialLine]:
    listed = [
        (provider, credential)
        for provider in providers
        for credential in await deps.nylas.list_credentials(provider)
    ]
    async with deps.sessions() as session:
        known = await credentials_by_nylas_id(session=session, nylas_ids=[c.id for _, c in listed])
        consents = await latest_consents(
            session=session, credential_ids=[r.id for r in known.values() if r.id is not None]
        )
    lines = []
    for provider, credential in listed:
        record = known.get(credential.id)
        consent = consents.get(record.id) if record and record.id is not None else None
        created = (
            datetime.fromtimestamp(credential.created_at, UTC) if credential.created_at else None
        )
        lines.append(
            CredentialLine(
                provider=provider,
                name=credential.name,
                credential_id=credential.id,
                created=created,
                registered_by=record.registered_by if record else None,
                consent=(consent.status if consent else "not requested")
                if provider == "microsoft"
                else None,
            )
        )
    lines.sort(key=lambda line: line.created or datetime.min.replace(tzinfo=UTC), reverse=True)
    return lines


async def _accept(ack: AsyncAck, deps: Deps, pending: PendingRegistration, view_id: str) -> None:
    await ack(
        response_action="update", view=build_registering_view(pending.provider, pending.form.name)
    )
    token = deps.registrations.put(pending)
    deps.tasks.spawn(
        deps.registrar.register(pending, view_id=view_id, token=token),
        name=f"register-{pending.provider}",
        for_=OnBehalfOf(pending.actor.user_id, pending.channel_id, view_id),
    )


async def _taken(deps: Deps, provider: str, name: str) -> bool:
    async with deps.sessions() as session:
        return await name_taken(session=session, provider=provider, name=name)


async def submit_google(ack: AsyncAck, view: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """view_submission of the Google modal: validate everything, then register in background."""
    state = ViewState(view)
    name, files = state.text(BlockId.CREDENTIAL_NAME), state.files(BlockId.KEY_FILE)
    uploaded, upload_problem = (
        await deps.registrar.download_key_file(files[0]) if files else (None, None)
    )
    try:
        form: GoogleForm = parse_google_form(
            name=name,
            name_taken=await _taken(deps, "google", name),
            pasted=state.text(BlockId.KEY_JSON),
            uploaded=uploaded,
            upload_problem=upload_problem,
        )
        deps.redactor.add(form.key.private_key.get_secret_value())
        key_block = BlockId.KEY_FILE if files else BlockId.KEY_JSON
        check, findings = await check_google(deps.checks, state, form, key_block)
    except UserInputError as error:
        await refuse_submission(
            ack, deps.sessions, actor=actor, error=error, form=CallbackId.GOOGLE_CREDENTIAL
        )
        return
    origin = ModalOrigin.load(view.get("private_metadata"))
    pending = PendingRegistration(
        provider="google",
        form=form,
        actor=actor,
        channel_id=origin.channel_id,
        uploaded_file_id=str(files[0]["id"]) if files else None,
        check=check,
        findings=findings,
    )
    await _accept(ack, deps, pending, str(view["id"]))


async def submit_microsoft(
    ack: AsyncAck, view: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    """view_submission of the Microsoft modal."""
    state = ViewState(view)
    name = state.text(BlockId.CREDENTIAL_NAME)
    secret = state.text(BlockId.CLIENT_SECRET)
    deps.redactor.add(secret)
    try:
        form: MicrosoftForm = parse_microsoft_form(
            name=name,
            name_taken=await _taken(deps, "microsoft", name),
            tenant=state.text(BlockId.TENANT),
            client_id=state.text(BlockId.CLIENT_ID),
            client_secret=secret,
            use_connector_app=USE_CONNECTOR_APP in state.checked(BlockId.USE_CONNECTOR_APP),
            secret_expires_on=state.date(BlockId.SECRET_EXPIRES_ON),
            today=datetime.now(UTC).date(),
        )
        check, findings = await check_microsoft(deps.checks, state, form, secret)
    except UserInputError as error:
        await refuse_submission(
            ack, deps.sessions, actor=actor, error=error, form=CallbackId.MICROSOFT_CREDENTIAL
        )
        return
    origin = ModalOrigin.load(view.get("private_metadata"))
    pending = PendingRegistration(
        provider="microsoft",
        form=form,
        actor=actor,
        channel_id=origin.channel_id,
        check=check,
        findings=findings,
    )
    await _accept(ack, deps, pending, str(view["id"]))


async def retry_registration(
    ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    """The "Try again" button on a failed registration: same data, no retyping."""
    await ack()
    retry = RetryToken.parse(body["actions"][0]["value"])
    view_id = str(body["view"]["id"])
    held: PendingRegistration | None = deps.registrations.get(retry.token)
    if (
        held is not None
        and held.actor.user_id == actor.user_id
        and deps.registrations.is_taken(retry.token)
    ):
        return  # a second click while the first retry is under way: one registration only
    pending = (
        deps.registrations.take(retry.token)
        if held and held.actor.user_id == actor.user_id
        else None
    )
    if pending is None:
        text = (
            "This submission is no longer held (the bot keeps it 15 minutes, in memory "
            f"only). Run `{CommandName.BULKAUTH} credential …` again."
        )
        await deps.slack.views_update(view_id=view_id, view=build_status_view("Try again", text))
        return
    await deps.slack.views_update(
        view_id=view_id, view=build_registering_view(pending.provider, pending.form.name)
    )
    deps.tasks.spawn(
        deps.registrar.register(pending, view_id=view_id, token=retry.token),
        for_=OnBehalfOf(pending.actor.user_id, pending.channel_id, view_id),
        name=f"register-retry-{pending.provider}",
    )


SUBCOMMANDS: dict[Subcommand, SubcommandHandler] = {
    Subcommand.CREDENTIAL: open_credential_modal,
    Subcommand.CREDENTIALS: list_credentials,
}


def register(app: AsyncApp) -> None:
    app.view(CallbackId.GOOGLE_CREDENTIAL)(submit_google)
    app.view(CallbackId.MICROSOFT_CREDENTIAL)(submit_microsoft)
    app.action(ActionId.RETRY_REGISTRATION)(retry_registration)
    app.action(ActionId.OPEN_GOOGLE_CREDENTIAL_MODAL)(open_credential_from_home)
    app.action(ActionId.OPEN_MICROSOFT_CREDENTIAL_MODAL)(open_credential_from_home)
