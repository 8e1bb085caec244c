"""`bulkauth credentials`: the credentials registered through the bot (identifiers only)."""

from __future__ import annotations

import click

from bot.cli.common import database_url_option, with_sessions
from bot.cli.output import json_option, print_json, print_table
from bot.cli.records import credential_record
from bot.cli.tables import credential_table
from storage.credentials import list_credentials
from storage.db import Sessions
from storage.models import CredentialRecord


@click.command("credentials")
@click.option("--provider", type=click.Choice(["google", "microsoft"]), help="only this provider")
@json_option
@database_url_option
def credentials(provider: str | None, as_json: bool, database_url: str | None) -> None:
    """The credentials registered through the bot, newest first (no secret is stored)."""

    async def listing(sessions: Sessions) -> list[CredentialRecord]:
        async with sessions() as session:
            return await list_credentials(session=session, provider=provider)

    found = with_sessions(listing, database_url=database_url)
    if as_json:
        print_json([credential_record(record) for record in found])
    else:
        print_table(credential_table(found))
