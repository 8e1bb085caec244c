"""The demo page's server, talked to as the page's script does (JSON over HTTP): it plays Slack's
client for the real bot, and it answers only the person's own machine."""

from __future__ import annotations

import html
import json
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.demo.run import Demo, running_demo
from bot.demo.samples import KEY_FILE, USERS_FILE


@pytest.fixture
async def demo() -> AsyncIterator[Demo]:
    async with running_demo(port=0) as running:
        yield running


async def _post(http: aiohttp.ClientSession, demo: Demo, path: str, body: dict[str, Any]) -> Any:
    async with http.post(demo.url.removesuffix("/demo/") + path, json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def _screen(http: aiohttp.ClientSession, demo: Demo, user: str) -> dict[str, Any]:
    async with http.get(demo.url + f"api/screen?user={user}") as response:
        screen: dict[str, Any] = await response.json()
        return screen


async def test_the_page_listens_on_this_machine_only_and_runs_no_inline_script(demo: Demo) -> None:
    assert demo.url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as http:
        async with http.get(demo.url) as page:
            assert page.status == 200
            assert "script-src" not in page.headers["Content-Security-Policy"]  # 'self' only
            assert "<script>" not in await page.text()  # the script is a file, no inline code
        async with http.get(demo.url, headers={"Host": "evil.example:80"}) as rebound:
            assert rebound.status == 403  # a DNS-rebinding page cannot read or drive the demo
        form = {"user": "U0ADA", "channel": "C0OPS", "text": "help"}
        async with http.post(demo.url + "api/command", data=form) as cross_site:
            assert cross_site.status == 415  # a form on another site cannot post here
        assert demo.slack.calls_to("views.open") == []


async def test_a_refused_submission_shows_the_errors_in_the_modal_where_the_person_typed(
    demo: Demo,
) -> None:
    async with aiohttp.ClientSession() as http:
        await _post(
            http,
            demo,
            "/demo/api/command",
            {"user": "U0ADA", "channel": "C0OPS", "text": "credential google"},
        )
        modal = (await _screen(http, demo, "U0ADA"))["modal"]
        assert "Google credential" in modal["html"]
        view = demo.slack.views[modal["id"]]
        name = next(
            b for b in view["blocks"] if b.get("label", {}).get("text") == "Credential name"
        )
        entries = {name["block_id"]: {name["element"]["action_id"]: "acme.com"}}
        await _post(
            http,
            demo,
            "/demo/api/view",
            {"user": "U0ADA", "view": modal["id"], "op": "submit", "entries": entries},
        )
        shown = (await _screen(http, demo, "U0ADA"))["modal"]
        assert shown["id"] == modal["id"] and shown["key"] != modal["key"]
        assert 'class="error"' in shown["html"] and 'value="acme.com"' in shown["html"]
        assert (await _screen(http, demo, "U0GRACE"))["modal"] is None  # Ada's, not Grace's


async def test_the_samples_are_a_key_the_fake_google_accepts_and_500_users(demo: Demo) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(demo.url + f"samples/{KEY_FILE}") as response:
            key = json.loads(await response.read())
        async with http.get(demo.url + f"samples/{USERS_FILE}") as response:
            users = (await response.text()).split()
    assert key["type"] == "service_account" and key["client_email"] in demo.google.accounts
    assert len(set(users)) == 500 and set(users) <= demo.google.mailboxes


def _entries(view: dict[str, Any], values: dict[str, str]) -> dict[str, dict[str, str]]:
    """What the page sends for the inputs labelled as in `values`."""
    entries: dict[str, dict[str, str]] = {}
    for block in view["blocks"]:
        label = (block.get("label") or {}).get("text")
        if label in values:
            entries.setdefault(block["block_id"], {})[block["element"]["action_id"]] = values[label]
    return entries


async def test_microsoft_admin_consent_goes_through_the_fake_consent_page(demo: Demo) -> None:
    """Register the fake Azure app, get a consent link, accept on Nylas's (fake) page: the
    bot records the consent and says when grants may start."""
    ada = "U0ADA"
    async with aiohttp.ClientSession() as http:
        async with http.get(demo.url + "api/setup") as response:
            azure = (await response.json())["azure"]
        command = {"user": ada, "channel": "C0OPS", "text": "credential microsoft"}
        await _post(http, demo, "/demo/api/command", command)
        modal = (await _screen(http, demo, ada))["modal"]
        filled = {
            "Credential name": "contoso",
            "Tenant": azure["tenant"],
            "Azure app client id": azure["client_id"],
            "Azure app client secret": azure["secret"],
        }
        entries = _entries(demo.slack.views[modal["id"]], filled)
        submit = {"user": ada, "view": modal["id"], "op": "submit", "entries": entries}
        await _post(http, demo, "/demo/api/view", submit)
        await demo.slack.wait_for("views.update", lambda c: "Registered" in c.text_blob())

        command["text"] = "consent contoso"
        await _post(http, demo, "/demo/api/command", command)
        modal = (await _screen(http, demo, ada))["modal"]
        submit = {"user": ada, "view": modal["id"], "op": "submit", "entries": {}}
        await _post(http, demo, "/demo/api/view", submit)
        [posted] = await demo.slack.wait_for(
            "chat.postMessage", lambda c: "connect/auth" in c.text_blob()
        )
        link = re.search(
            r'(http://127\.0\.0\.1:[0-9]+/v3/connect/auth\?[^"|>`\s]+)', posted.text_blob()
        )
        assert link is not None
        async with http.get(html.unescape(link.group(1))) as page:
            accept = re.search(r'class="yes" href="([^"]+)"', await page.text())
        assert accept is not None
        async with http.get(html.unescape(accept.group(1))) as callback:
            assert "Consent recorded" in await callback.text()
        await demo.slack.wait_for("chat.postMessage", lambda c: "was granted" in c.text_blob())


def test_a_taken_port_gets_one_line_and_the_way_out() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "bot", "demo", "--port", port],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines()[-2:] == [
        f"bulkauth demo: cannot start: error while attempting to bind on address "
        f"('127.0.0.1', {port}): address already in use",
        "Try another port: bulkauth demo --port 0 picks a free one.",
    ]
