"""`bulkauth doctor [CREDENTIAL]`: the same checklist as `/bulkauth doctor`, in a terminal."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import click

from bot.audit.key import resolve_audit_key
from bot.cli.common import database_url_option, load_settings
from bot.cli.output import json_option, print_json
from bot.doctor import Check, Doctor, Verdict
from bot.lifespan import build_nylas_client, settings_secrets
from bot.logs import Redactor, configure_logging
from bot.settings import Settings
from bot.slack.client import build_slack_client
from storage.credentials import find_credential, list_credentials
from storage.db import Sessions, engine_for, session_factory
from storage.models import CredentialRecord

MARKS = {Verdict.PASS: "pass", Verdict.WARNING: "WARN", Verdict.FAIL: "FAIL"}


@click.command()
@click.argument("credential", required=False, default="")
@json_option
@database_url_option
def doctor(credential: str, as_json: bool, database_url: str | None) -> None:
    """Check everything bulk auth depends on; exit 1 when a check fails."""
    settings = load_settings(Settings, database_url=database_url)
    redactor = Redactor()
    redactor.add(*settings_secrets(settings))
    configure_logging(redactor=redactor, level="WARNING")
    checks = asyncio.run(_examine(settings, credential))
    if as_json:
        print_json([check.as_json() for check in checks])
    else:
        for check in checks:
            fix = f"  fix: {check.fix}" if check.fix else ""
            click.echo(f"{MARKS[check.verdict]:4}  {check.name}: {check.detail}{fix}")
    sys.exit(1 if any(check.verdict == Verdict.FAIL for check in checks) else 0)


async def _examine(settings: Settings, wanted: str) -> list[Check]:
    key = resolve_audit_key(settings).key
    async with aiohttp.ClientSession() as http, engine_for(settings.database_url) as engine:
        nylas = build_nylas_client(settings)
        sessions = session_factory(engine, audit_key=key)
        try:
            credentials = await _credentials(sessions, wanted)
        except Exception:
            credentials = []
        doctor = Doctor(
            settings=settings,
            slack=build_slack_client(settings, http),
            nylas=nylas,
            database=engine,
            sessions=sessions,
            http=http,
        )
        try:
            return await doctor.examine(credentials)
        finally:
            await nylas.aclose()


async def _credentials(sessions: Sessions, wanted: str) -> list[CredentialRecord]:
    async with sessions() as session:
        if wanted:
            found = await find_credential(session=session, name_or_id=wanted)
            return [found] if found is not None else []
        return list(await list_credentials(session=session))
