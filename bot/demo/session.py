"""The demo's Slack client: what each demo person has open, and what their clicks, entries and
submissions become: the exact payloads Slack sends (bot/demo/ui.py), signed with the demo's
signing secret and posted to the bot's `/slack/events`; a submission's ack is applied to the
person's screen as Slack applies it (update, push, errors, close)."""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.demo.fakes.slack import FakeSlack
from bot.demo.signing import form_body, payload_body, signed_headers, slash_command
from bot.demo.ui import (
    State,
    carried_over,
    element_action,
    entry_state,
    envelope,
    find_element,
    message_action,
    view_action,
    view_submission,
)

Entries = dict[str, dict[str, Any]]  # block id -> action id -> what the page holds


class DemoProblem(Exception):
    """Something the page asked for that does not exist (any more): shown to the person."""


@dataclass
class Screen:
    """One person's Slack window: the stack of open modals and what they entered in each."""

    stack: list[str] = field(default_factory=list)
    values: dict[str, State] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class DemoSession:
    slack: FakeSlack
    bot_url: str
    signing_secret: str = field(repr=False)
    http: aiohttp.ClientSession
    screens: dict[str, Screen] = field(default_factory=dict)
    _triggers: dict[str, str] = field(default_factory=dict)  # trigger id -> who was acting
    _seen_calls: int = 0
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def screen(self, user_id: str) -> Screen:
        self.follow()
        return self.screens.setdefault(user_id, Screen())

    def _trigger(self, user_id: str) -> str:
        trigger = f"{next(self._numbers)}.738474920.{secrets.token_hex(10)}"
        self._triggers[trigger] = user_id
        return trigger

    def follow(self) -> None:
        """Modals the bot opened or pushed (with a person's trigger) go on that person's
        screen; closed ones leave."""
        calls = self.slack.calls[self._seen_calls :]
        for index, call in enumerate(calls):
            if call.method not in ("views.open", "views.push"):
                continue
            if call.response is None:  # not answered yet: look again next time
                calls = calls[:index]
                break
            if not call.response.get("ok"):
                continue
            user = self._triggers.get(str(call.params.get("trigger_id")))
            if user is not None:
                screen = self.screens.setdefault(user, Screen())
                view_id = str(call.response["view"]["id"])
                screen.stack = (
                    [*screen.stack, view_id] if call.method == "views.push" else [view_id]
                )
        self._seen_calls += len(calls)

    def view_state(self, user_id: str, view_id: str) -> tuple[dict[str, Any], State]:
        """The view as Slack shows it now, with the person's entries carried over an update."""
        screen = self.screen(user_id)
        view = self.slack.views.get(view_id)
        if view is None or view_id not in screen.stack:
            raise DemoProblem("That modal is not open any more.")
        if screen.hashes.get(view_id) != view["hash"]:
            screen.values[view_id] = carried_over(screen.values.get(view_id) or {}, view["blocks"])
            screen.hashes[view_id] = view["hash"]
        return view, screen.values[view_id]

    def enter(self, user_id: str, view_id: str, entries: Entries) -> dict[str, Any]:
        """Take what the person entered in the modal's fields; returns the view with its state."""
        view, values = self.view_state(user_id, view_id)
        for block_id, by_action in entries.items():
            for action_id, entry in by_action.items():
                _block, element = find_element(view["blocks"], block_id, action_id)
                values.setdefault(block_id, {})[action_id] = entry_state(element, entry)
        return {**view, "state": {"values": values}}

    async def _post(self, body: str) -> tuple[int, str]:
        headers = signed_headers(body, secret=self.signing_secret)
        async with self.http.post(
            f"{self.bot_url}/slack/events", data=body.encode(), headers=headers
        ) as response:
            return response.status, await response.text()

    async def command(self, user_id: str, channel_id: str, text: str) -> None:
        """`/bulkauth <text>` typed in a channel; a message in the ack is shown as Slack shows
        it (only to the person)."""
        response_url = self.slack.response_url(channel_id, user_id=user_id)
        fields = slash_command(
            text,
            user_id=user_id,
            channel_id=channel_id,
            response_url=response_url,
            trigger_id=self._trigger(user_id),
        )
        status, text_back = await self._post(form_body(fields))
        if status != 200:
            raise DemoProblem(f"The bot answered {status}.")
        if text_back.strip():
            try:
                message = json.loads(text_back)
            except ValueError:
                message = {"text": text_back}
            async with self.http.post(response_url, json=message) as posted:
                await posted.read()

    async def view_used(
        self, user_id: str, view_id: str, block_id: str, action_id: str, entries: Entries
    ) -> None:
        """A button clicked or a dispatching select chosen in a modal."""
        view = self.enter(user_id, view_id, entries)
        block, element = find_element(view["blocks"], block_id, action_id)
        state = view["state"]["values"].get(block_id, {}).get(action_id)
        action = element_action(block, element, state)
        payload = view_action(user_id, view, action, trigger_id=self._trigger(user_id))
        await self._post(payload_body(payload))

    async def submit(self, user_id: str, view_id: str, entries: Entries) -> None:
        view = self.enter(user_id, view_id, entries)
        status, text_back = await self._post(payload_body(view_submission(user_id, view)))
        if status != 200:
            raise DemoProblem(f"The bot answered {status}.")
        ack = json.loads(text_back) if text_back.strip() else {}
        screen = self.screen(user_id)
        on_top = self.slack.apply_response_action(view_id, ack, submitted_hash=view["hash"])
        if ack.get("response_action") == "errors":
            screen.errors[view_id] = {str(k): str(v) for k, v in ack.get("errors", {}).items()}
            return
        screen.errors.pop(view_id, None)
        if ack.get("response_action") == "clear":
            screen.stack = []
        elif on_top is None:
            screen.stack = [v for v in screen.stack if v != view_id]
        elif on_top not in screen.stack:
            screen.stack.append(on_top)

    async def close(self, user_id: str, view_id: str) -> None:
        """The modal's Close: gone from the screen; the bot hears of it if it asked to."""
        view, values = self.view_state(user_id, view_id)
        screen = self.screen(user_id)
        screen.stack = [v for v in screen.stack if v != view_id]
        if view.get("notify_on_close"):
            payload = {
                **envelope("view_closed", user_id),
                "view": {**view, "state": {"values": values}},
                "is_cleared": False,
            }
            await self._post(payload_body(payload))

    async def message_used(
        self, user_id: str, channel: str, ts: str, block_id: str, action_id: str
    ) -> None:
        """A button clicked on a message (as it stands now, after any edits)."""
        shown = self.slack.ephemerals.get((channel, ts)) or self.slack.messages.get((channel, ts))
        if shown is None:
            raise DemoProblem("That message is gone.")
        found = find_element(shown.get("blocks") or [], block_id, action_id)
        payload = message_action(
            self.slack, user_id, channel, ts, found, trigger_id=self._trigger(user_id)
        )
        await self._post(payload_body(payload))
