"""Building `state.values` the way Slack submits each kind of input element."""

from __future__ import annotations

from typing import Any

ACTION = "input"


def text(value: str | None) -> dict[str, Any]:
    return {ACTION: {"type": "plain_text_input", "value": value}}


def files(*file_objects: dict[str, Any]) -> dict[str, Any]:
    return {ACTION: {"type": "file_input", "files": list(file_objects)}}


def checkboxes(*values: str) -> dict[str, Any]:
    return {
        ACTION: {
            "type": "checkboxes",
            "selected_options": [
                {"value": value, "text": {"type": "plain_text", "text": value}} for value in values
            ],
        }
    }


def picked_date(value: str | None) -> dict[str, Any]:
    return {ACTION: {"type": "datepicker", "selected_date": value}}


def select(value: str | None) -> dict[str, Any]:
    option = {"value": value, "text": {"type": "plain_text", "text": value}} if value else None
    return {ACTION: {"type": "static_select", "selected_option": option}}


def multi_select(*values: str) -> dict[str, Any]:
    return {
        ACTION: {
            "type": "multi_static_select",
            "selected_options": [
                {"value": value, "text": {"type": "plain_text", "text": value}} for value in values
            ],
        }
    }


def assert_refused_in_place(ack: dict[str, Any], expected: dict[str, str]) -> None:
    """The submission's ack shows errors on exactly the `expected` blocks, each saying its
    fragment (the modal stays open where the user typed)."""
    assert ack["response_action"] == "errors"
    assert set(ack["errors"]) == set(expected)
    for block_id, fragment in expected.items():
        assert fragment in ack["errors"][block_id]
