"""The Microsoft admin-consent URL builder."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from bot.errors import UserInputError
from bot.nylas.consent import admin_consent_url

BASE = {
    "api_uri": "https://api.us.nylas.com",
    "client_id": "nylas-app-id",
    "redirect_uri": "https://bot.example.com/nylas/callback",
    "credential_id": "cred-1",
}


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_common_tenant_url_has_every_required_parameter() -> None:
    url = admin_consent_url(**BASE, state="s1", tenant="common")
    assert url.startswith("https://api.us.nylas.com/v3/connect/auth?")
    assert query(url) == {
        "provider": ["microsoft"],
        "response_type": ["adminconsent"],
        "client_id": ["nylas-app-id"],
        "redirect_uri": ["https://bot.example.com/nylas/callback"],
        "credential_id": ["cred-1"],
        "state": ["s1"],
    }


def test_common_tenant_refuses_a_scope_override() -> None:
    with pytest.raises(UserInputError, match="Azure app's API permissions"):
        admin_consent_url(
            **BASE, state="s", tenant="Common", scopes=["https://graph.microsoft.com/Mail.Read"]
        )


def test_specific_tenant_allows_a_space_separated_scope_override() -> None:
    scopes = [
        "https://graph.microsoft.com/Calendars.Read",
        "https://graph.microsoft.com/Calendars.Read.Shared",
    ]
    url = admin_consent_url(**BASE, state="s", tenant="contoso.com", scopes=scopes)
    assert query(url)["scope"] == [" ".join(scopes)]
    assert "scope=https%3A%2F%2Fgraph.microsoft.com%2FCalendars.Read%20https%3A" in url


def test_every_parameter_is_url_encoded() -> None:
    url = admin_consent_url(**{**BASE, "credential_id": "a&b=c"}, state="x y/z?&", tenant="t")
    assert "redirect_uri=https%3A%2F%2Fbot.example.com%2Fnylas%2Fcallback" in url
    assert "state=x%20y%2Fz%3F%26" in url
    assert query(url)["credential_id"] == ["a&b=c"]


def test_state_is_at_most_256_characters() -> None:
    admin_consent_url(**BASE, state="s" * 256, tenant="common")
    with pytest.raises(ValueError, match="256"):
        admin_consent_url(**BASE, state="s" * 257, tenant="common")
    with pytest.raises(ValueError):
        admin_consent_url(**BASE, state="", tenant="common")
