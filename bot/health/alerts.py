"""The seam between finding invalid grants and telling people: `GrantAlertSink`. The sweep (and
any other finder) hands it the grants that became invalid; the composition root gives it the
grouped alerts (`bot/alerts/findings.py`), the same messages as Nylas's notifications."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.nylas.models import Grant


class GrantAlertSink(Protocol):
    async def grants_became_invalid(
        self, credential_id: int, grants: Sequence[Grant], source: str = "sweep"
    ) -> None:
        """`grants` of the bot's credential `credential_id` are newly invalid."""
