"""Block Kit elements that slack_sdk.models does not have yet."""

from __future__ import annotations

from slack_sdk.models.blocks import InputInteractiveElement


class FileInputElement(InputInteractiveElement):
    """https://docs.slack.dev/reference/block-kit/block-elements/file-input-element"""

    type = "file_input"

    @property
    def attributes(self) -> set[str]:  # type: ignore[override]
        return set(super().attributes) | {"filetypes", "max_files"}

    def __init__(
        self,
        *,
        action_id: str,
        filetypes: list[str] | None = None,
        max_files: int = 1,
    ) -> None:
        super().__init__(type=self.type, action_id=action_id)
        self.filetypes = filetypes
        self.max_files = max_files
