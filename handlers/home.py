"""The App Home tab: published when a user opens it (`app_home_opened`)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps


async def home_opened(event: dict[str, Any], deps: Deps) -> None:
    """Only the Home tab is ours to draw; the Messages tab needs nothing."""
    if event.get("tab", "home") != "home":
        return
    await deps.home.show(str(event["user"]))


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(home_opened)
