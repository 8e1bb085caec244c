"""Reading a submitted modal's `state.values` (one input element per block, action id INPUT)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.ids import ActionId


class ViewState:
    def __init__(self, view: dict[str, Any]) -> None:
        self._values: dict[str, dict[str, Any]] = (view.get("state") or {}).get("values") or {}

    def _element(self, block_id: str) -> dict[str, Any]:
        return dict((self._values.get(block_id) or {}).get(ActionId.INPUT) or {})

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
