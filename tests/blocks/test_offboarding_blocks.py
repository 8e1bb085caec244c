"""The offboarding builders as plain functions: the revoke modal (and its undo variant), the
revocation plan, the undo button on a run's summary, the credential-deletion form."""

from __future__ import annotations

from collections import Counter

from bot.blocks.metadata import DeletionRef, RevokeOrigin
from bot.ids import ALL_CREDENTIALS_OPTION, ActionId, BlockId
from bot.nylas.models import Grant
from bot.offboarding.messages import build_deletion_form
from bot.offboarding.modals import build_revoke_modal
from bot.runs.emails import fold
from bot.runs.messages import build_summary
from bot.runs.plan import GrantRequest, make_plan, plan_summary
from storage.models import BulkRun, ItemStatus, RequestKind, RunStatus
from tests.blocks.payloads import (
    HOSTILE,
    assert_escaped,
    buttons,
    inputs,
    message_payload,
    shown,
    view_payload,
)
from tests.records import credential_record


def credential(name: str = "acme.com"):  # type: ignore[no-untyped-def]
    record = credential_record(name)
    record.id = 7
    return record


def test_the_revoke_modal_says_deletion_is_permanent_and_asks_for_users_and_a_reason() -> None:
    payload = view_payload(build_revoke_modal([credential()], None, RevokeOrigin()))
    text = shown(payload)
    assert "permanent" in text and "re-authentication" in text
    fields = inputs(payload)
    assert set(fields) == {
        BlockId.REVOKE_CREDENTIAL,
        BlockId.GRANTS_USERS_TEXT,
        BlockId.GRANTS_USERS_FILE,
        BlockId.GRANTS_REASON,
    }
    assert not fields[BlockId.GRANTS_REASON].get("optional")  # the reason is required


def test_undoing_a_run_names_its_users_instead_of_asking_and_escapes_the_name() -> None:
    hostile = credential(HOSTILE)
    origin = RevokeOrigin(undo_run_id=12)
    payload = view_payload(build_revoke_modal([hostile], hostile, origin, undo_users=3))
    assert set(inputs(payload)) == {BlockId.GRANTS_REASON}
    assert "the 3 users whose grants run 12 created" in shown(payload)
    assert_escaped(payload)


def test_the_revocation_plan_counts_who_has_a_grant_of_this_credential_only() -> None:
    record = credential()
    grants = [
        Grant(
            id="g1", provider="google", email="a@acme.com", credential_id=record.nylas_credential_id
        ),
        Grant(id="g2", provider="google", email="b@acme.com", credential_id="another"),
    ]
    request = GrantRequest(
        credential=record,
        candidates=("a@acme.com", "b@acme.com", "c@acme.com"),
        scopes=(),
        skip_existing=False,
        kind=RequestKind.REVOKE,
    )
    plan = make_plan(request, fold(request.candidates), grants)
    assert plan.calls == 1
    assert list(plan.items()) == [
        ("a@acme.com", ItemStatus.PENDING, "g1"),
        ("b@acme.com", ItemStatus.SKIPPED, None),
        ("c@acme.com", ItemStatus.SKIPPED, None),
    ]


def ended(kind: RequestKind, status: RunStatus = RunStatus.FINISHED) -> BulkRun:
    run = BulkRun(
        id=3, credential_id=7, provider="google", requested_by="U1", requested_by_name="A"
    )
    run.kind, run.status = kind, status
    return run


def test_only_an_ended_grant_run_that_created_grants_offers_undo_and_slack_asks_first() -> None:
    made = Counter({ItemStatus.CREATED: 2, ItemStatus.REAUTHENTICATED: 1})
    undo = buttons(message_payload(build_summary(ended(RequestKind.GRANT), made, Counter())))
    assert undo[ActionId.UNDO_RUN]["text"]["text"] == "Revoke the grants this run created"
    assert "2 grants this run created" in undo[ActionId.UNDO_RUN]["confirm"]["text"]["text"]
    none_made = Counter({ItemStatus.REAUTHENTICATED: 3})
    for run, counts in (
        (ended(RequestKind.GRANT), none_made),
        (ended(RequestKind.REVOKE), Counter({ItemStatus.REVOKED: 2})),
    ):
        payload = message_payload(build_summary(run, counts, Counter()))
        assert ActionId.UNDO_RUN not in buttons(payload)
    revoked = message_payload(
        build_summary(ended(RequestKind.REVOKE), Counter({ItemStatus.REVOKED: 2}), Counter())
    )
    assert "revoked 2" in shown(revoked)


def test_the_deletion_form_shows_what_depends_on_it_and_asks_for_the_name() -> None:
    hostile = credential(HOSTILE)
    ref = DeletionRef(credential_id=7, at_nylas=1204, by_bot=1100)
    payload = view_payload(build_deletion_form(hostile, ref))
    assert "1,204 grants* at Nylas use it" in shown(payload)
    assert "gave 1,100 mailboxes" in shown(payload)
    assert set(inputs(payload)) == {BlockId.CONFIRM_NAME, BlockId.DELETE_REASON}
    assert_escaped(payload)


def test_all_credentials_is_the_revoke_modals_first_choice() -> None:
    payload = view_payload(build_revoke_modal([credential()], None, RevokeOrigin()))
    options = inputs(payload)[BlockId.REVOKE_CREDENTIAL]["element"]["options"]
    assert [o["text"]["text"] for o in options] == ["All credentials", "acme.com (Google)"]
    assert options[0]["value"] == ALL_CREDENTIALS_OPTION


def test_a_plan_across_every_credential_counts_per_credential_and_leaves_foreign_grants() -> None:
    google, microsoft = credential(), credential_record("contoso.com", "microsoft", tenant="t")
    microsoft.id = 8
    grants = [
        Grant(
            id="g1", provider="google", email="A@acme.com", credential_id=google.nylas_credential_id
        ),
        Grant(
            id="m1",
            provider="microsoft",
            email="b@acme.com",
            grant_status="invalid",
            credential_id=microsoft.nylas_credential_id,
        ),
        Grant(id="x1", provider="google", email="c@acme.com", credential_id="not the bot's"),
        Grant(
            id="g9", provider="google", email="z@acme.com", credential_id=google.nylas_credential_id
        ),
    ]
    request = GrantRequest(
        credential=None,
        candidates=("a@acme.com", "b@acme.com", "c@acme.com", HOSTILE),
        scopes=(),
        skip_existing=False,
        kind=RequestKind.REVOKE,
        across=(google, microsoft),
    )
    plan = make_plan(request, fold(request.candidates), grants)
    assert plan.all_credentials and plan.calls == 2
    assert list(plan.items()) == [
        ("a@acme.com", ItemStatus.PENDING, "g1", google.nylas_credential_id),
        ("b@acme.com", ItemStatus.PENDING, "m1", microsoft.nylas_credential_id),
        ("c@acme.com", ItemStatus.SKIPPED, None, ""),  # its grant is not a credential of the bot's
    ]
    text = plan_summary(plan, rate=10)
    assert "*All credentials*: *revoke every grant of these users*" in text
    assert "*acme.com (Google)*: 1 grants will be deleted\n" in text
    assert "*contoso.com (Microsoft)*: 1 grants will be deleted (1 of them already invalid)" in text
    assert "1 have no grant of any credential" in text and "2 DELETE calls" in text
