"""A person using Slack: every interaction payload derived from what the bot actually sent.

Tests never write `state.values` or a button's ids by hand. A `Person` opens modals with slash
commands, finds an input by its label and a button by its text in the view or message the fake
Slack received, and Slack's own rules decide the payload (bot/demo/ui.py, which the demo page
uses too):

- `state.values[block_id][action_id]` uses the element's real `block_id` and `action_id`
  (generated ones included), in the shape Slack sends for that element type (`STATE_KEYS`);
  fields the person leaves alone keep their `initial_*` value; every stateful element of the view
  is in the state, not only input blocks.
- Choosing in a select whose input block has `dispatch_action` sends the `block_actions` Slack
  sends, then waits for the bot's `views.update` and carries the typed state over to the new view
  where `block_id` and `action_id` are unchanged, as Slack's client does.
- A submission's ack is applied as Slack applies it (`update`, `push`, `errors`, close).

Payload shapes: https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload,
https://docs.slack.dev/reference/interaction-payloads/block_actions-payload and
https://api.slack.com/changelog/2020-09-full-state-on-view-submisson-and-block-actions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.demo.ui import (
    STATE_KEYS,
    TRIGGER_ID,
    State,
    carried_over,
    element_action,
    envelope,
    find_button,
    initial_state,
    message_click,
    pick_options,
    text_of,
    view_action,
    view_submission,
)
from tests.fakes.slack import FakeSlack, SlackCall
from tests.slack_requests import slash_command

if TYPE_CHECKING:
    from tests.conftest import RunningBot

__all__ = ["STATE_KEYS", "TRIGGER_ID", "Home", "Modal", "Person", "Submission", "envelope"]
__all__ += ["assert_refused_in_place", "carried_over", "initial_state", "message_click"]


@dataclass
class Person:
    """One Slack user talking to the running bot."""

    bot: RunningBot
    slack: FakeSlack
    user_id: str
    channel_id: str = "C0OPS"
    # How many modals Slack had opened when this person last clicked: the bot may open the modal
    # a click asks for after it acks, so `next_modal` must not take an older one.
    _opened_before_click: int | None = field(default=None, repr=False)

    async def command(self, text: str, *, channel_id: str | None = None) -> aiohttp.ClientResponse:
        """`/bulkauth <text>` typed in a channel."""
        channel = channel_id or self.channel_id
        return await self.bot.command(
            slash_command(
                text,
                user_id=self.user_id,
                channel_id=channel,
                response_url=self.slack.response_url(channel),
            )
        )

    async def open_modal(self, text: str, *, channel_id: str | None = None) -> Modal:
        """A slash command that opens a modal; returns it as the person sees it."""
        before = len(self.slack.calls_to("views.open"))
        response = await self.command(text, channel_id=channel_id)
        assert response.status == 200
        opened = await self.slack.wait_for("views.open", count=before + 1)
        return await self.modal_from(opened[-1])

    async def modal_from(self, call: SlackCall) -> Modal:
        """The modal a `views.open` call showed this person."""
        answer = await self.slack.answer_of(call)
        assert answer["ok"], answer
        return Modal(self, str(answer["view"]["id"]))

    async def next_modal(self, predicate: Callable[[SlackCall], bool] = lambda _c: True) -> Modal:
        """The modal the bot opens after this person's last click (one opened before it is not
        taken for it)."""
        assert self._opened_before_click is not None, "next_modal follows a click by this person"
        opened = self.slack.calls_to("views.open")
        older = {id(call) for call in opened[: self._opened_before_click]}
        calls = await self.slack.wait_for(
            "views.open", lambda call: id(call) not in older and predicate(call)
        )
        return await self.modal_from(calls[0])

    def _clicking(self) -> None:
        self._opened_before_click = len(self.slack.calls_to("views.open"))

    def home(self, *, of: str | None = None) -> Home:
        """This person's App Home; `of` another user's, to forge a click on what only they see."""
        return Home(self, of or self.user_id)

    async def click(
        self, message: SlackCall, text: str, *, near: str | None = None
    ) -> aiohttp.ClientResponse:
        """Click a button on a message the bot posted (chat.postMessage, chat.postEphemeral or a
        response URL), as the message stands now in Slack (after any edits)."""
        answer = await self.slack.answer_of(message)
        assert answer.get("ok"), answer
        self._clicking()
        channel = str(answer.get("channel") or message.params["channel"])
        ts = str(answer.get("ts") or answer.get("message_ts"))
        return await self.bot.interact(
            message_click(self.slack, self.user_id, channel, ts, text, near=near)
        )


@dataclass
class Home:
    """The bot's App Home tab as last published for `owner`."""

    person: Person
    owner: str

    @property
    def view(self) -> dict[str, Any]:
        return self.person.slack.home_views[self.owner]

    async def click(self, text: str, *, near: str | None = None) -> aiohttp.ClientResponse:
        view = self.view
        found = find_button(view["blocks"], text, near)
        shown = {**view, "state": {"values": initial_state(view["blocks"])}}
        self.person._clicking()
        return await self.person.bot.interact(
            view_action(self.person.user_id, shown, element_action(*found))
        )


@dataclass
class Submission:
    status: int
    ack: dict[str, Any]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.ack))


@dataclass
class Modal:
    """A modal open on the person's screen; it follows the bot's updates of its view."""

    person: Person
    view_id: str
    values: State = field(default_factory=dict)
    _hash: str = ""

    def __post_init__(self) -> None:
        self._sync()

    @property
    def slack(self) -> FakeSlack:
        return self.person.slack

    @property
    def view(self) -> dict[str, Any]:
        """The view as Slack shows it now, with the person's entries in its state."""
        self._sync()
        return {**self.slack.views[self.view_id], "state": {"values": self.values}}

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.view["blocks"])

    def text(self) -> str:
        return json.dumps(self.blocks, ensure_ascii=False)

    def _sync(self) -> None:
        current = self.slack.views[self.view_id]
        if current["hash"] != self._hash:
            self.values = carried_over(self.values, current["blocks"])
            self._hash = current["hash"]

    def labels(self) -> list[str]:
        blocks = self.slack.views[self.view_id]["blocks"]
        return [text_of(block["label"]) for block in blocks if block.get("label")]

    def has_input(self, label: str) -> bool:
        return label in self.labels()

    def _input(self, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
        self._sync()
        blocks = [
            b
            for b in self.slack.views[self.view_id]["blocks"]
            if b.get("type") == "input" and text_of(b.get("label")) == label
        ]
        assert len(blocks) == 1, f"input {label!r}: {len(blocks)} found in {self.labels()}"
        return blocks[0], blocks[0]["element"]

    def _set(self, label: str, value: Any, *types: str) -> tuple[dict[str, Any], dict[str, Any]]:
        block, element = self._input(label)
        assert element["type"] in types, f"{label!r} is a {element['type']}, not {types}"
        key = STATE_KEYS[element["type"]][0]
        self.values[block["block_id"]][element["action_id"]] = {"type": element["type"], key: value}
        return block, element

    def type(self, label: str, text: str | None) -> None:
        """Type into a text input ("" or None leaves it empty, which Slack sends as null);
        Slack's client takes no more than the element's `max_length`."""
        _block, element = self._input(label)
        most = element.get("max_length")
        assert most is None or len(text or "") <= most, f"{label!r} takes {most} characters"
        self._set(label, text or None, "plain_text_input", "email_text_input", "url_text_input")

    def pick_date(self, label: str, iso_date: str | None) -> None:
        self._set(label, iso_date, "datepicker")

    def attach(self, label: str, *files: dict[str, Any]) -> None:
        self._set(label, list(files), "file_input")

    def tick(self, label: str, *options: str) -> None:
        """Leave exactly these checkboxes ticked."""
        _block, element = self._input(label)
        self._set(label, pick_options(element, options), "checkboxes")

    def choose_many(self, label: str, *options: str) -> None:
        _block, element = self._input(label)
        self._set(label, pick_options(element, options), "multi_static_select")

    async def choose(self, label: str, option: str) -> None:
        """Choose in a select; when its block dispatches actions, the bot hears of it at once
        and the modal waits for the bot's update of the view."""
        _block, element = self._input(label)
        [picked] = pick_options(element, (option,))
        block, element = self._set(label, picked, "static_select", "radio_buttons")
        if not block.get("dispatch_action"):
            return
        before = len(self._updates())
        action = element_action(block, element, {"selected_option": picked})
        response = await self._interact(action)
        assert response.status == 200
        await self.slack.wait_for("views.update", self._is_update, count=before + 1)
        self._sync()

    def _is_update(self, call: SlackCall) -> bool:
        return call.params.get("view_id") == self.view_id and bool((call.response or {}).get("ok"))

    def _updates(self) -> list[SlackCall]:
        return [call for call in self.slack.calls_to("views.update") if self._is_update(call)]

    async def _interact(self, action: dict[str, Any]) -> aiohttp.ClientResponse:
        return await self.person.bot.interact(view_action(self.person.user_id, self.view, action))

    async def click(self, text: str, *, near: str | None = None) -> aiohttp.ClientResponse:
        """Click a button inside the modal."""
        return await self._interact(element_action(*find_button(self.blocks, text, near)))

    def submission(self) -> dict[str, Any]:
        """The view_submission Slack would send if the person pressed submit now."""
        return view_submission(self.person.user_id, self.view)

    async def submit(self) -> Submission:
        """Press the modal's submit button; Slack applies the ack to what the person sees."""
        payload = self.submission()
        view = payload["view"]
        response = await self.person.bot.interact(payload)
        text = await response.text()
        ack = json.loads(text) if text else {}
        if response.status == 200:
            on_top = self.slack.apply_response_action(
                self.view_id, ack, submitted_hash=view["hash"]
            )
            if on_top is not None and on_top != self.view_id:
                self.view_id = on_top
        return Submission(response.status, ack)

    async def wait_for(self, fragment: str, *, timeout: float = 10.0) -> Modal:
        """Until the bot has updated this modal to show `fragment`."""

        def shows(call: SlackCall) -> bool:
            return self._is_update(call) and fragment in call.text_blob()

        if fragment not in self.text():
            await self.slack.wait_for("views.update", shows, timeout=timeout)
        return self


def assert_refused_in_place(ack: dict[str, Any], expected: dict[str, str]) -> None:
    """The submission's ack shows errors on exactly the `expected` blocks, each saying its
    fragment (the modal stays open where the user typed)."""
    assert ack["response_action"] == "errors"
    assert set(ack["errors"]) == set(expected)
    for block_id, fragment in expected.items():
        assert fragment in ack["errors"][block_id]
