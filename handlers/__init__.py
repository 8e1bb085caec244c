"""Slack listeners, one module per surface, each with a `register(app)`.

`register(app)` below wires them all in a fixed order.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.ids import ActionId
from handlers import (
    alerts,
    approvals,
    audit,
    commands,
    consent,
    credentials,
    doctor,
    grants,
    health,
    home,
    rotation,
    run_controls,
    run_reports,
    status,
)
from handlers.offboarding import credential_deletion, revoke


async def ack_link_button(ack: AsyncAck) -> None:
    """Link buttons (consent URLs) still send block_actions, which must be acked."""
    await ack()


def register(app: AsyncApp) -> None:
    routes = {
        **credentials.SUBCOMMANDS,
        **consent.SUBCOMMANDS,
        **grants.SUBCOMMANDS,
        **audit.SUBCOMMANDS,
        **status.SUBCOMMANDS,
        **doctor.SUBCOMMANDS,
        **revoke.SUBCOMMANDS,
        **health.SUBCOMMANDS,
    }
    commands.register(app, routes=routes)
    credentials.register(app)
    rotation.register(app)
    credential_deletion.register(app)
    consent.register(app)
    grants.register(app)
    revoke.register(app)
    health.register(app)
    approvals.register(app)
    run_controls.register(app)
    run_reports.register(app)
    audit.register(app)
    alerts.register(app)
    home.register(app)
    app.action(ActionId.OPEN_URL)(ack_link_button)
