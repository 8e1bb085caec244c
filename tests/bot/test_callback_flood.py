"""`GET /nylas/callback` under a flood of junk: rejections are rate-limited and aggregated in the
audit log, valid callbacks still work, and every page carries the browser security headers."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from bot.consent.links import hash_state
from storage.audit import AuditFilter, latest_events
from storage.audit_key import AuditKey
from storage.db import create_engine, session_factory
from storage.models import AuditEvent, ConsentRequest, utcnow
from tests.conftest import AUDIT_KEY, RunningBot, SettingsFactory, run_bot
from tests.records import credential_record

JUNK = 60
FRAME_AND_SNIFF = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}


def assert_secure_page(headers: dict[str, str]) -> None:
    for name, value in FRAME_AND_SNIFF.items():
        assert headers.get(name) == value, name
    policy = headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


async def seed_pending_consent(bot: RunningBot, state: str) -> None:
    async with bot.deps.sessions() as session:
        credential = credential_record("contoso.com", "microsoft", tenant="contoso.com")
        session.add(credential)
        await session.flush()
        assert credential.id is not None
        session.add(
            ConsentRequest(
                credential_id=credential.id,
                state_hash=hash_state(state),
                requested_by="U0ADMIN",
                requested_by_name="Ada Admin",
                channel_id="C0CONSENT",
                expires_at=utcnow() + timedelta(days=1),
            )
        )
        await session.commit()


async def test_a_flood_of_junk_callbacks_is_limited_and_aggregated(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    statuses: list[int] = []
    async with run_bot(settings) as bot:
        await seed_pending_consent(bot, "the-real-state")
        for index in range(JUNK):
            response = await bot.http.get(f"{bot.url}/nylas/callback?state=junk{index}")
            statuses.append(response.status)
            if response.status == 429:
                assert int(response.headers["Retry-After"]) >= 1
        # The flood does not lock out a real admin's callback from the same address.
        response = await bot.http.get(
            f"{bot.url}/nylas/callback", params={"state": "the-real-state", "admin_consent": "true"}
        )
        assert response.status == 200 and "Consent recorded" in await response.text()
    assert 429 in statuses and set(statuses) == {400, 429}
    # Read the log after shutdown, which writes the last minute's aggregate.
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine, audit_key=AuditKey(AUDIT_KEY))() as session:
            rejected = await latest_events(
                session=session,
                filters=AuditFilter(action_prefix="consent.callback_rejected"),
                limit=1000,
            )
            granted = (
                await session.exec(select(AuditEvent).where(AuditEvent.action == "consent.granted"))
            ).all()
    finally:
        await engine.dispose()
    assert len(granted) == 1
    counts = [json.loads(event.details).get("count", 1) for event in rejected]
    assert sum(counts) == JUNK  # every rejection is accounted for…
    assert len(rejected) <= 12  # …in a handful of events (at most two minutes of one source)
    assert any(count > 1 for count in counts)
    assert all("127.0.0.1" in event.actor_name for event in rejected)


async def test_consent_pages_send_the_browser_security_headers(bot: RunningBot) -> None:
    await seed_pending_consent(bot, "the-real-state")
    refused = await bot.http.get(f"{bot.url}/nylas/callback?state=forged")
    assert refused.status == 400
    assert_secure_page(dict(refused.headers))
    recorded = await bot.http.get(
        f"{bot.url}/nylas/callback", params={"state": "the-real-state", "admin_consent": "true"}
    )
    assert recorded.status == 200
    assert_secure_page(dict(recorded.headers))
    assert recorded.headers.get("Referrer-Policy") == "no-referrer"  # the URL holds the state
