"""User lists as people give them: pasted text, one-column files, CSVs with an email column."""

from __future__ import annotations

import pytest

from bot.runs.emails import NoEmailColumn, emails_from_file, fold, split_pasted


@pytest.mark.parametrize("header", ["email", "Email", "E-mail", "UserPrincipalName", "mail"])
def test_a_one_column_file_with_a_header_yields_only_addresses(header: str) -> None:
    text = f"{header}\nann@acme.com\nbob@acme.com\n"
    assert emails_from_file(text) == ["ann@acme.com", "bob@acme.com"]


def test_a_plain_list_without_a_header_keeps_every_line() -> None:
    assert emails_from_file("ann@acme.com\r\nbob@acme.com\n\n") == ["ann@acme.com", "bob@acme.com"]


def test_the_email_column_is_found_by_header_or_by_content() -> None:
    by_header = "Name;E-mail;Team\nAnn;ann@acme.com;x\nBob;bob@acme.com;y\n"
    by_content = "Ann,ann@acme.com\nBob,bob@acme.com\n"
    assert (
        emails_from_file(by_header)
        == emails_from_file(by_content)
        == [
            "ann@acme.com",
            "bob@acme.com",
        ]
    )


def test_a_file_without_addresses_is_refused() -> None:
    with pytest.raises(NoEmailColumn):
        emails_from_file("name,team\nann,x\nbob,y\n")
    with pytest.raises(NoEmailColumn):
        emails_from_file("\n\n")


def test_fold_keeps_first_seen_order_and_sets_aside_duplicates_and_invalid() -> None:
    users = fold(
        split_pasted("Ann@Acme.com, ann@acme.com; <bob@acme.com>\nnot-an-email bob@acme.com")
    )
    assert users.emails == ["ann@acme.com", "bob@acme.com"]
    assert (users.duplicates, users.invalid, users.submitted) == (2, ["not-an-email"], 5)
