"""The CLI's rich tables as plain functions: a name that looks like rich markup is printed as
written, and a piped table is never wrapped."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from bot.cli.tables import credential_table
from storage.models import CredentialRecord


def test_markup_in_a_credential_name_is_printed_as_written() -> None:
    record = CredentialRecord(
        id=7,
        nylas_credential_id="cred-1",
        provider="google",
        credential_type="serviceaccount",
        name="[bold red]acme[/] " + "x" * 150,
        client_email="sa@acme.iam.gserviceaccount.com",
        registered_by="U1",
        registered_by_name="Ann",
        registered_at=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
    )
    console = Console(width=1_000_000, record=True, file=io.StringIO())
    console.print(credential_table([record]))
    header, row = console.export_text().splitlines()
    assert row.split()[:3] == ["7", "[bold", "red]acme[/]"]
    assert "2026-11-01 09:30" in row and "U1 (Ann)" in row
