"""The App Home (allowed users and the refusal) and the `/bulkauth status` answer."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.blocks.metadata import CredentialRef
from bot.home.dashboard import CredentialSummary, HomeSnapshot, OpenConsent, RunLine, StatusReport
from bot.home.status import MORE_RUNS, build_status_message, run_line, secret_line
from bot.home.views import CREDENTIALS_PER_PROVIDER, build_home_refusal_view, build_home_view
from bot.ids import ActionId, CommandName
from bot.slack.access import REFUSAL
from storage.audit import AuditAction
from storage.models import (
    AuditEvent,
    BulkRun,
    ConsentRequest,
    ConsentStatus,
    CredentialRecord,
    RunStatus,
)
from tests.blocks.payloads import (
    HOSTILE,
    assert_escaped,
    buttons,
    buttons_in_order,
    headers,
    message_payload,
    section_texts,
    shown,
    view_payload,
)

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def record(index: int, provider: str = "microsoft", **changes: object) -> CredentialRecord:
    values: dict[str, object] = {
        "id": index,
        "nylas_credential_id": f"{index:08d}-1234-abcd-1234-1234567890ab",
        "provider": provider,
        "credential_type": "serviceaccount" if provider == "google" else "adminconsent",
        "name": f"customer-{index}",
        "client_email": f"bulk@c{index}.iam.gserviceaccount.com" if provider == "google" else None,
        "tenant": None if provider == "google" else f"c{index}.com",
        "registered_by": "U0ADA",
        "registered_by_name": "ada",
    }
    values.update(changes)
    return CredentialRecord(**values)  # type: ignore[arg-type]


def consent(status: ConsentStatus, **changes: object) -> ConsentRequest:
    values: dict[str, object] = {
        "id": 1,
        "credential_id": 1,
        "status": status,
        "state_hash": "h" * 64,
        "requested_by": "U0ADA",
        "requested_by_name": "ada",
        "channel_id": "C0CONSENT",
        "created_at": NOW - timedelta(minutes=30),
        "expires_at": NOW + timedelta(hours=1),
    }
    values.update(changes)
    return ConsentRequest(**values)  # type: ignore[arg-type]


def run(run_id: int, status: RunStatus, **changes: object) -> RunLine:
    values: dict[str, object] = {
        "id": run_id,
        "credential_id": 1,
        "provider": "google",
        "status": status,
        "requested_by": "U0ADA",
        "requested_by_name": "ada",
        "total": 200,
        "created_at": NOW - timedelta(hours=1),
    }
    values.update(changes)
    counts = Counter(created=90, reauthenticated=5, skipped=3, failed=2)
    return RunLine(run=BulkRun(**values), credential_name="acme", counts=counts)  # type: ignore[arg-type]


def snapshot(**changes: object) -> HomeSnapshot:
    values: dict[str, object] = {
        "now": NOW,
        "credentials": [],
        "active_runs": [],
        "events": [],
        "credential_names": {},
    }
    values.update(changes)
    return HomeSnapshot(**values)  # type: ignore[arg-type]


def _credential_sections(payload: dict[str, object]) -> dict[str, dict[str, object]]:
    """Credential sections (those with a button accessory) by the credential's row id."""
    return {
        str(CredentialRef.parse(block["accessory"]["value"]).credential_id): block
        for block in payload["blocks"]  # type: ignore[attr-defined]
        if block["type"] == "section" and "accessory" in block
    }


def test_empty_home_offers_the_four_next_steps() -> None:
    payload = view_payload(build_home_view(snapshot(), tz=LONDON))
    assert payload["type"] == "home"
    assert [button["action_id"] for button in buttons_in_order(payload)] == [
        ActionId.OPEN_GOOGLE_CREDENTIAL_MODAL,
        ActionId.OPEN_MICROSOFT_CREDENTIAL_MODAL,
        ActionId.OPEN_CONSENT_MODAL,
        ActionId.OPEN_GRANTS_MODAL,
    ]
    found = buttons(payload)
    assert found[ActionId.OPEN_GOOGLE_CREDENTIAL_MODAL]["value"] == "google"
    assert found[ActionId.OPEN_MICROSOFT_CREDENTIAL_MODAL]["value"] == "microsoft"
    assert CredentialRef.parse(found[ActionId.OPEN_GRANTS_MODAL]["value"]).credential_id is None
    assert headers(payload) == [
        "bulkauth",
        "Google credentials (0)",
        "Microsoft credentials (0)",
        "Active runs (0)",
        "Latest activity",
    ]
    text = shown(payload)
    assert "_No Google credential yet._" in text and "_No Microsoft credential yet._" in text
    assert "_No run is awaiting approval, waiting or running._" in text
    assert "_Nothing has happened yet._" in text
    assert "event times in Europe/London" in text


def test_home_credential_sections_offer_the_next_step_for_each() -> None:
    soon = NOW + timedelta(minutes=3)
    summaries = [
        CredentialSummary(record(1, "google"), None, grants=1),
        CredentialSummary(record(2, secret_expires_on=date(2026, 4, 1)), None, grants=0),
        CredentialSummary(record(3), consent(ConsentStatus.PENDING), grants=0),
        CredentialSummary(
            record(4), consent(ConsentStatus.PENDING, expires_at=NOW - timedelta(1)), 0
        ),
        CredentialSummary(record(5), consent(ConsentStatus.CONSENTED, ready_at=soon), 0),
        CredentialSummary(record(6), consent(ConsentStatus.CONSENTED, ready_at=NOW), 1234),
        CredentialSummary(record(7), consent(ConsentStatus.FAILED), 0),
    ]
    payload = view_payload(build_home_view(snapshot(credentials=summaries), tz=LONDON))
    sections = _credential_sections(payload)
    action = {key: block["accessory"]["action_id"] for key, block in sections.items()}
    assert action == {
        "1": ActionId.OPEN_GRANTS_MODAL,
        "2": ActionId.OPEN_CONSENT_MODAL,
        "3": ActionId.OPEN_CONSENT_MODAL,
        "4": ActionId.OPEN_CONSENT_MODAL,
        "5": ActionId.OPEN_GRANTS_MODAL,
        "6": ActionId.OPEN_GRANTS_MODAL,
        "7": ActionId.OPEN_CONSENT_MODAL,
    }
    text = {key: block["text"]["text"] for key, block in sections.items()}
    assert text["1"] == ("*customer-1* · `bulk@c1.iam.gserviceaccount.com` · 1 grant from runs")
    assert "tenant `c2.com` · consent not requested · 0 grants" in text["2"]
    assert text["2"].endswith("secret expires 2026-04-01")
    assert "waiting for the admin" in text["3"]
    assert "consent link expired unanswered" in text["4"]
    assert f"propagating until <!date^{int(soon.timestamp())}^" in text["5"]
    assert "consented :white_check_mark: · 1,234 grants from runs" in text["6"]
    assert "consent failed" in text["7"]
    assert "Google credentials (1)" in headers(payload)
    assert "Microsoft credentials (6)" in headers(payload)


def test_home_cuts_long_credential_lists_and_stays_within_view_limits() -> None:
    summaries = [
        CredentialSummary(record(index, provider, name=HOSTILE + "x" * 200), None, 0)
        for first, provider in ((1, "google"), (101, "microsoft"))
        for index in range(first, first + 40)
    ]
    runs = [run(index, RunStatus.RUNNING) for index in range(1, 31)]
    payload = view_payload(
        build_home_view(snapshot(credentials=summaries, active_runs=runs), tz=LONDON)
    )
    assert len(_credential_sections(payload)) == 2 * CREDENTIALS_PER_PROVIDER
    text = shown(payload)
    assert f"…and 25 more: `{CommandName.BULKAUTH} credentials google` lists them all." in text
    assert f"…and 25 more: `{CommandName.BULKAUTH} credentials microsoft` lists them all." in text
    assert f"…and 10 more: `{CommandName.BULKAUTH} status`" in text
    assert "Active runs (30)" in headers(payload)
    assert_escaped(payload, expected=2 * CREDENTIALS_PER_PROVIDER)


def test_home_shows_active_runs_and_latest_events() -> None:
    events = [
        AuditEvent(
            seq=seq,
            occurred_at=NOW,
            actor_id="U0ADA",
            actor_name="ada",
            action=AuditAction.RUN_REQUESTED,
            run_id=seq,
            prev_hash="0" * 64,
            hash="1" * 64,
        )
        for seq in (2, 1)
    ]
    home = snapshot(active_runs=[run(7, RunStatus.AWAITING_APPROVAL)], events=events)
    text = shown(view_payload(build_home_view(home, tz=LONDON)))
    assert "*Run 7* · acme · 200 users · requested by <@U0ADA>" in text
    assert "`2026-03-02 14:00 GMT` · <@U0ADA> requested run 2\n" in text
    assert text.index("requested run 2") < text.index("requested run 1")


def test_refusal_home_says_who_to_ask_and_offers_nothing() -> None:
    payload = view_payload(build_home_refusal_view())
    assert payload["type"] == "home"
    assert buttons(payload) == {}
    assert REFUSAL in shown(payload)
    assert "BULKAUTH_ADMINS" in shown(payload)


@pytest.mark.parametrize(
    ("status", "changes", "expected"),
    [
        (RunStatus.AWAITING_APPROVAL, {}, "· 200 users · requested by <@U0ADA> <!date^"),
        (RunStatus.RUNNING, {}, f"· `{'█' * 10}{'░' * 10}` 100/200 (50%) · requested by <@U0ADA>"),
        (RunStatus.APPROVED, {}, "100/200 (starting) · requested by <@U0ADA>"),
        (RunStatus.WAITING_FOR_CONSENT, {"start_after": NOW}, "· 200 users · ready at <!date^"),
        (RunStatus.WAITING_FOR_CONSENT, {}, "· 200 users · waiting · requested by <@U0ADA>"),
        (
            RunStatus.REJECTED,
            {"approved_by": "U0BOSS", "decided_at": NOW},
            "· rejected by <@U0BOSS> <!date^",
        ),
        (
            RunStatus.FINISHED,
            {"finished_at": NOW},
            "created 90 · re-authenticated 5 · skipped 3 · failed 2",
        ),
        (RunStatus.CANCELLED, {"finished_at": NOW}, "· cancelled <!date^"),
    ],
)
def test_run_line_says_what_matters_in_each_state(
    status: RunStatus, changes: dict[str, object], expected: str
) -> None:
    line = run_line(run(7, status, **changes))
    assert line.startswith("*Run 7* · acme ")
    assert expected in line


def test_run_line_escapes_the_credential_name() -> None:
    line = run_line(RunLine(run(1, RunStatus.RUNNING).run, HOSTILE, Counter()))
    assert "&lt;!channel&gt;" in line and "<!channel>" not in line


@pytest.mark.parametrize(
    ("expires", "expected"),
    [
        (date(2026, 2, 28), "expired 2 days ago"),
        (date(2026, 3, 1), "expired 1 day ago"),
        (date(2026, 3, 2), "expires today"),
        (date(2026, 3, 3), "expires in 1 day"),
        (date(2026, 3, 30), "expires in 28 days"),
    ],
)
def test_secret_line_counts_days_to_expiry(expires: date, expected: str) -> None:
    report = StatusReport(now=NOW, runs=[], consents=[], expiring=[])
    line = secret_line(record(1, secret_expires_on=expires, tenant="c1.com"), report)
    assert line == f"*customer-1* · tenant `c1.com` · {expires:%Y-%m-%d}: {expected}"


def test_empty_status_says_so_in_each_section() -> None:
    payload = message_payload(build_status_message(StatusReport(NOW, [], [], [])))
    assert payload["text"] == (
        "bulkauth status: 0 awaiting approval, 0 running, 0 consent requests open"
    )
    assert section_texts(payload) == [
        ":raised_hand: *Awaiting approval* (0)\n_No run awaits approval._",
        ":arrow_forward: *Running* (0)\n_No run is running._",
        ":stopwatch: *Waiting for consent propagation* (0)\n_No run is waiting for consent._",
        ":checkered_flag: *Ended in the last 7 days* (0)\n_No run ended in the last 7 days._",
        ":email: *Consent requests open* (0)\n"
        "_No consent link is waiting for an admin, and none is propagating._",
        ":key: *Microsoft client secrets expiring within 30 days* (0)\n_None._",
    ]
    assert f"`{CommandName.BULKAUTH} audit`" in shown(payload)


def test_status_sorts_runs_by_state_and_lists_consents_and_secrets() -> None:
    runs = [
        run(1, RunStatus.AWAITING_APPROVAL),
        run(2, RunStatus.RUNNING),
        run(3, RunStatus.APPROVED),
        run(4, RunStatus.WAITING_FOR_CONSENT),
        run(5, RunStatus.FINISHED, finished_at=NOW),
        run(6, RunStatus.REJECTED, approved_by="U0BOSS"),
        run(7, RunStatus.CANCELLED),
    ]
    consents = [
        OpenConsent(consent(ConsentStatus.PENDING), HOSTILE),
        OpenConsent(consent(ConsentStatus.CONSENTED, ready_at=NOW), "fabrikam"),
    ]
    expiring = [record(9, secret_expires_on=date(2026, 3, 10), name=HOSTILE, tenant=HOSTILE)]
    payload = message_payload(build_status_message(StatusReport(NOW, runs, consents, expiring)))
    sections = section_texts(payload)

    def runs_in(section: str) -> list[str]:
        return [line.split(" · ")[0] for line in section.split("\n")[1:]]

    assert runs_in(sections[0]) == ["*Run 1*"]
    assert runs_in(sections[1]) == ["*Run 2*", "*Run 3*"]
    assert runs_in(sections[2]) == ["*Run 4*"]
    assert runs_in(sections[3]) == ["*Run 5*", "*Run 6*", "*Run 7*"]
    assert "link sent by <@U0ADA>" in sections[4] and "· expires <!date^" in sections[4]
    assert "*fabrikam* · consented, propagating: ready at <!date^" in sections[4]
    assert "expires in 8 days" in sections[5]
    assert payload["text"].endswith("1 awaiting approval, 2 running, 2 consent requests open")
    assert_escaped(payload, expected=3)  # a consent's credential, a secret's name and tenant


def test_status_cuts_each_section_to_slack_limits_and_says_how_many_more() -> None:
    runs = [
        RunLine(run(index, RunStatus.AWAITING_APPROVAL).run, "&" * 120, Counter())
        for index in range(1, 101)
    ]
    consents = [OpenConsent(consent(ConsentStatus.PENDING), "<" * 120) for _ in range(60)]
    expiring = [
        record(index, secret_expires_on=date(2026, 3, 10), name="&" * 120, tenant="&" * 255)
        for index in range(45)
    ]
    payload = message_payload(build_status_message(StatusReport(NOW, runs, consents, expiring)))
    sections = section_texts(payload)
    assert sections[0].startswith(":raised_hand: *Awaiting approval* (100)\n")
    assert sections[0].split("\n")[-1].startswith("…and ")
    assert sections[0].endswith(f"more{MORE_RUNS}")
    shown_runs = len(sections[0].split("\n")) - 2
    assert f"…and {100 - shown_runs} more" in sections[0]
    assert sections[4].split("\n")[-1].startswith("…and ")
    assert sections[5].split("\n")[-1].startswith("…and ")
