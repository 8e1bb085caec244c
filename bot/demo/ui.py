"""What Slack's client sends when a person uses what the bot showed: one implementation for the
demo page and the tests (tests/slack_ui.py drives it from Python, the page from a browser).

- `state.values[block_id][action_id]` uses the element's real `block_id` and `action_id`
  (generated ones included), in the shape Slack sends for that element type (`STATE_KEYS`);
  fields the person leaves alone keep their `initial_*` value; every stateful element of the view
  is in the state, not only input blocks.
- After `views.update`, what the person entered stays where `block_id`, `action_id` and the
  element's type are unchanged (`carried_over`), as Slack's client does.

Payload shapes: https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload,
https://docs.slack.dev/reference/interaction-payloads/block_actions-payload and
https://api.slack.com/changelog/2020-09-full-state-on-view-submisson-and-block-actions.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from bot.demo.fakes.slack import FakeSlack
from bot.demo.fakes.slack_rules import TEAM_ID

State = dict[str, dict[str, dict[str, Any]]]

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
TEXT_TYPES = ("plain_text_input", "email_text_input", "url_text_input", "number_input")
ONE_OPTION_TYPES = ("static_select", "radio_buttons")
MANY_OPTION_TYPES = ("multi_static_select", "checkboxes")
TRIGGER_ID = "13345224609.738474920.8088930838d88f008e2"


def elements_of(block: dict[str, Any]) -> list[dict[str, Any]]:
    found = [*(block.get("elements") or []), block.get("accessory"), block.get("element")]
    return [element for element in found if isinstance(element, dict)]


def text_of(text: Any) -> str:
    return str(text.get("text", "")) if isinstance(text, dict) else str(text or "")


def initial_state(blocks: list[dict[str, Any]]) -> State:
    """The state Slack reports for blocks nobody has touched: each stateful element under its
    block id and action id, holding its initial value."""
    values: State = {}
    for block in blocks:
        for element in elements_of(block):
            if element.get("type") not in STATE_KEYS:
                continue
            key, initial, empty = STATE_KEYS[element["type"]]
            value = copy.deepcopy(element.get(initial, empty)) if initial else copy.copy(empty)
            values.setdefault(block["block_id"], {})[element["action_id"]] = {
                "type": element["type"],
                key: value,
            }
    return values


def carried_over(old: State, new_blocks: list[dict[str, Any]]) -> State:
    """After views.update Slack keeps what the person entered in elements whose block id, action
    id and type are unchanged; the rest starts from the new view's initial values."""
    values = initial_state(new_blocks)
    for block_id, elements in values.items():
        for action_id, state in elements.items():
            before = (old.get(block_id) or {}).get(action_id)
            if before is not None and before["type"] == state["type"]:
                elements[action_id] = before
    return values


def options_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *(element.get("options") or []),
        *(o for group in element.get("option_groups") or [] for o in group["options"]),
    ]


def pick_options(element: dict[str, Any], wanted: tuple[str, ...]) -> list[dict[str, Any]]:
    """Options of `element` by their visible text (exactly, or its start) or their value."""
    options = options_of(element)
    picked = []
    for name in wanted:
        matches = [o for o in options if name in (text_of(o["text"]), o.get("value"))]
        matches = matches or [o for o in options if text_of(o["text"]).startswith(name)]
        if len(matches) != 1:
            raise LookupError(f"option {name!r}: {len(matches)} match in {options}")
        picked.append(copy.deepcopy(matches[0]))
    return picked


def find_button(
    blocks: list[dict[str, Any]], text: str, near: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A button by its visible text; `near` picks among several by text in its block or the
    section just before it."""
    found = []
    context = ""
    for block in blocks:
        if block.get("type") == "section":
            context = text_of(block.get("text")) + json.dumps(block.get("fields") or [])
        for element in elements_of(block):
            is_it = element.get("type") == "button" and text_of(element["text"]) == text
            if is_it and (near is None or near in context or near in json.dumps(block)):
                found.append((block, element))
    if len(found) != 1:
        shown = [text_of(e["text"]) for b in blocks for e in elements_of(b) if "text" in e]
        raise LookupError(f"button {text!r} (near {near!r}): {len(found)} found in {shown}")
    return found[0]


def find_element(
    blocks: list[dict[str, Any]], block_id: str, action_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An element by its ids, as the page names what was used."""
    for block in blocks:
        if block.get("block_id") != block_id:
            continue
        for element in elements_of(block):
            if element.get("action_id") == action_id:
                return block, element
    raise LookupError(f"no element {action_id!r} in block {block_id!r}")


def element_action(
    block: dict[str, Any], element: dict[str, Any], state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `actions[0]` of a block_actions payload: a button's text, value and style; a
    select's chosen option (from its entry in the state)."""
    action: dict[str, Any] = {
        "action_id": element["action_id"],
        "block_id": block["block_id"],
        "type": element["type"],
        "action_ts": f"{time.time():.6f}",
    }
    if element["type"] == "button":
        action["text"] = {"type": "plain_text", "text": text_of(element["text"]), "emoji": True}
        for optional in ("value", "style", "url"):
            if optional in element:
                action[optional] = element[optional]
    elif state is not None:
        key = STATE_KEYS[element["type"]][0]
        action[key] = state.get(key)
        if "placeholder" in element:
            action["placeholder"] = element["placeholder"]
    return action


def entry_state(element: dict[str, Any], entry: Any) -> dict[str, Any]:
    """A page's entry (typed text, chosen option values, a date, hosted file descriptions) as
    Slack holds it in `state.values`: options are the element's own option objects."""
    kind = element["type"]
    key = STATE_KEYS[kind][0]
    value: Any
    if kind in TEXT_TYPES:
        value = str(entry) if entry else None
    elif kind in ONE_OPTION_TYPES:
        value = pick_options(element, (str(entry),))[0] if entry else None
    elif kind in MANY_OPTION_TYPES:
        value = pick_options(element, tuple(str(v) for v in entry or []))
    elif kind == "datepicker":
        value = str(entry) if entry else None
    elif kind == "file_input":
        value = list(entry or [])
    else:
        raise LookupError(f"the demo does not take entries for {kind}")
    return {"type": kind, key: value}


def envelope(kind: str, user_id: str, *, trigger_id: str = TRIGGER_ID) -> dict[str, Any]:
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
        "trigger_id": trigger_id,
    }


def message_action(
    slack: FakeSlack,
    user_id: str,
    channel: str,
    ts: str,
    found: tuple[dict[str, Any], dict[str, Any]],
    *,
    trigger_id: str = TRIGGER_ID,
) -> dict[str, Any]:
    """The block_actions Slack sends when `user_id` clicks the button `found` (block, element)
    on the message at (channel, ts) as it stands in the fake Slack."""
    ephemeral = (channel, ts) in slack.ephemerals
    shown = (slack.ephemerals if ephemeral else slack.messages)[(channel, ts)]
    payload = {
        **envelope("block_actions", user_id, trigger_id=trigger_id),
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "channel": {"id": channel, "name": channel.lower()},
        "state": {"values": initial_state(shown.get("blocks") or [])},
        "response_url": slack.response_url(channel, user_id=user_id),
        "actions": [element_action(*found)],
    }
    if not ephemeral:  # Slack sends the message itself only when everyone sees it
        payload["message"] = {k: v for k, v in shown.items() if k != "channel"}
    return payload


def shown_message(slack: FakeSlack, channel: str, ts: str) -> dict[str, Any]:
    ephemeral = (channel, ts) in slack.ephemerals
    return (slack.ephemerals if ephemeral else slack.messages)[(channel, ts)]


def message_click(
    slack: FakeSlack, user_id: str, channel: str, ts: str, text: str, *, near: str | None = None
) -> dict[str, Any]:
    """The block_actions for a click on the button labelled `text` of that message."""
    blocks = shown_message(slack, channel, ts).get("blocks") or []
    return message_action(slack, user_id, channel, ts, find_button(blocks, text, near))


def view_action(
    user_id: str, view: dict[str, Any], action: dict[str, Any], *, trigger_id: str = TRIGGER_ID
) -> dict[str, Any]:
    """The block_actions for an element used in a modal or the App Home (`view` holds the
    person's entries in its state)."""
    return {
        **envelope("block_actions", user_id, trigger_id=trigger_id),
        "container": {"type": "view", "view_id": view["id"]},
        "view": view,
        "actions": [action],
    }


def view_submission(user_id: str, view: dict[str, Any]) -> dict[str, Any]:
    """The view_submission Slack sends when the person presses the modal's submit button."""
    return {**envelope("view_submission", user_id), "view": view, "response_urls": []}
