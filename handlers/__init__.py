"""Slack listeners, one module per surface, each with a `register(app)`; the credential and
run surfaces are grouped in `credentials/` and `runs/`.

`register(app)` below wires them all in a fixed order.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.ids import ActionId
from handlers import alerts, audit, commands, consent, doctor, health, home, status
from handlers.credentials import deletion, registration, rotation
from handlers.runs import approvals, controls, grants, reports, revoke


async def ack_link_button(ack: AsyncAck) -> None:
    """Link buttons (consent URLs) still send block_actions, which must be acked."""
    await ack()


def register(app: AsyncApp) -> None:
    routes = {
        **registration.SUBCOMMANDS,
        **consent.SUBCOMMANDS,
        **grants.SUBCOMMANDS,
        **audit.SUBCOMMANDS,
        **status.SUBCOMMANDS,
        **doctor.SUBCOMMANDS,
        **revoke.SUBCOMMANDS,
        **health.SUBCOMMANDS,
    }
    commands.register(app, routes=routes)
    registration.register(app)
    rotation.register(app)
    deletion.register(app)
    consent.register(app)
    grants.register(app)
    revoke.register(app)
    health.register(app)
    approvals.register(app)
    controls.register(app)
    reports.register(app)
    audit.register(app)
    alerts.register(app)
    home.register(app)
    app.action(ActionId.OPEN_URL)(ack_link_button)
