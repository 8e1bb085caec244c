"""`bulkauth webhook register`: the Nylas webhook destination for PUBLIC_BASE_URL/nylas/webhook."""

from __future__ import annotations

import asyncio
import sys

import click

from bot.cli.common import load_settings
from bot.cli.output import json_option, print_json
from bot.lifespan import build_nylas_client
from bot.nylas.errors import NylasError
from bot.nylas.webhooks import WebhookDestination, register_destination
from bot.settings import Settings
from bot.webhooks.endpoint import WEBHOOK_PATH


@click.group("webhook")
def webhook() -> None:
    """Nylas webhooks (grant events and alerts)."""


@webhook.command("register")
@json_option
def register(as_json: bool) -> None:
    """Create (or update) the Nylas webhook destination for PUBLIC_BASE_URL/nylas/webhook with
    the grant triggers. The bot must be running there: Nylas checks the URL first. On creation
    the webhook secret is printed once: store it as NYLAS_WEBHOOK_SECRET."""
    settings = load_settings(Settings)
    if settings.public_base_url is None:
        click.echo("bulkauth: set PUBLIC_BASE_URL (where Nylas reaches this bot) first", err=True)
        sys.exit(2)
    url = settings.public_base_url.rstrip("/") + WEBHOOK_PATH

    async def run() -> tuple[WebhookDestination, bool]:
        nylas = build_nylas_client(settings)
        try:
            return await register_destination(nylas, url)
        finally:
            await nylas.aclose()

    try:
        destination, created = asyncio.run(run())
    except NylasError as error:
        click.echo(f"bulkauth: Nylas refused the webhook: {error}", err=True)
        sys.exit(1)
    secret = destination.webhook_secret.get_secret_value() if destination.webhook_secret else None
    if as_json:
        print_json(
            {
                "id": destination.id,
                "webhook_url": destination.webhook_url,
                "trigger_types": destination.trigger_types,
                "status": destination.status,
                "created": created,
                "webhook_secret": secret,
            }
        )
        return
    verb = "created" if created else "updated"
    click.echo(f"{verb} webhook {destination.id} for {url}: {', '.join(destination.trigger_types)}")
    if secret:
        click.echo(f"NYLAS_WEBHOOK_SECRET={secret}")
        click.echo("Store it now in your secret store: Nylas shows it only this once.", err=True)
    else:
        click.echo("the webhook secret is unchanged (Nylas shows it only on creation)", err=True)
