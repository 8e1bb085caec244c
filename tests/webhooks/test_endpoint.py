"""`/nylas/webhook` through the running bot: the handshake, signatures, replays, retries."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter

import aiohttp
from sqlalchemy import text

from bot.demo.fakes.nylas_webhooks import notification, signed
from storage.models import AuditEvent, BulkRun, ItemStatus, RequestKind, RunStatus
from storage.runs import items_with_presets
from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.handlers.test_audit import ask, event_texts
from tests.webhooks.conftest import (
    WEBHOOK_SECRET,
    audit_events,
    granted_by_run,
    inbox_rows,
    inbox_settled,
)

PATH = "/nylas/webhook"


async def post(bot: RunningBot, body: bytes, headers: dict[str, str]) -> int:
    async with bot.http.post(f"{bot.url}{PATH}", data=body, headers=headers) as answer:
        await answer.read()
        return answer.status


def signed_headers(body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Nylas-Signature": signed(body, secret)}


async def test_a_signed_expiry_is_audited_as_nylas_with_its_credential_and_run(
    hooked: RunningBot, nylas: FakeNylas
) -> None:
    acme = await granted_by_run(hooked.deps.sessions, nylas, name="acme.com", count=3)
    delivery = await nylas.notify("grant.expired", acme.grants[1])
    assert delivery.statuses == [200]
    await inbox_settled(hooked)
    [event] = await audit_events(hooked, "nylas.grant.expired")
    assert (event.actor_id, event.actor_name, event.outcome) == ("nylas", "Nylas", "reported")
    assert event.credential_id == acme.credential_id
    assert event.run_id == acme.run_id
    assert (event.email, event.grant_id) == (acme.grants[1]["email"], acme.grants[1]["id"])
    details = json.loads(event.details)
    assert details["notification"] == delivery.notification_id
    assert details["code"] == 25009


async def test_every_grant_trigger_is_audited_and_updated_keeps_its_reauthentication_flag(
    hooked: RunningBot, nylas: FakeNylas
) -> None:
    acme = await granted_by_run(hooked.deps.sessions, nylas, name="acme.com", count=1)
    for trigger in ("grant.created", "grant.updated", "grant.deleted", "grant.expired"):
        assert (await nylas.notify(trigger, acme.grants[0])).accepted
    await inbox_settled(hooked)
    events = [e for e in await audit_events(hooked) if e.actor_id == "nylas"]
    assert sorted(e.action for e in events) == [
        "nylas.grant.created",
        "nylas.grant.deleted",
        "nylas.grant.expired",
        "nylas.grant.updated",
    ]
    [updated] = [e for e in events if e.action == "nylas.grant.updated"]
    assert json.loads(updated.details)["reauthentication_flag"] is True


async def test_a_grant_the_bot_never_made_is_audited_without_a_credential(
    hooked: RunningBot, nylas: FakeNylas
) -> None:
    stranger = nylas.add_grant("someone@elsewhere.org")
    assert (await nylas.notify("grant.expired", stranger)).accepted
    await inbox_settled(hooked)
    [event] = await audit_events(hooked, "nylas.grant.expired")
    assert (event.credential_id, event.run_id) == (None, None)
    assert event.email == "someone@elsewhere.org"


async def test_a_mailbox_an_all_credentials_revocation_skipped_still_gets_its_event(
    hooked: RunningBot, nylas: FakeNylas
) -> None:
    """A revocation across every credential has no credential of its own, and its skipped users
    got no grant from it: the notification is audited without a credential, not dropped."""
    stranger = nylas.add_grant("leaver@elsewhere.org")
    async with hooked.deps.sessions() as session:
        run = BulkRun(
            credential_id=None,
            credential_name="All credentials",
            provider="all",
            kind=RequestKind.REVOKE,
            status=RunStatus.FINISHED,
            requested_by=ADMIN,
            requested_by_name="Ada Admin",
            total=1,
        )
        session.add(run)
        await session.flush()
        assert run.id is not None
        await items_with_presets(
            session=session,
            run_id=run.id,
            items=[("leaver@elsewhere.org", ItemStatus.SKIPPED, None)],
        )
        await session.commit()
    assert (await nylas.notify("grant.expired", stranger)).accepted
    await inbox_settled(hooked)
    [event] = await audit_events(hooked, "nylas.grant.expired")
    assert (event.credential_id, event.run_id) == (None, None)


async def test_a_notification_delivered_three_times_is_processed_once(
    hooked: RunningBot, nylas: FakeNylas
) -> None:
    grant = nylas.add_grant("ann@acme.com")
    for _ in range(3):
        delivery = await nylas.notify("grant.expired", grant, notification_id="n-42")
        assert delivery.accepted
    await inbox_settled(hooked)
    assert len(await inbox_rows(hooked)) == 1
    assert len(await audit_events(hooked, "nylas.grant.expired")) == 1


async def test_a_compressed_notification_is_verified_on_its_compressed_bytes(
    hooked: RunningBot, nylas: FakeNylas
) -> None:
    grant = nylas.add_grant("ann@acme.com")
    assert (await nylas.notify("grant.expired", grant, compress=True)).statuses == [200]
    await inbox_settled(hooked)
    assert len(await audit_events(hooked, "nylas.grant.expired")) == 1
    # The signature of the uncompressed JSON is not the signature of what was sent.
    raw = json.dumps(notification("grant.expired", grant)).encode()
    headers = {**signed_headers(raw), "Content-Encoding": "gzip"}
    assert await post(hooked, gzip.compress(raw), headers) == 401


async def test_a_compression_bomb_is_refused_without_work(hooked: RunningBot) -> None:
    bomb = gzip.compress(b'{"id": "' + b"a" * (8 * 1024**2) + b'"}')
    headers = {**signed_headers(bomb), "Content-Encoding": "gzip"}
    assert await post(hooked, bomb, headers) == 413
    assert await inbox_rows(hooked) == []


async def test_bad_missing_and_stale_signatures_get_401_and_no_work(
    hooked: RunningBot, nylas: FakeNylas
) -> None:
    grant = nylas.add_grant("ann@acme.com")
    body = json.dumps(notification("grant.expired", grant)).encode()
    stale = json.dumps(notification("grant.expired", grant, at=time.time() - 7200)).encode()
    assert await post(hooked, body, signed_headers(body, "not-the-secret")) == 401
    assert await post(hooked, body, {"Content-Type": "application/json"}) == 401
    assert await post(hooked, stale, signed_headers(stale)) == 401
    tampered = body.replace(b"ann@acme.com", b"eve@acme.com")
    assert await post(hooked, tampered, signed_headers(body)) == 401
    garbled = {**signed_headers(body), "X-Nylas-Signature": "é" * 64}  # not even hex
    assert await post(hooked, body, garbled) == 401
    await hooked.deps.alerts.publish_due()
    assert await inbox_rows(hooked) == []
    assert await audit_events(hooked, "nylas.grant.expired") == []
    # One security event at once; the rest of the minute are counted into one more at its end.
    first = (await audit_events(hooked, "webhook.rejected"))[0]
    assert json.loads(first.details)["reason"] == "bad signature"
    assert hooked.deps.webhooks is not None
    await hooked.deps.webhooks.rejections.flush(everything=True)
    reasons = rejected_reasons(await audit_events(hooked, "webhook.rejected"))
    assert reasons == {"bad signature": 3, "no signature": 1, "stale notification": 1}


def rejected_reasons(events: list[AuditEvent]) -> Counter[str]:
    """Every rejection the events account for: one each, or a minute's count by reason."""
    reasons: Counter[str] = Counter()
    for event in events:
        details = json.loads(event.details)
        reasons.update(details.get("reasons") or {details["reason"]: 1})
    return reasons


async def test_a_flood_of_forgeries_writes_two_audit_events_not_thousands(
    hooked: RunningBot,
) -> None:
    body = b'{"id": "forged"}'
    for _ in range(300):
        assert await post(hooked, body, signed_headers(body, "guess")) == 401
    assert hooked.deps.webhooks is not None
    await hooked.deps.webhooks.rejections.flush(everything=True)
    events = await audit_events(hooked, "webhook.rejected")
    assert len(events) <= 4  # two per clock minute: the flood may straddle one
    assert rejected_reasons(events) == {"bad signature": 300}


async def test_the_challenge_is_echoed_as_plain_text(hooked: RunningBot) -> None:
    async with hooked.http.get(f"{hooked.url}{PATH}", params={"challenge": "abc-123"}) as answer:
        assert answer.status == 200
        assert answer.content_type == "text/plain"
        assert await answer.text() == "abc-123"


async def test_without_a_secret_notifications_get_404_and_only_the_challenge_is_answered(
    make_settings: SettingsFactory,
) -> None:
    """Nylas checks the URL before it reveals the secret, so the challenge is answered anyway."""
    async with run_bot(make_settings()) as bot:
        body = b"{}"
        assert await post(bot, body, signed_headers(body)) == 404
        async with bot.http.get(f"{bot.url}{PATH}", params={"challenge": "x"}) as answer:
            assert (answer.status, await answer.text()) == (200, "x")
        async with bot.deps.sessions() as session:
            count = (await session.exec(text("SELECT count(*) FROM webhook_inbox"))).one()
        assert count[0] == 0


async def test_answers_arrive_after_the_notification_is_stored(
    hooked: RunningBot, nylas: FakeNylas
) -> None:
    grant = nylas.add_grant("ann@acme.com")
    async with aiohttp.ClientSession() as http:
        delivery = await nylas.notify("grant.deleted", grant, http=http)
    assert delivery.accepted
    assert [row.notification_id for row in await inbox_rows(hooked)] == [delivery.notification_id]


async def test_audit_by_credential_shows_what_nylas_reported(
    hooked: RunningBot, nylas: FakeNylas, slack: FakeSlack
) -> None:
    acme = await granted_by_run(hooked.deps.sessions, nylas, name="acme.com", count=2)
    assert (await nylas.notify("grant.expired", acme.grants[0])).accepted
    await inbox_settled(hooked)
    answer = await ask(hooked, slack, "acme.com")
    [line] = [text for text in event_texts(answer) if "Nylas" in text]
    assert "reported an expired grant of" in line and acme.grants[0]["email"] in line
