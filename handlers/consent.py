"""Admin-consent surfaces: `/bulkauth consent [credential]`, its modal, the "Get admin consent"
button of a Microsoft credential, and the manual "Consent was granted" button."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit.recording import actor_of
from bot.blocks import plain_message
from bot.blocks.metadata import ConsentRef, CredentialRef, ModalOrigin
from bot.consent.links import new_consent_link, parse_scopes
from bot.consent.messages import (
    build_consent_link_message,
    build_consent_modal,
    build_no_consent_credentials_message,
)
from bot.consent.outcome import ConsentOutcome
from bot.deps import Deps
from bot.errors import NotFound, UserInputError
from bot.ids import ActionId, BlockId, CallbackId, Subcommand
from bot.runtime.tasks import OnBehalfOf
from bot.slack.access import SlackActor
from bot.slack.forms import ViewState
from bot.slack.notify import channel_of, post_first, tell_user
from handlers.commands import CommandRequest, SubcommandHandler
from storage.audit import AuditAction, Subject, record_event
from storage.consents import add_consent_request, get_consent_request, set_consent_message
from storage.credentials import get_credential, list_credentials
from storage.models import ConsentStatus, CredentialRecord, as_utc, utcnow

log = logging.getLogger(__name__)


async def _consent_credentials(deps: Deps) -> list[CredentialRecord]:
    async with deps.sessions() as session:
        return await list_credentials(session=session, provider="microsoft")


def _named(credentials: list[CredentialRecord], name: str) -> CredentialRecord | None:
    wanted = name.strip().lower()
    return next(
        (
            c
            for c in credentials
            if c.name.lower() == wanted or c.nylas_credential_id == name.strip()
        ),
        None,
    )


async def consent_command(request: CommandRequest) -> None:
    """`/bulkauth consent [credential]`."""
    deps = request.deps
    credentials = await _consent_credentials(deps)
    if not credentials:
        await request.ack(
            response_type="ephemeral", **build_no_consent_credentials_message().as_kwargs()
        )
        return
    name = " ".join(request.args)
    selected = _named(credentials, name) if name else None
    if name and selected is None:
        await request.ack(
            response_type="ephemeral",
            text=f"No Microsoft credential is named `{name}`. "
            "`/bulkauth credentials microsoft` lists them.",
        )
        return
    await request.ack()
    view = build_consent_modal(credentials, selected, ModalOrigin(channel_id=request.channel_id))
    await deps.slack.views_open(trigger_id=request.trigger_id, view=view)


async def open_consent_from_button(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """ "Get admin consent" on a registered Microsoft credential, or on the App Home."""
    await ack()
    ref = CredentialRef.parse(body["actions"][0]["value"])
    credentials = await _consent_credentials(deps)
    if not credentials:
        raise NotFound(build_no_consent_credentials_message().text)
    channel = (body.get("channel") or {}).get("id") or ""
    selected = next((c for c in credentials if c.id == ref.credential_id), None)
    await deps.slack.views_open(
        trigger_id=body["trigger_id"],
        view=build_consent_modal(credentials, selected, ModalOrigin(channel_id=channel)),
    )


async def credential_chosen(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """The credential select changed: show the scope field only for a specific tenant."""
    await ack()
    view = body["view"]
    chosen = body["actions"][0].get("selected_option") or {}
    credentials = await _consent_credentials(deps)
    selected = next((c for c in credentials if str(c.id) == chosen.get("value")), None)
    origin = ModalOrigin.load(view.get("private_metadata"))
    await deps.slack.views_update(
        view_id=view["id"],
        hash=view.get("hash"),
        view=build_consent_modal(credentials, selected, origin),
    )


async def submit_consent_link(
    ack: AsyncAck, view: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    """The consent modal: validate, then post the link (in the background)."""
    state = ViewState(view)
    chosen = state.selected(BlockId.CONSENT_CREDENTIAL)
    async with deps.sessions() as session:
        credential = (
            await get_credential(session=session, credential_id=int(chosen))
            if chosen and chosen.isdigit()
            else None
        )
    if credential is None or credential.provider != "microsoft":
        await ack(
            response_action="errors",
            errors={BlockId.CONSENT_CREDENTIAL: "Choose a Microsoft credential."},
        )
        return
    try:
        scopes = parse_scopes(state.text(BlockId.CONSENT_SCOPES), tenant=credential.tenant or "")
        link = new_consent_link(
            settings=deps.settings,
            credential=credential,
            requested_by=actor.user_id,
            requested_by_name=actor.display_name,
            channel_id=ModalOrigin.load(view.get("private_metadata")).channel_id,
            scopes=scopes,
            now=utcnow(),
        )
    except UserInputError as error:
        errors = error.field_errors or {BlockId.CONSENT_CREDENTIAL: error.user_message}
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    deps.tasks.spawn(
        _post_link(deps, credential, link, actor),
        name="consent-link",
        for_=OnBehalfOf(actor.user_id, link.request.channel_id or None),
    )


async def _post_link(
    deps: Deps, credential: CredentialRecord, link: Any, actor: SlackActor
) -> None:
    async with deps.sessions() as session:
        request = await add_consent_request(session=session, request=link.request)
        await record_event(
            session=session,
            actor=actor_of(actor),
            action=AuditAction.CONSENT_LINK_ISSUED,
            subject=Subject(credential_id=credential.nylas_credential_id),
            details={
                "consent_request": request.id,
                "scopes": link.request.scopes or "from the Azure app",
            },
        )
        await session.commit()
    assert request.id is not None
    message = build_consent_link_message(
        credential=credential,
        requested_by=actor.user_id,
        url=link.url,
        expires_at=request.expires_at,
        consent_id=request.id,
        callback_reachable=link.callback_reachable,
    )
    # Opened from the App Home there is no channel: the link goes to the requester's DM.
    places = [(request.channel_id or actor.user_id, None), (actor.user_id, None)]
    posted, _thread = await post_first(deps.slack, places, message, what="consent link")
    async with deps.sessions() as session:
        await set_consent_message(
            session=session,
            consent_id=request.id,
            channel_id=str(posted["channel"]),
            ts=str(posted["ts"]),
        )
        await session.commit()


async def consent_granted_manually(
    ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor
) -> None:
    """ "Consent was granted": the fallback when the callback cannot reach the bot."""
    await ack()
    ref = ConsentRef.parse(body["actions"][0]["value"])
    async with deps.sessions() as session:
        consent = await get_consent_request(session=session, consent_id=ref.consent_id)
    now = utcnow()
    expired = consent is not None and as_utc(consent.expires_at) <= now
    recorded = (
        consent is not None
        and not expired
        and consent.status == ConsentStatus.PENDING
        and await deps.consent_recorder.record(
            consent, ConsentOutcome(granted=True), actor=actor_of(actor), now=now
        )
    )
    if not recorded:
        text = (
            "This consent link has expired, so consent through it is not recorded. Send a new "
            "one with `/bulkauth consent`."
            if expired
            else "This consent request was already settled."
        )
        await tell_user(
            deps.slack,
            user_id=actor.user_id,
            channel_id=channel_of(body),
            message=plain_message(text),
        )


SUBCOMMANDS: dict[Subcommand, SubcommandHandler] = {Subcommand.CONSENT: consent_command}


def register(app: AsyncApp) -> None:
    app.view(CallbackId.CONSENT_LINK)(submit_consent_link)
    app.action(ActionId.CONSENT_CREDENTIAL_CHOSEN)(credential_chosen)
    app.action(ActionId.OPEN_CONSENT_MODAL)(open_consent_from_button)
    app.action(ActionId.CONSENT_GRANTED_MANUALLY)(consent_granted_manually)
