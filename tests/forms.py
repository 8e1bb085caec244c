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
