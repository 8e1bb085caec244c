"""The plain-language table: each known provider or Nylas error maps to one reason and fix."""

from __future__ import annotations

import pytest

from bot.nylas.problems import Field, delegation_link, explain


@pytest.mark.parametrize(
    ("words", "code", "field"),
    [
        (
            "unauthorized_client: Client is unauthorized to retrieve access tokens",
            "delegation_missing",
            Field.SCOPES,
        ),
        ("invalid_grant: Invalid email or User ID", "mailbox_not_found", Field.MAILBOX),
        ("invalid_grant: Invalid JWT Signature.", "key_revoked", Field.KEY),
        (
            "invalid_grant: Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
            "reasonable timeframe. Check your iat and exp values",
            "clock_skew",
            Field.KEY,
        ),
        (
            "invalid_client: AADSTS7000215: Invalid client secret provided.",
            "secret_id_not_value",
            Field.CLIENT_SECRET,
        ),
        (
            "AADSTS7000222: The provided client secret keys for app are expired.",
            "secret_expired",
            Field.CLIENT_SECRET,
        ),
        (
            "AADSTS700016: Application with identifier 'x' was not found",
            "app_not_in_tenant",
            Field.CLIENT_ID,
        ),
        (
            "AADSTS50194: Application is not configured as a multi-tenant application",
            "common_with_single_tenant_app",
            Field.TENANT,
        ),
        ("AADSTS90002: Tenant 'x' not found.", "tenant_not_found", Field.TENANT),
        (
            "AADSTS65001: The user or administrator has not consented",
            "consent_not_propagated",
            Field.NONE,
        ),
    ],
)
def test_provider_errors_have_one_reason_and_fix(words: str, code: str, field: Field) -> None:
    problem = explain(words)
    assert problem is not None and (problem.code, problem.field) == (code, field)
    assert problem.reason and problem.fix


def test_nylas_statuses_and_the_two_kinds_of_429() -> None:
    assert explain("unauthorized", status=401).code == "nylas_api_key"  # type: ignore[union-attr]
    assert (
        explain("", status=429, error_type="nylas_rate_limit_exceeded").code == "nylas_rate_limit"
    )  # type: ignore[union-attr]
    assert explain("", status=429, error_type="rate_limit_error").code == "provider_rate_limit"  # type: ignore[union-attr]


def test_an_unknown_error_is_not_guessed() -> None:
    assert explain("something nobody has seen", status=500) is None
    assert explain("the appropriate iat of an expression") is None  # no match inside words


def test_the_delegation_link_is_prefilled() -> None:
    link = delegation_link("1045", ["https://a/x", "https://a/y"])
    assert link.endswith(
        "clientIdToAdd=1045&clientScopeToAdd=https://a/x,https://a/y&overwriteClientId=true"
    )
