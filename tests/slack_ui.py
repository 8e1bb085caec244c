"""A person using Slack: every interaction payload derived from what the bot actually sent.

Tests never write `state.values` or a button's ids by hand. A `Person` opens modals with slash
commands, finds an input by its label and a button by its text in the view or message the fake
Slack received, and Slack's own rules decide the payload:

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

import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from tests.fakes.slack import TEAM_ID, FakeSlack, SlackCall
from tests.slack_requests import slash_command

if TYPE_CHECKING:
    from tests.conftest import RunningBot

# Element type -> (the key its value travels under in state, the initial field, empty value).
STATE_KEYS: dict[str, tuple[str, str, Any]] = {
    "plain_text_input": ("value", "initial_value", None),
    "email_text_input": ("value", "initial_value", None),
    "url_text_input": ("value", "initial_value", None),
    "number_input": ("value", "initial_value", None),
    "static_select": ("selected_option", "initial_option", None),
    "external_select": ("selected_option", "initial_option", None),
    "radio_buttons": ("selected_option", "initial_option", None),
    "multi_static_select": ("selected_options", "initial_options", []),
    "multi_external_select": ("selected_options", "initial_options", []),
    "checkboxes": ("selected_options", "initial_options", []),
    "datepicker": ("selected_date", "initial_date", None),
    "timepicker": ("selected_time", "initial_time", None),
    "users_select": ("selected_user", "initial_user", None),
    "multi_users_select": ("selected_users", "initial_users", []),
    "conversations_select": ("selected_conversation", "initial_conversation", None),
    "multi_conversations_select": ("selected_conversations", "initial_conversations", []),
    "channels_select": ("selected_channel", "initial_channel", None),
    "multi_channels_select": ("selected_channels", "initial_channels", []),
    "file_input": ("files", "", []),
}
TRIGGER_ID = "13345224609.738474920.8088930838d88f008e2"


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    found = [*(block.get("elements") or []), block.get("accessory"), block.get("element")]
    return [element for element in found if isinstance(element, dict)]


def _text_of(text: Any) -> str:
    return str(text.get("text", "")) if isinstance(text, dict) else str(text or "")


def initial_state(blocks: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """The state Slack reports for blocks nobody has touched: each stateful element under its
    block id and action id, holding its initial value."""
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block in blocks:
        for element in _elements(block):
            if element.get("type") not in STATE_KEYS:
                continue
            key, initial, empty = STATE_KEYS[element["type"]]
            value = copy.deepcopy(element.get(initial, empty)) if initial else copy.copy(empty)
            values.setdefault(block["block_id"], {})[element["action_id"]] = {
                "type": element["type"],
                key: value,
            }
    return values


def carried_over(
    old: dict[str, dict[str, dict[str, Any]]], new_blocks: list[dict[str, Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """After views.update Slack keeps what the person entered in elements whose block id, action
    id and type are unchanged; the rest starts from the new view's initial values."""
    values = initial_state(new_blocks)
    for block_id, elements in values.items():
        for action_id, state in elements.items():
            before = (old.get(block_id) or {}).get(action_id)
            if before is not None and before["type"] == state["type"]:
                elements[action_id] = before
    return values


def _pick_options(element: dict[str, Any], wanted: tuple[str, ...]) -> list[dict[str, Any]]:
    """Options of `element` by their visible text (exactly, or its start) or their value."""
    options = [
        *(element.get("options") or []),
        *(o for group in element.get("option_groups") or [] for o in group["options"]),
    ]
    picked = []
    for name in wanted:
        matches = [o for o in options if name in (_text_of(o["text"]), o.get("value"))]
        matches = matches or [o for o in options if _text_of(o["text"]).startswith(name)]
        assert len(matches) == 1, f"option {name!r}: {len(matches)} match in {options}"
        picked.append(copy.deepcopy(matches[0]))
    return picked


def _find_button(
    blocks: list[dict[str, Any]], text: str, near: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A button by its visible text; `near` picks among several by text in its block or the
    section just before it."""
    found = []
    context = ""
    for block in blocks:
        if block.get("type") == "section":
            context = _text_of(block.get("text")) + json.dumps(block.get("fields") or [])
        for element in _elements(block):
            is_it = element.get("type") == "button" and _text_of(element["text"]) == text
            if is_it and (near is None or near in context or near in json.dumps(block)):
                found.append((block, element))
    buttons = [
        _text_of(e["text"]) for b in blocks for e in _elements(b) if e.get("type") == "button"
    ]
    assert len(found) == 1, f"button {text!r} (near {near!r}): {len(found)} found in {buttons}"
    return found[0]


def _button_action(block: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    action = {
        "action_id": element["action_id"],
        "block_id": block["block_id"],
        "text": {"type": "plain_text", "text": _text_of(element["text"]), "emoji": True},
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }
    for optional in ("value", "style", "url"):
        if optional in element:
            action[optional] = element[optional]
    return action


@dataclass
class Person:
    """One Slack user talking to the running bot."""

    bot: RunningBot
    slack: FakeSlack
    user_id: str
    channel_id: str = "C0OPS"

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
        """The modal the bot opens next (after a button click, for example)."""
        calls = await self.slack.wait_for("views.open", predicate)
        return await self.modal_from(calls[-1])

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
        channel = str(answer.get("channel") or message.params["channel"])
        ts = str(answer.get("ts") or answer.get("message_ts"))
        return await self.bot.interact(
            message_click(self.slack, self.user_id, channel, ts, text, near=near)
        )


def envelope(kind: str, user_id: str) -> dict[str, Any]:
    """The fields every interaction payload carries."""
    return {
        "type": kind,
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": TEAM_ID,
        },
        "api_app_id": "A0BULK",
        "token": "deprecated",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "trigger_id": TRIGGER_ID,
    }


def message_click(
    slack: FakeSlack, user_id: str, channel: str, ts: str, text: str, *, near: str | None = None
) -> dict[str, Any]:
    """The block_actions Slack sends when `user_id` clicks the button labelled `text` on the
    message at (channel, ts) as it stands in the fake Slack."""
    ephemeral = (channel, ts) in slack.ephemerals
    shown = (slack.ephemerals if ephemeral else slack.messages)[(channel, ts)]
    block, element = _find_button(shown.get("blocks") or [], text, near)
    payload = {
        **envelope("block_actions", user_id),
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "channel": {"id": channel, "name": "ops"},
        "state": {"values": initial_state(shown.get("blocks") or [])},
        "response_url": slack.response_url(channel),
        "actions": [_button_action(block, element)],
    }
    if not ephemeral:  # Slack sends the message itself only when everyone sees it
        payload["message"] = {k: v for k, v in shown.items() if k != "channel"}
    return payload


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
        block, element = _find_button(view["blocks"], text, near)
        payload = {
            **envelope("block_actions", self.person.user_id),
            "container": {"type": "view", "view_id": view["id"]},
            "view": {**view, "state": {"values": initial_state(view["blocks"])}},
            "actions": [_button_action(block, element)],
        }
        return await self.person.bot.interact(payload)


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
    values: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
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
        return [_text_of(block["label"]) for block in blocks if block.get("label")]

    def has_input(self, label: str) -> bool:
        return label in self.labels()

    def _input(self, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
        self._sync()
        blocks = [
            b
            for b in self.slack.views[self.view_id]["blocks"]
            if b.get("type") == "input" and _text_of(b.get("label")) == label
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
        self._set(label, _pick_options(element, options), "checkboxes")

    def choose_many(self, label: str, *options: str) -> None:
        _block, element = self._input(label)
        self._set(label, _pick_options(element, options), "multi_static_select")

    async def choose(self, label: str, option: str) -> None:
        """Choose in a select; when its block dispatches actions, the bot hears of it at once
        and the modal waits for the bot's update of the view."""
        _block, element = self._input(label)
        [picked] = _pick_options(element, (option,))
        block, element = self._set(label, picked, "static_select", "radio_buttons")
        if not block.get("dispatch_action"):
            return
        before = len(self._updates())
        action = {
            "type": element["type"],
            "action_id": element["action_id"],
            "block_id": block["block_id"],
            "selected_option": picked,
            "action_ts": f"{time.time():.6f}",
        }
        if "placeholder" in element:
            action["placeholder"] = element["placeholder"]
        response = await self._interact(action)
        assert response.status == 200
        await self.slack.wait_for("views.update", self._is_update, count=before + 1)
        self._sync()

    def _is_update(self, call: SlackCall) -> bool:
        return call.params.get("view_id") == self.view_id and bool((call.response or {}).get("ok"))

    def _updates(self) -> list[SlackCall]:
        return [call for call in self.slack.calls_to("views.update") if self._is_update(call)]

    async def _interact(self, action: dict[str, Any]) -> aiohttp.ClientResponse:
        payload = {
            **envelope("block_actions", self.person.user_id),
            "container": {"type": "view", "view_id": self.view_id},
            "view": self.view,
            "actions": [action],
        }
        return await self.person.bot.interact(payload)

    async def click(self, text: str, *, near: str | None = None) -> aiohttp.ClientResponse:
        """Click a button inside the modal."""
        block, element = _find_button(self.blocks, text, near)
        return await self._interact(_button_action(block, element))

    def submission(self) -> dict[str, Any]:
        """The view_submission Slack would send if the person pressed submit now."""
        return {
            **envelope("view_submission", self.person.user_id),
            "view": self.view,
            "response_urls": [],
        }

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
