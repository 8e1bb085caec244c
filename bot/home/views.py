"""The bot's App Home tab: credentials, active runs, latest audit events and the next steps."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.audit.messages import event_line
from bot.blocks import context, escape, lines_section, markdown, short
from bot.blocks.metadata import CredentialRef
from bot.blocks.times import slack_date_time, slack_time
from bot.health.messages import reauth_button
from bot.home.controls import run_controls
from bot.home.dashboard import CredentialSummary, HomeSnapshot
from bot.home.status import run_line
from bot.ids import ActionId, CommandName
from bot.slack.access import REFUSAL
from storage.models import ConsentStatus, as_utc

CREDENTIALS_PER_PROVIDER = 15
PROVIDERS = (("google", "Google"), ("microsoft", "Microsoft"))


def _next_steps() -> ActionsBlock:
    any_credential = CredentialRef().model_dump_json()
    return ActionsBlock(
        elements=[
            ButtonElement(
                action_id=ActionId.OPEN_GOOGLE_CREDENTIAL_MODAL,
                text="Register Google credential",
                value="google",
            ),
            ButtonElement(
                action_id=ActionId.OPEN_MICROSOFT_CREDENTIAL_MODAL,
                text="Register Microsoft credential",
                value="microsoft",
            ),
            ButtonElement(
                action_id=ActionId.OPEN_CONSENT_MODAL,
                text="Get admin consent",
                value=any_credential,
            ),
            ButtonElement(
                action_id=ActionId.OPEN_GRANTS_MODAL,
                text="Create grants",
                style="primary",
                value=any_credential,
            ),
        ]
    )


def consent_state(summary: CredentialSummary, snapshot: HomeSnapshot) -> str:
    consent = summary.consent
    if consent is None:
        return "consent not requested"
    if consent.status == ConsentStatus.CONSENTED:
        if consent.ready_at is not None and as_utc(consent.ready_at) > as_utc(snapshot.now):
            return f"consented, propagating until {slack_time(consent.ready_at)}"
        return "consented :white_check_mark:"
    if consent.status == ConsentStatus.PENDING:
        if as_utc(consent.expires_at) <= as_utc(snapshot.now):
            return "consent link expired unanswered"
        return f"consent link sent {slack_date_time(consent.created_at)}, waiting for the admin"
    return f"consent {escape(consent.status)}"


def _credential_section(summary: CredentialSummary, snapshot: HomeSnapshot) -> SectionBlock:
    record = summary.record
    parts = [f"*{escape(short(record.name))}*"]
    if record.provider == "google":
        parts.append(f"`{escape(short(record.client_email or '', 60))}`")
    else:
        parts.append(f"tenant `{escape(short(record.tenant or '', 40))}`")
        parts.append(consent_state(summary, snapshot))
    parts.append(f"{summary.grants:,} grant{'s' if summary.grants != 1 else ''} from runs")
    if record.secret_expires_on is not None:
        parts.append(f"secret expires {record.secret_expires_on:%Y-%m-%d}")
    if summary.invalid is not None and summary.swept_at is not None:
        parts.append(
            f"{summary.invalid:,} invalid at the last sweep ({slack_date_time(summary.swept_at)})"
        )
    if summary.invalid and record.id is not None:
        reauth = reauth_button(record.id, summary.invalid)
        return SectionBlock(text=MarkdownTextObject(text=" · ".join(parts)), accessory=reauth)
    consented = summary.consent is not None and summary.consent.status == ConsentStatus.CONSENTED
    wants_consent = record.provider == "microsoft" and not consented
    button = ButtonElement(
        action_id=ActionId.OPEN_CONSENT_MODAL if wants_consent else ActionId.OPEN_GRANTS_MODAL,
        text="Get admin consent" if wants_consent else "Create grants",
        value=CredentialRef(credential_id=record.id).model_dump_json(),
    )
    return SectionBlock(text=MarkdownTextObject(text=" · ".join(parts)), accessory=button)


def _credential_blocks(snapshot: HomeSnapshot) -> list[Block]:
    blocks: list[Block] = []
    for provider, label in PROVIDERS:
        mine = [s for s in snapshot.credentials if s.record.provider == provider]
        blocks.append(HeaderBlock(text=f"{label} credentials ({len(mine)})"))
        if not mine:
            blocks.append(markdown(f"_No {label} credential yet._"))
        blocks += [_credential_section(s, snapshot) for s in mine[:CREDENTIALS_PER_PROVIDER]]
        if len(mine) > CREDENTIALS_PER_PROVIDER:
            rest = len(mine) - CREDENTIALS_PER_PROVIDER
            blocks.append(
                markdown(
                    f"…and {rest:,} more: `{CommandName.BULKAUTH} credentials {provider}` "
                    "lists them all."
                )
            )
    return blocks


def build_home_view(snapshot: HomeSnapshot, *, tz: ZoneInfo) -> View:
    """Newest credentials first (15 per provider), every active run, the last 10 events."""
    blocks: list[Block] = [
        HeaderBlock(text="bulkauth"),
        markdown(
            "Onboard whole organisations to Nylas: register a customer's credential, get "
            "Microsoft admin consent, then create grants for every mailbox in one approved run."
        ),
        _next_steps(),
        DividerBlock(),
        *_credential_blocks(snapshot),
        DividerBlock(),
        HeaderBlock(text=f"Active runs ({len(snapshot.active_runs)})"),
        lines_section(
            "",
            [run_line(line) for line in snapshot.active_runs],
            empty="No run is awaiting approval, waiting or running.",
            more_hint=f": `{CommandName.BULKAUTH} status`",
        ),
        *run_controls(snapshot.active_runs),
        DividerBlock(),
        HeaderBlock(text="Latest activity"),
        lines_section(
            "",
            [event_line(e, tz, snapshot.credential_names) for e in snapshot.events],
            empty="Nothing has happened yet.",
            more_hint=f": `{CommandName.BULKAUTH} audit`",
        ),
        context(
            f"Updated {slack_date_time(snapshot.now)}; event times in {tz.key}. "
            f"Everything here is also in `{CommandName.BULKAUTH} status` and "
            f"`{CommandName.BULKAUTH} audit`."
        ),
    ]
    return View(type="home", blocks=blocks)


def build_home_refusal_view() -> View:
    """For users who may not use the bot: what it is, and who to ask."""
    return View(
        type="home",
        blocks=[
            HeaderBlock(text="bulkauth"),
            markdown(
                "This bot lets the integration team onboard customers' organisations to Nylas "
                "(credentials, admin consent and grants in bulk)."
            ),
            markdown(REFUSAL),
        ],
    )
