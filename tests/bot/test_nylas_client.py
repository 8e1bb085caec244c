"""The Nylas client against the fake Nylas (httpx.MockTransport), with every exchange checked
against Nylas's official OpenAPI spec."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import SecretStr
from tenacity import RetryCallState

from bot.nylas.client import NylasClient, RetryPolicy, redact_body
from bot.nylas.errors import (
    NylasApiError,
    NylasAuthError,
    NylasNotFound,
    NylasServerError,
    NylasTransportError,
    parse_retry_after,
)
from bot.nylas.http import environment_proxy
from bot.nylas.models import (
    BulkAuthRequest,
    GoogleServiceAccountKey,
    GrantFilters,
    MicrosoftAdminConsentData,
)
from bot.nylas.throttle import Throttle
from tests.contracts.nylas_spec import check_exchange
from tests.fakes.nylas import API_KEY, FakeNylas
from tests.keys import canary_of, rsa_pem

FAST_RETRY = RetryPolicy(max_attempts=4, max_backoff_seconds=2.0, initial_backoff_seconds=0.001)


@pytest.fixture
def nylas() -> FakeNylas:
    return FakeNylas()


@pytest.fixture
async def client(nylas: FakeNylas) -> AsyncIterator[NylasClient]:
    client = NylasClient(
        api_uri="https://api.us.nylas.com",
        api_key=API_KEY,
        throttle=Throttle(rate_per_second=1000, concurrency=16),
        retry=FAST_RETRY,
        timeout_seconds=5,
        transport=nylas.transport(),
    )
    yield client
    await client.aclose()
    for record in nylas.requests:  # contract: every body the spec describes must conform
        check_exchange(record.method, record.path, record.body, record.status, record.response)


def google_key(pem: str | None = None) -> GoogleServiceAccountKey:
    """A key with a private key generated for this test run."""
    return GoogleServiceAccountKey(
        project_id="acme-sa",
        private_key_id="abc123",
        private_key=SecretStr(pem or rsa_pem()),
        client_email="bulk@acme-sa.iam.gserviceaccount.com",
        client_id="1234",
        token_uri="https://oauth2.googleapis.com/token",
    )


async def test_create_google_credential_sends_the_key_and_returns_the_id(
    client: NylasClient, nylas: FakeNylas
) -> None:
    pem = rsa_pem()
    created = await client.create_credential("google", name="Acme", data=google_key(pem))
    assert created.data.id in nylas.credentials
    assert created.request_id
    sent = nylas.calls("POST", "/v3/connectors/google/creds")[0].body
    assert sent["credential_type"] == "serviceaccount"
    assert sent["credential_data"]["private_key"] == pem
    assert sent["credential_data"]["client_email"] == "bulk@acme-sa.iam.gserviceaccount.com"
    assert sent["credential_data"]["type"] == "service_account"


async def test_microsoft_credential_may_omit_client_id_and_secret(
    client: NylasClient, nylas: FakeNylas
) -> None:
    await client.create_credential(
        "microsoft", name="Contoso", data=MicrosoftAdminConsentData(tenant="contoso.com")
    )
    sent = nylas.calls("POST", "/v3/connectors/microsoft/creds")[0].body
    assert sent == {
        "name": "Contoso",
        "credential_type": "adminconsent",
        "credential_data": {"tenant": "contoso.com"},
    }


async def test_secrets_never_show_in_reprs_or_redacted_bodies() -> None:
    pem = rsa_pem()
    canary = canary_of(pem)
    key = google_key(pem)
    data = MicrosoftAdminConsentData(tenant="t", client_id="c", client_secret=SecretStr("mscanary"))
    assert canary not in repr(key) and canary not in str(key.model_dump())
    assert "mscanary" not in repr(data)
    assert canary in key.wire_body()["private_key"].replace("\n", "")  # the wire body has it ...
    assert canary not in str(redact_body({"credential_data": key.wire_body()}))  # ... logs never


async def test_list_credentials_follows_every_page(client: NylasClient, nylas: FakeNylas) -> None:
    for index in range(450):
        await client.create_credential(
            "microsoft",
            name=f"tenant {index}",
            data=MicrosoftAdminConsentData(tenant=f"t{index}.com"),
        )
    listed = await client.list_credentials("microsoft")
    assert len({credential.id for credential in listed}) == 450
    pages = nylas.calls("GET", "/v3/connectors/microsoft/creds")
    assert [(p.query["limit"], p.query["offset"]) for p in pages] == [
        ("200", "0"),
        ("200", "200"),
        ("200", "400"),
    ]


async def test_update_credential_sends_the_complete_data(
    client: NylasClient, nylas: FakeNylas
) -> None:
    created = await client.create_credential("google", name="Acme", data=google_key())
    rotated = rsa_pem()
    await client.update_credential("google", created.data.id, data=google_key(rotated))
    assert nylas.credentials[created.data.id].data["private_key"] == rotated
    assert nylas.credentials[created.data.id].data["project_id"] == "acme-sa"
    assert (await client.get_credential("google", created.data.id)).name == "Acme"
    await client.delete_credential("google", created.data.id)
    with pytest.raises(NylasNotFound):
        await client.get_credential("google", created.data.id)


async def test_custom_auth_creates_then_reauthenticates_the_same_grant(
    client: NylasClient, nylas: FakeNylas
) -> None:
    credential = await client.create_credential("google", name="Acme", data=google_key())
    request = BulkAuthRequest(
        provider="google",
        credential_id=credential.data.id,
        email_address="leyah@acme.com",
        scopes=["https://www.googleapis.com/auth/gmail.readonly"],
    )
    first = await client.create_bulk_grant(request)
    second = await client.create_bulk_grant(request)
    assert first.data.id == second.data.id
    assert first.data.grant_status == "valid" and first.request_id
    body = nylas.calls("POST", "/v3/connect/custom")[0].body
    assert body["settings"]["scopes"] == ["https://www.googleapis.com/auth/gmail.readonly"]


async def test_microsoft_custom_auth_sends_no_scopes(client: NylasClient, nylas: FakeNylas) -> None:
    credential = await client.create_credential(
        "microsoft", name="Contoso", data=MicrosoftAdminConsentData(tenant="contoso.com")
    )
    await client.create_bulk_grant(
        BulkAuthRequest(
            provider="microsoft", credential_id=credential.data.id, email_address="nyla@contoso.com"
        )
    )
    body = nylas.calls("POST", "/v3/connect/custom")[0].body
    assert body == {
        "provider": "microsoft",
        "settings": {"credential_id": credential.data.id, "email_address": "nyla@contoso.com"},
    }


async def test_list_grants_pages_to_the_end_with_filters(
    client: NylasClient, nylas: FakeNylas
) -> None:
    for index in range(401):
        nylas.add_grant(f"user{index}@acme.com", status="invalid" if index % 2 else "valid")
    valid = await client.list_grants(GrantFilters(grant_status="valid", provider="google"))
    assert len(valid) == 201
    pages = nylas.calls("GET", "/v3/grants")
    assert [p.query["offset"] for p in pages] == ["0", "200"]
    assert pages[0].query["grant_status"] == "valid" and pages[0].query["provider"] == "google"
    one = await client.list_grants(GrantFilters(email="user3@acme.com"))
    assert [grant.email for grant in one] == ["user3@acme.com"]
    assert (await client.get_grant(one[0].id)).grant_status == "invalid"
    await client.delete_grant(one[0].id)
    assert "user3@acme.com" not in nylas.grants


async def test_get_connector_and_list_connectors(client: NylasClient, nylas: FakeNylas) -> None:
    assert (await client.get_connector("google")).provider == "google"
    assert {c.provider for c in await client.list_connectors()} == {"google", "microsoft"}
    del nylas.connectors["microsoft"]
    with pytest.raises(NylasNotFound) as missing:
        await client.get_connector("microsoft")
    assert missing.value.status == 404 and missing.value.request_id


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_transient_statuses_are_retried(
    client: NylasClient, nylas: FakeNylas, status: int
) -> None:
    nylas.fail("GET", "/v3/connectors/google", status=status, times=2)
    assert (await client.get_connector("google")).provider == "google"
    assert len(nylas.calls("GET", "/v3/connectors/google")) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_other_client_errors_are_never_retried(
    client: NylasClient, nylas: FakeNylas, status: int
) -> None:
    nylas.fail("GET", "/v3/connectors/google", status=status, times=5)
    with pytest.raises(NylasApiError) as caught:
        await client.get_connector("google")
    assert caught.value.status == status
    assert len(nylas.calls("GET", "/v3/connectors/google")) == 1


async def test_retries_stop_after_the_configured_attempts(
    client: NylasClient, nylas: FakeNylas
) -> None:
    nylas.fail("GET", "/v3/connectors/google", status=503, times=10)
    with pytest.raises(NylasServerError):
        await client.get_connector("google")
    assert len(nylas.calls("GET", "/v3/connectors/google")) == FAST_RETRY.max_attempts


async def test_retry_after_is_honoured(client: NylasClient, nylas: FakeNylas) -> None:
    nylas.fail("GET", "/v3/connectors/google", status=429, retry_after="0.3")
    await client.get_connector("google")
    first, second = nylas.calls("GET", "/v3/connectors/google")
    assert second.at - first.at >= 0.3


async def test_retry_after_is_capped(nylas: FakeNylas) -> None:
    capped = NylasClient(
        api_uri="https://x",
        api_key=API_KEY,
        throttle=Throttle(rate_per_second=1000, concurrency=4),
        retry=RetryPolicy(max_attempts=2, max_backoff_seconds=0.05),
        transport=nylas.transport(),
    )
    nylas.fail("GET", "/v3/connectors/google", status=429, retry_after="3600")
    started = time.monotonic()
    await capped.get_connector("google")
    await capped.aclose()
    assert time.monotonic() - started < 5


def test_the_first_retry_goes_at_once_and_later_ones_back_off_to_the_cap() -> None:
    """A run's last user whose call met a transient 503 is not kept waiting a backoff on top of
    the 503's own round trip; a request that keeps failing still backs off, doubling."""

    def waits(strategy: Callable[[RetryCallState], float], retry: int) -> list[float]:
        state = RetryCallState(None, None, (), {})
        state.attempt_number = retry
        return [strategy(state) for _ in range(200)]

    policy = RetryPolicy()
    assert max(waits(policy.backoff(), 1)) <= policy.first_retry_jitter_seconds
    assert min(waits(policy.backoff(), 2)) >= 2 * policy.initial_backoff_seconds
    assert min(waits(policy.backoff(), 5)) >= 16 * policy.initial_backoff_seconds
    assert min(waits(policy.doubling(), 1)) >= policy.initial_backoff_seconds
    assert max(waits(RetryPolicy(max_backoff_seconds=1.0).backoff(), 12)) == 1.0


async def test_a_429_without_retry_after_backs_off_from_the_first_retry(nylas: FakeNylas) -> None:
    """A 429 says the application's budget is spent: its retry is not sent at once."""
    client = NylasClient(
        api_uri="https://x",
        api_key=API_KEY,
        throttle=Throttle(rate_per_second=1000, concurrency=4),
        transport=nylas.transport(),
    )
    nylas.fail("GET", "/v3/connectors/google", status=429)
    await client.get_connector("google")
    await client.aclose()
    refused, retried = nylas.calls("GET", "/v3/connectors/google")
    assert retried.at - refused.at >= RetryPolicy().initial_backoff_seconds


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    )
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


async def test_html_502_body_still_gives_a_nylas_error(
    client: NylasClient, nylas: FakeNylas
) -> None:
    nylas.fail("GET", "/v3/connectors/google", status=502, html=True, times=10)
    with pytest.raises(NylasServerError) as caught:
        await client.get_connector("google")
    assert "502 Bad Gateway" in caught.value.message and "<" not in caught.value.message


async def test_string_error_body_still_gives_a_nylas_error(
    client: NylasClient, nylas: FakeNylas
) -> None:
    nylas.fail("GET", "/v3/connectors/google", status=400, error_as_string=True)
    with pytest.raises(NylasApiError) as caught:
        await client.get_connector("google")
    assert caught.value.message == "bad things" and caught.value.error_type == "invalid_request"


async def test_401_points_at_region_or_api_key(nylas: FakeNylas) -> None:
    wrong = NylasClient(
        api_uri="https://api.eu.nylas.com",
        api_key="wrong-key-0123456789",
        throttle=Throttle(rate_per_second=100, concurrency=4),
        transport=nylas.transport(),
    )
    with pytest.raises(NylasAuthError) as caught:
        await wrong.list_connectors()
    await wrong.aclose()
    assert "region" in caught.value.user_message and "NYLAS_API_KEY" in caught.value.user_message
    assert "wrong-key" not in caught.value.user_message


async def test_provider_error_and_request_id_are_carried(
    client: NylasClient, nylas: FakeNylas
) -> None:
    credential = await client.create_credential("google", name="Acme", data=google_key())
    nylas.permanent_failures["bad@acme.com"] = (400, "Client is unauthorized for these scopes")
    with pytest.raises(NylasApiError) as caught:
        await client.create_bulk_grant(
            BulkAuthRequest(
                provider="google",
                credential_id=credential.data.id,
                email_address="bad@acme.com",
                scopes=["s"],
            )
        )
    assert caught.value.provider_error == {"error": "unauthorized_client"}
    assert caught.value.request_id in caught.value.user_message


async def test_timeouts_are_retried_then_reported(client: NylasClient, nylas: FakeNylas) -> None:
    nylas.fail("GET", "/v3/connectors/google", status=504, hang=True, times=1)
    assert (await client.get_connector("google")).provider == "google"
    nylas.fail("GET", "/v3/connectors/google", status=504, hang=True, times=10)
    with pytest.raises(NylasTransportError) as caught:
        await client.get_connector("google")
    assert "in time" in caught.value.user_message


async def test_a_lone_429_keeps_the_pace_but_429s_in_a_row_slow_every_caller(
    nylas: FakeNylas,
) -> None:
    """A lone 429 is the way to Nylas varying (the window's margin absorbs it); several within a
    second mean other traffic spends the application's budget, so every caller eases off."""
    throttle = Throttle(rate_per_second=40, concurrency=8)
    client = NylasClient(
        api_uri="https://x",
        api_key=API_KEY,
        throttle=throttle,
        retry=FAST_RETRY,
        transport=nylas.transport(),
    )
    nylas.fail("GET", "/v3/connectors/google", status=429, retry_after="0")
    await client.get_connector("google")
    assert throttle.effective_rate == 40
    nylas.fail("GET", "/v3/connectors/google", status=429, retry_after="0", times=2)
    await client.get_connector("google")
    await client.aclose()
    assert throttle.effective_rate < 40
    assert throttle.effective_rate > 40 / 1.2


async def test_the_limiter_never_sends_more_than_the_rate_within_one_second(
    nylas: FakeNylas,
) -> None:
    """An idle moment may be made up within the window, but no one-second window ever holds more
    than the configured rate (as Nylas counts: when the calls arrive)."""
    client = NylasClient(
        api_uri="https://x",
        api_key=API_KEY,
        throttle=Throttle(rate_per_second=50, concurrency=32),
        transport=nylas.transport(),
    )
    import asyncio

    await asyncio.gather(*(client.get_connector("google") for _ in range(120)))
    await client.aclose()
    arrived = sorted(record.arrived for record in nylas.calls("GET", "/v3/connectors/google"))
    assert len(arrived) == 120
    assert min(arrived[n] - arrived[n - 50] for n in range(50, 120)) >= 0.99


def test_the_proxy_for_nylas_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert environment_proxy("https://api.us.nylas.com") is None
    monkeypatch.setenv("ALL_PROXY", "http://all.corp.example:3128")
    proxy = environment_proxy("https://api.us.nylas.com")
    assert proxy is not None and proxy.url == "http://all.corp.example:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    proxy = environment_proxy("https://api.us.nylas.com")
    assert proxy is not None and proxy.url == "http://proxy.corp.example:3128"
    monkeypatch.setenv("HTTPS_PROXY", "proxy.corp.example:3128")  # a bare host:port
    proxy = environment_proxy("https://api.us.nylas.com")
    assert proxy is not None and proxy.url == "http://proxy.corp.example:3128"
    monkeypatch.setenv("HTTPS_PROXY", "ftp://bulkauth:s3cret@proxy.corp.example:21")
    with pytest.raises(ValueError) as refused:
        environment_proxy("https://api.us.nylas.com")
    assert "s3cret" not in str(refused.value) and "s3cret" not in repr(refused.value)
    monkeypatch.setenv("NO_PROXY", ".nylas.com")
    assert environment_proxy("https://api.us.nylas.com") is None


async def test_nylas_is_reached_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The address below does not resolve: only the proxy (here the fake itself, which answers
    a proxied request's absolute URL) can carry the call."""
    nylas = FakeNylas()
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", await nylas.start())
    client = NylasClient(
        api_uri="http://api.nylas.invalid",
        api_key=API_KEY,
        throttle=Throttle(rate_per_second=100, concurrency=4),
    )
    try:
        assert (await client.get_connector("google")).provider == "google"
    finally:
        await client.aclose()
        await nylas.stop()
