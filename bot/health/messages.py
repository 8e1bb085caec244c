"""`/bulkauth health`'s answer and the **Re-authenticate N invalid grants** button (also on the
App Home and the alerts). Pure builders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, DividerBlock

from bot.blocks import Message, escape, markdown, short
from bot.blocks.metadata import CredentialRef
from bot.health.causes import likely_cause
from bot.health.checking import CredentialHealth
from bot.ids import ActionId

MAX_CREDENTIALS_SHOWN = 12  # 3 blocks each stays under Slack's 50 blocks a message


def reauth_button(credential_id: int, invalid: int | None) -> ButtonElement:
    """None: the count is not known yet (after a rotation); the plan it opens tells."""
    noun = "grant" if invalid == 1 else "grants"
    text = (
        "Re-authenticate invalid grants"
        if invalid is None
        else (f"Re-authenticate {invalid:,} invalid {noun}")
    )
    return ButtonElement(
        action_id=ActionId.REAUTHENTICATE_INVALID,
        text=text[:75],
        style="primary",
        value=CredentialRef(credential_id=credential_id).model_dump_json(),
    )


def counts_line(name: str, provider: str, valid: int | None, invalid: int) -> str:
    """*acme.com* (Google): 940 valid · 60 invalid"""
    figures = (
        f"{valid:,} valid · {invalid:,} invalid" if valid is not None else f"{invalid:,} invalid"
    )
    return f"*{escape(short(name))}* ({provider.title()}): {figures}"


def _credential_blocks(health: CredentialHealth, today: date) -> list[Block]:
    credential = health.credential
    assert credential.id is not None
    lines = [counts_line(credential.name, credential.provider, health.valid, health.invalid)]
    if health.invalid:
        lines.append("Newest invalid:")
        lines += [
            f"• `{escape(grant.email or grant.id)}`: {likely_cause(credential, grant, today=today)}"
            for grant in health.newest_invalid
        ]
    blocks: list[Block] = [markdown("\n".join(lines))]
    if health.invalid:
        blocks.append(ActionsBlock(elements=[reauth_button(credential.id, health.invalid)]))
    return blocks


def build_health_message(reports: Sequence[CredentialHealth], *, today: date) -> Message:
    if not reports:
        text = "No credential is registered yet, so there are no grants to check."
        return Message(text=text, blocks=[markdown(text)])
    invalid = sum(report.invalid for report in reports)
    count = f"{len(reports):,} credential" + ("" if len(reports) == 1 else "s")
    headline = (
        f":large_green_circle: Every grant of {count} is valid."
        if not invalid
        else f":warning: {invalid:,} invalid grants across {count}."
    )
    ordered = sorted(reports, key=lambda report: -report.invalid)  # the worst first
    blocks: list[Block] = [markdown(headline)]
    for report in ordered[:MAX_CREDENTIALS_SHOWN]:
        blocks += [DividerBlock(), *_credential_blocks(report, today)]
    left = len(ordered) - MAX_CREDENTIALS_SHOWN
    if left > 0:
        blocks.append(markdown(f"…and {left:,} more credentials: `/bulkauth health NAME`"))
    return Message(text=headline, blocks=blocks)
