"""The bot reads every element type it uses from `view.state.values` as Slack's documentation
shows it: keyed by block id, then by the element's own action id (never a fixed one).

Each payload fragment below follows Slack's documented examples:
- `view_submission` and its `state.values`:
  https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload and
  https://api.slack.com/changelog/2020-09-full-state-on-view-submisson-and-block-actions
  (`"input_block_id": {"plain_text_action_id": {"type": "plain_text_input", "value": "test123"}}`);
- the value keys per element (`value`, `selected_option`, `selected_options`, `selected_date`,
  `files`): Slack's `ViewStateValue` type,
  https://docs.slack.dev/tools/bolt-js/reference/interfaces/ViewStateValue, and each element's
  page under https://docs.slack.dev/reference/block-kit/block-elements/ (plain-text-input,
  select-menu-element#static_select, multi-select-menu-element#static_multi_select,
  checkboxes-element, date-picker-element, file-input-element).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.slack.forms import ViewState


def submitted(values: dict[str, Any]) -> dict[str, Any]:
    """A submitted view as Slack sends it (the fields the bot does not read trimmed)."""
    return {
        "id": "V0123ABCDEF",
        "type": "modal",
        "callback_id": "any",
        "hash": "1690230123.abc123",
        "state": {"values": values},
    }


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text, "emoji": True}, "value": value}


def test_plain_text_input() -> None:
    state = ViewState(
        submitted(
            {
                "input_block_id": {
                    "plain_text_action_id": {"type": "plain_text_input", "value": "test123"}
                },
                "empty_block": {"ml_input": {"type": "plain_text_input", "value": None}},
            }
        )
    )
    assert state.text("input_block_id") == "test123"
    assert state.text("empty_block") == ""


def test_static_select_with_its_own_action_id() -> None:
    """A select that dispatches actions carries its own action id (the wave-1 blocker)."""
    state = ViewState(
        submitted(
            {
                "grants_credential": {
                    "grants_credential_chosen": {
                        "type": "static_select",
                        "selected_option": option("acme.com (Google)", "7"),
                    }
                },
                "nothing_chosen": {"sel": {"type": "static_select", "selected_option": None}},
            }
        )
    )
    assert state.selected("grants_credential") == "7"
    assert state.selected("nothing_chosen") is None


def test_multi_static_select() -> None:
    state = ViewState(
        submitted(
            {
                "scopes": {
                    "multi_static_select-action": {
                        "type": "multi_static_select",
                        "selected_options": [
                            option("Gmail: read", "https://mail/read"),
                            option("Calendar: full", "https://calendar"),
                        ],
                    }
                }
            }
        )
    )
    assert state.selected_many("scopes") == ["https://mail/read", "https://calendar"]


def test_checkboxes() -> None:
    state = ViewState(
        submitted(
            {
                "options": {
                    "checkboxes-action": {
                        "type": "checkboxes",
                        "selected_options": [
                            {
                                "text": {"type": "mrkdwn", "text": "*Skip* existing"},
                                "description": {"type": "mrkdwn", "text": "valid grants"},
                                "value": "skip_existing",
                            }
                        ],
                    }
                },
                "none_ticked": {"cb": {"type": "checkboxes", "selected_options": []}},
            }
        )
    )
    assert state.checked("options") == {"skip_existing"}
    assert state.checked("none_ticked") == set()


def test_datepicker() -> None:
    state = ViewState(
        submitted(
            {
                "expires": {
                    "datepicker-action": {"type": "datepicker", "selected_date": "1990-04-28"}
                },
                "unset": {"dp": {"type": "datepicker", "selected_date": None}},
            }
        )
    )
    assert state.date("expires") == date(1990, 4, 28)
    assert state.date("unset") is None


def test_file_input() -> None:
    file = {
        "id": "F0123456789",
        "name": "users.csv",
        "title": "users.csv",
        "mimetype": "text/csv",
        "filetype": "csv",
        "size": 1234,
        "url_private": "https://files.slack.com/files-pri/T0-F0123456789/users.csv",
        "url_private_download": "https://files.slack.com/files-pri/T0-F0123456789/download/users.csv",
    }
    state = ViewState(
        submitted(
            {
                "users_file": {"file_input_action_id_1": {"type": "file_input", "files": [file]}},
                "no_file": {"fi": {"type": "file_input", "files": []}},
            }
        )
    )
    assert state.files("users_file") == [file]
    assert state.files("no_file") == []


def test_a_block_slack_left_out_reads_as_empty() -> None:
    state = ViewState(submitted({}))
    assert (state.text("x"), state.selected("x"), state.files("x"), state.date("x")) == (
        "",
        None,
        [],
        None,
    )
