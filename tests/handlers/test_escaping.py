"""User input never becomes a ping or a link in Slack: a credential named like an attack, a
display name and a reason with markup, through every surface that shows them.

The `slack` fixture also checks every message and view of every test for unescaped markup
(`FakeSlack.unescaped_markup`); this test makes sure hostile text reaches all of them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.credential_flow import registration_outcome, submit_google, submit_microsoft
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import approval_request, confirm, fill_request, wait_for_csv
from tests.keys import key_json
from tests.slack_requests import app_home_opened
from tests.slack_ui import Person

HOSTILE = "<!channel> <https://evil.example|contoso.com>"
HOSTILE_GOOGLE = "<!here> <https://evil.example/g|acme.com>"
APPROVER = "U0APPROVER"
APPROVALS = "C0APPROVALS"


def consent_state(posted: SlackCall) -> str:
    url = next(
        element["url"]
        for block in posted.params["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("url")
    )
    return parse_qs(urlsplit(url).query)["state"][0]


async def look_everywhere(bot: RunningBot, slack: FakeSlack, person: Person) -> None:
    for text in ("credentials", "status", "audit", f"audit {HOSTILE}"):
        await person.command(text)
    await slack.wait_for("response_url", count=3)
    await bot.event(app_home_opened(user_id=ADMIN))
    await slack.wait_for("views.publish")
    await bot.settled()


async def test_hostile_names_are_shown_escaped_everywhere(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    slack.users[ADMIN].name = "Ada <!here> Admin"  # display names are user input too
    slack.add_user(APPROVER, "Ann <https://evil.example|Approver>")
    settings = make_settings(
        public_base_url="https://bulkauth.example.com",
        bulkauth_consent_wait_seconds=0.2,
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[APPROVER],
        bulkauth_run_scan_seconds=0.2,
        bulkauth_progress_interval_seconds=0.5,
    )
    async with run_bot(settings) as bot:
        person = Person(bot, slack, ADMIN)
        google = await person.open_modal("credential google")
        await submit_google(google, name=HOSTILE_GOOGLE, pasted=key_json())
        await registration_outcome(google, "Registered")
        microsoft = await person.open_modal("credential microsoft")
        await submit_microsoft(microsoft, name=HOSTILE)
        await registration_outcome(microsoft, "Registered")

        consent = await person.open_modal("consent")
        await consent.choose("Credential", HOSTILE[:20])
        assert (await consent.submit()).ack == {}
        [link] = await slack.wait_for("chat.postMessage", lambda c: "consent" in c.text_blob())
        response = await bot.http.get(
            f"{bot.url}/nylas/callback",
            params={"admin_consent": "True", "state": consent_state(link)},
        )
        assert response.status == 200
        await slack.wait_for("chat.postMessage", lambda c: "propagation wait" in c.text_blob())

        grants = await person.open_modal("grants")
        await grants.choose("Credential", HOSTILE_GOOGLE[:20])
        fill_request(grants, users="ann@acme.com\nbob@acme.com")
        assert (await grants.submit()).ack["response_action"] == "update"
        await confirm(bot, await grants.wait_for("Dry run"))
        request = await approval_request(slack, bot)
        await Person(bot, slack, APPROVER).click(request, "Approve")
        await wait_for_csv(slack)
        await look_everywhere(bot, slack, person)

    shown = "\n".join(call.text_blob() for call in slack.calls)
    assert "&lt;!channel&gt;" in shown and "&lt;!here&gt;" in shown  # the names were shown …
    leaks = slack.unescaped_markup()
    slack.calls.clear()  # reported here, once
    assert leaks == []  # … and never as markup
