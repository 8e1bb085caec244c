"""Driving bulk grant creation through the running bot, as a person in Slack would."""

from __future__ import annotations

import json
from typing import Any

from storage.models import CredentialRecord
from tests import forms
from tests.conftest import ADMIN, RunningBot
from tests.fakes.nylas import FakeNylas, StoredCredential
from tests.fakes.slack import FakeSlack, SlackCall
from tests.records import credential_record
from tests.slack_requests import block_action

GMAIL = "https://www.googleapis.com/auth/gmail.readonly"


async def seed_credential(
    bot: RunningBot, nylas: FakeNylas, *, provider: str = "google", name: str = "acme.com"
) -> CredentialRecord:
    """A credential as registration leaves it: in Nylas and in the bot's database."""
    record = credential_record(
        name, provider, tenant="contoso.com" if provider == "microsoft" else None
    )
    nylas.credentials[record.nylas_credential_id] = StoredCredential(
        record.nylas_credential_id, provider, name, record.credential_type, {}, 1, 1
    )
    async with bot.deps.sessions() as session:
        session.add(record)
        await session.commit()
        await session.refresh(record)
    return record


def request_values(
    credential: CredentialRecord,
    *,
    users: str | None = None,
    upload: dict[str, Any] | None = None,
    scopes: tuple[str, ...] = (GMAIL,),
    options: tuple[str, ...] = ("skip_existing",),
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "grants_credential": forms.select(str(credential.id)),
        "grants_users_text": forms.text(users),
        "grants_users_file": forms.files(upload) if upload else forms.files(),
        "grants_options": forms.checkboxes(*options),
    }
    if credential.provider == "google":
        values["grants_scopes"] = forms.multi_select(*scopes)
        values["grants_extra_scopes"] = forms.text(None)
    return values


def button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    return next(
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )


async def plan(
    bot: RunningBot, slack: FakeSlack, credential: CredentialRecord, users: str, **values: Any
) -> dict[str, Any]:
    """Open the modal, submit it, and return the plan view the modal turned into."""
    view = await bot.open_modal(slack, f"grants {credential.name}")
    status, ack = await bot.submit(view, request_values(credential, users=users, **values))
    assert status == 200 and ack.get("response_action") == "update", ack
    calls = await slack.wait_for(
        "views.update",
        lambda c: c.params.get("view_id") == view["id"] and "Dry run" in c.text_blob(),
    )
    return {
        **slack.views[view["id"]],
        "id": view["id"],
        "blocks": calls[-1].params["view"]["blocks"],
    }


async def confirm(bot: RunningBot, plan_view: dict[str, Any], *, user_id: str = ADMIN) -> None:
    confirm_button = button(plan_view["blocks"], "confirm_plan")
    response = await bot.interact(
        block_action(
            user_id=user_id, action_id="confirm_plan", value=confirm_button["value"], view=plan_view
        )
    )
    assert response.status == 200


def is_approval_request(call: SlackCall) -> bool:
    return any(
        block.get("type") == "actions" and "approve_run" in json.dumps(block)
        for block in call.params.get("blocks") or []
    )


async def wait_for_csv(slack: FakeSlack, *, count: int = 1) -> str:
    """The run's end: the CSV of every user uploaded into the progress thread."""
    await slack.wait_for("files.completeUploadExternal", count=count, timeout=30)
    upload = [u for u in slack.uploads.values() if u.content][-1]
    return upload.content.decode()


async def request_approval(
    bot: RunningBot, slack: FakeSlack, credential: CredentialRecord, users: str
) -> tuple[str, str, str]:
    """Plan and confirm with an approval channel set: (Approve button value, channel, ts)."""
    before = len([c for c in slack.calls_to("chat.postMessage") if is_approval_request(c)])
    await confirm(bot, await plan(bot, slack, credential, users))
    requests = await slack.wait_for("chat.postMessage", is_approval_request, count=before + 1)
    channel = str(requests[-1].params["channel"])
    ts = [ts for (posted_in, ts) in slack.messages if posted_in == channel][-1]
    return button(requests[-1].params["blocks"], "approve_run")["value"], channel, ts


async def approve(bot: RunningBot, value: str, channel: str, ts: str, *, approver: str) -> None:
    response = await bot.interact(
        block_action(
            user_id=approver,
            action_id="approve_run",
            value=value,
            channel_id=channel,
            message_ts=ts,
        )
    )
    assert response.status == 200


async def start_run(bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, users: str) -> None:
    """acme.com registered, a plan for `users`, confirmed: without an approval channel the run
    starts at once."""
    credential = await seed_credential(bot, nylas)
    await confirm(bot, await plan(bot, slack, credential, users))
