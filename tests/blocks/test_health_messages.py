"""Grant health's Block Kit builders as plain functions: `/bulkauth health`, the alert, the
re-authentication plan, the likely causes, and the kind's words in run messages."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

from bot.blocks.metadata import CredentialRef, PlanRef
from bot.health.causes import likely_cause
from bot.health.checking import CredentialHealth
from bot.health.messages import MAX_CREDENTIALS_SHOWN, build_health_message
from bot.health.reauth import choose_scopes, selected
from bot.health.reauth_views import build_reauth_plan_view
from bot.ids import ActionId, BlockId, CallbackId
from bot.nylas.models import Grant
from bot.runs.emails import fold
from bot.runs.messages import build_progress, build_summary
from bot.runs.plan import GrantRequest, make_plan
from bot.runs.results import preamble
from storage.models import BulkRun, RequestKind
from tests.block_kit import buttons, checked_message, checked_view, texts
from tests.records import credential_record

TODAY = date(2026, 11, 30)
NOV_20 = 1_795_132_800  # 2026-11-20 00:00 UTC


def grant(email: str, *, scope: tuple[str, ...] = (), updated_at: int = NOV_20) -> Grant:
    return Grant(
        id=f"g-{email}",
        provider="google",
        email=email,
        grant_status="invalid",
        scope=list(scope),
        updated_at=updated_at,
    )


def health(name: str, valid: int, invalid: int, *, provider: str = "google") -> CredentialHealth:
    credential = credential_record(name, provider)
    credential.id = abs(hash(name)) % 10_000 + 1
    grants = tuple(grant(f"u{index}@{name}") for index in range(min(invalid, 5)))
    return CredentialHealth(credential, valid=valid, invalid=invalid, newest_invalid=grants)


def test_health_lists_the_worst_first_with_causes_and_one_button_each() -> None:
    message = build_health_message(
        [health("fine.example", 10, 0), health("acme.com", 940, 60)], today=TODAY
    )
    blocks = checked_message(message)
    shown = texts(blocks)
    assert message.text == ":warning: 60 invalid grants across 2 credentials."
    assert shown.index("*acme.com* (Google): 940 valid · 60 invalid") < shown.index(
        "*fine.example* (Google): 10 valid · 0 invalid"
    )
    assert "`u0@acme.com`: Nylas marked it invalid on 2026-11-20" in shown
    [button] = buttons(blocks).values()  # none for a credential without invalid grants
    assert button["text"]["text"] == "Re-authenticate 60 invalid grants"
    assert button["action_id"] == ActionId.REAUTHENTICATE_INVALID
    assert CredentialRef.parse(button["value"]).credential_id is not None


def test_health_stays_within_slacks_block_limit_and_escapes_names() -> None:
    many = [health(f"<!channel> {index}", 1, 3) for index in range(MAX_CREDENTIALS_SHOWN + 5)]
    blocks = checked_message(build_health_message(many, today=TODAY))
    assert len(blocks) <= 50
    assert "<!channel>" not in texts(blocks) and "&lt;!channel&gt;" in texts(blocks)
    assert "…and 5 more credentials" in texts(blocks)


def test_the_likely_cause_names_an_expired_secret_or_what_usually_breaks_grants() -> None:
    expired = credential_record("contoso", "microsoft", secret_expires_on=date(2026, 11, 19))
    later = credential_record("contoso", "microsoft", secret_expires_on=date(2027, 1, 1))
    google = credential_record("acme", "google")
    assert "client secret expired on 2026-11-19" in likely_cause(expired, grant("a@x"), today=TODAY)
    assert "marked it invalid on 2026-11-20" in likely_cause(later, grant("a@x"), today=TODAY)
    assert "domain-wide delegation" in likely_cause(google, grant("a@x"), today=TODAY)


def reauth_plan(grants: list[Grant]):  # type: ignore[no-untyped-def]
    credential = credential_record("acme.com")
    credential.id = 7
    emails = [g.email or "" for g in grants]
    request = GrantRequest(
        credential=credential,
        candidates=tuple(emails),
        scopes=("s1",),
        skip_existing=True,
        kind=RequestKind.REAUTHENTICATE,
    )
    return make_plan(request, fold(emails), grants)


def test_the_reauth_plan_asks_for_a_reason_and_submits_for_approval() -> None:
    plan = reauth_plan([grant(f"u{index}@acme.com") for index in range(12)])
    assert plan.kind == RequestKind.REAUTHENTICATE and plan.calls == 12 and not plan.new
    view = checked_view(
        build_reauth_plan_view(plan, rate=40, token="tok", approval_channel="C0APPROVALS")
    )
    assert view["callback_id"] == CallbackId.REAUTH_PLAN
    assert view["submit"]["text"] == "Request approval"
    assert PlanRef.parse(view["private_metadata"]).token == "tok"
    assert any(block.get("block_id") == BlockId.REAUTH_REASON for block in view["blocks"])
    shown = texts(view["blocks"])
    assert "12 invalid grants: re-authenticated" in shown and "and 2 more" in shown


def test_scopes_come_from_the_grants_most_common_set_else_the_last_run() -> None:
    grants = [
        grant("a@x", scope=("b", "a")),
        grant("b@x", scope=("a", "b")),
        grant("c@x", scope=("c",)),
    ]
    assert choose_scopes(grants, ("z",)) == (("a", "b"), 1)
    assert choose_scopes([grant("d@x")], ("z",)) == (("z",), 0)
    assert [g.email for g in selected(grants, ["G-B@X", "c@x"])] == ["b@x", "c@x"]


def test_run_messages_and_the_csv_name_a_reauthentication() -> None:
    run = BulkRun(
        id=12,
        credential_id=7,
        provider="google",
        requested_by="U1",
        requested_by_name="Ann",
        kind=RequestKind.REAUTHENTICATE,
        credential_name="acme.com",
        total=3,
        status="finished",
    )
    assert "*Re-authentication run 12*" in json.dumps(
        build_progress(run, Counter(), rate=None, eta_seconds=None, state="starting").as_kwargs()
    )
    assert (
        build_summary(run, Counter(), Counter()).text
        == ":checkered_flag: Re-authentication run 12 finished."
    )
    assert preamble(run, [])[0] == "# bulkauth run 12 · re-authentication · credential acme.com"
