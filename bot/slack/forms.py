"""Reading a submitted modal's `state.values`.

Slack keys each value by the block's `block_id` and then by the element's own `action_id`, which
need not be `ActionId.INPUT`: a select that re-renders the modal carries its own action id. Every
input block holds one element, so a value is found by its block id alone, whatever the action id.
"""

from __future__ import annotations

from datetime import date
from typing import Any


class ViewState:
    def __init__(self, view: dict[str, Any]) -> None:
        self._values: dict[str, dict[str, Any]] = (view.get("state") or {}).get("values") or {}

    def _element(self, block_id: str) -> dict[str, Any]:
        elements = self._values.get(block_id) or {}
        return dict(next(iter(elements.values()), None) or {})

    def text(self, block_id: str) -> str:
        """The typed text, stripped; "" when empty."""
        return str(self._element(block_id).get("value") or "").strip()

    def files(self, block_id: str) -> list[dict[str, Any]]:
        return list(self._element(block_id).get("files") or [])

    def checked(self, block_id: str) -> set[str]:
        return {
            str(option["value"]) for option in self._element(block_id).get("selected_options") or []
        }

    def selected(self, block_id: str) -> str | None:
        option = self._element(block_id).get("selected_option")
        return str(option["value"]) if option else None

    def selected_many(self, block_id: str) -> list[str]:
        return [
            str(option["value"]) for option in self._element(block_id).get("selected_options") or []
        ]

    def date(self, block_id: str) -> date | None:
        picked = self._element(block_id).get("selected_date")
        return date.fromisoformat(picked) if picked else None
