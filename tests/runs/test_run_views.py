"""The runs domain's Block Kit builders as plain functions: each output is checked by
slack_sdk's models (tests/block_kit.py) and compared on the facts a person acts on."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from bot.blocks.metadata import ModalOrigin, PlanRef, RunRef
from bot.ids import ActionId, CallbackId
from bot.nylas.models import Grant
from bot.runs.emails import fold
from bot.runs.messages import (
    approval_outcome,
    build_approval_request,
    build_decided_request,
    build_progress,
    build_summary,
    progress_bar,
    request_text,
)
from bot.runs.modals import (
    build_grants_modal,
    build_plan_view,
    build_planning_view,
    build_reject_reason_modal,
)
from bot.runs.plan import GrantRequest, Plan, make_plan
from storage.models import BulkRun, CredentialRecord, RunStatus
from tests.block_kit import buttons, checked_message, checked_view, texts


def credential(provider: str, name: str = "Acme") -> CredentialRecord:
    return CredentialRecord(
        id=3 if provider == "google" else 4,
        nylas_credential_id=f"cred-{provider}",
        provider=provider,
        credential_type="serviceaccount" if provider == "google" else "adminconsent",
        name=name,
        registered_by="U1",
        registered_by_name="Ann",
    )


def a_plan(*, skip_existing: bool = True, invalid: int = 0, name: str = "Acme") -> Plan:
    request = GrantRequest(
        credential=credential("google", name),
        candidates=(),
        scopes=("https://www.googleapis.com/auth/calendar",),
        skip_existing=skip_existing,
    )
    given = ["new@acme.com", "valid@acme.com", "broken@acme.com", "NEW@acme.com"]
    given += [f"bad{n}" for n in range(invalid)]
    existing = [
        Grant(id="g1", provider="google", email="valid@acme.com", grant_status="valid"),
        Grant(id="g2", provider="google", email="broken@acme.com", grant_status="invalid"),
    ]
    return make_plan(request, fold(given), existing)


def a_run(status: RunStatus = RunStatus.RUNNING, total: int = 10) -> BulkRun:
    return BulkRun(
        id=7,
        credential_id=3,
        provider="google",
        requested_by="U1",
        requested_by_name="Ann",
        total=total,
        status=status,
        credential_name="acme.com",
        reason="Onboarding <!channel> *sales*",
        approvals_required=2,
    )


def test_the_request_modal_asks_for_scopes_only_for_google() -> None:
    origin = ModalOrigin(channel_id="C1")
    google = checked_view(build_grants_modal([credential("google")], credential("google"), origin))
    labels = [block["label"]["text"] for block in google["blocks"]]
    assert labels == [
        "Credential",
        "Users",
        "…or a CSV/TXT file",
        "Scopes",
        "Other scopes",
        "Reason",
        "Options",
    ]
    reason = next(block for block in google["blocks"] if block["label"]["text"] == "Reason")
    assert reason.get("optional") is not True  # every request says why
    assert google["callback_id"] == CallbackId.GRANTS_REQUEST
    assert ModalOrigin.load(google["private_metadata"]).channel_id == "C1"
    microsoft = checked_view(
        build_grants_modal([credential("microsoft")], credential("microsoft"), origin)
    )
    assert "Scopes" not in texts(microsoft["blocks"])
    assert "Start automatically when the consent wait is over" in texts(microsoft["blocks"])


def test_the_planning_view_says_how_many_users_are_checked() -> None:
    view = checked_view(build_planning_view(12_345))
    assert "Checking 12,345 users" in texts(view["blocks"])
    assert "submit" not in view  # nothing to press while it plans


def test_the_plan_view_counts_every_group_and_offers_to_start() -> None:
    view = checked_view(build_plan_view(a_plan(), rate=2.0, token="tok", approval_channel=None))
    shown = texts(view["blocks"])
    assert "4 entries: 3 users, 1 duplicates folded, 0 invalid" in shown
    assert "1 new users" in shown
    assert "1 already have a valid grant: skipped" in shown
    assert "1 have an invalid grant: re-authenticated" in shown
    assert "2 Nylas calls, about 0 min 01 s at 2 per second" in shown
    start = buttons(view["blocks"])["Start run"]
    assert start["action_id"] == ActionId.CONFIRM_PLAN
    assert PlanRef.parse(start["value"]).token == "tok"


def test_with_an_approval_channel_the_plan_asks_for_approval_there() -> None:
    plan = a_plan(skip_existing=False)
    view = checked_view(build_plan_view(plan, rate=2.0, token="t", approval_channel="C9"))
    assert set(buttons(view["blocks"])) == {"Request approval"}
    assert "An approver in <#C9> must approve" in texts(view["blocks"])
    assert "valid grant: re-authenticated" in texts(view["blocks"])


def test_a_plan_with_nothing_to_do_has_no_button() -> None:
    request = GrantRequest(credential("google"), (), (), skip_existing=True)
    existing = [Grant(id="g1", provider="google", email="a@acme.com", grant_status="valid")]
    plan = make_plan(request, fold(["a@acme.com"]), existing)
    view = checked_view(build_plan_view(plan, rate=2.0, token="t", approval_channel=None))
    assert buttons(view["blocks"]) == {}
    assert "nothing to do" in texts(view["blocks"])


def test_names_and_invalid_addresses_are_escaped_and_the_list_is_cut() -> None:
    plan = a_plan(invalid=25, name="<!channel> & co")
    shown = texts(
        checked_view(build_plan_view(plan, rate=1.0, token="t", approval_channel=None))["blocks"]
    )
    assert "&lt;!channel&gt; &amp; co" in shown and "<!channel>" not in shown
    assert "`bad19` and 5 more" in shown and "bad20" not in shown


def test_the_approval_request_offers_approve_reject_and_a_confirmed_cancel() -> None:
    run = a_run(RunStatus.AWAITING_APPROVAL)
    summary = request_text(run, a_plan(), rate=2.0)
    blocks = checked_message(build_approval_request(run, summary, calls=4812))
    assert "<@U1> asks to create grants (run 7)" in texts(blocks)
    assert "*Reason:* Onboarding &lt;!channel&gt; *sales*" in texts(blocks)
    assert "0 of 2 approvals" in texts(blocks)
    offered = buttons(blocks)
    assert [offered[label]["action_id"] for label in offered] == [
        ActionId.APPROVE_RUN,
        ActionId.REJECT_RUN,
        ActionId.CANCEL_RUN,
    ]
    assert {RunRef.parse(button["value"]).run_id for button in offered.values()} == {7}
    confirm = offered["Cancel request"]["confirm"]
    assert confirm["title"]["text"] == "Cancel run 7?"
    assert "request is withdrawn" in confirm["text"]["text"]
    approve = offered["Approve"]["confirm"]
    assert approve["text"]["text"] == "Create 4,812 grants for acme.com?"
    assert offered["Reject"]["confirm"]["confirm"]["text"] == "Reject"


def test_a_partly_approved_request_names_who_approved_escaped() -> None:
    run = a_run(RunStatus.AWAITING_APPROVAL)
    blocks = checked_message(build_approval_request(run, "the plan", calls=3, approvers=["<Ann>"]))
    assert "1 of 2 approvals (&lt;Ann&gt;)" in texts(blocks)
    assert "Approve" in buttons(blocks)


def test_a_decided_request_keeps_its_summary_and_loses_its_buttons() -> None:
    outcome = approval_outcome(
        approved=False, by="U2", at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC), reason="<@U3> *no*"
    )
    blocks = checked_message(build_decided_request(a_run(), "the plan", outcome))
    assert buttons(blocks) == {}
    assert "Rejected by <@U2>" in texts(blocks)
    assert "Reason: &lt;@U3&gt; *no*" in texts(blocks)  # nobody is pinged by a reason


def test_the_reject_reason_modal_carries_the_run() -> None:
    view = checked_view(build_reject_reason_modal(RunRef(run_id=7, channel_id="C9")))
    assert view["callback_id"] == CallbackId.REJECT_REASON
    assert RunRef.parse(view["private_metadata"]).run_id == 7


def test_progress_shows_the_bar_the_counts_and_a_cancel_while_active() -> None:
    counts = Counter({"created": 3, "reauthenticated": 1, "skipped": 1, "failed": 0, "pending": 5})
    blocks = checked_message(
        build_progress(a_run(), counts, rate=2.5, eta_seconds=2.0, state="running")
    )
    shown = texts(blocks)
    assert "*Run 7* · acme.com · 5 / 10 (50 %) · about 0 min 02 s left" in shown
    assert f"`{progress_bar(5, 10)}`" in shown
    assert progress_bar(5, 10) == "█" * 10 + "░" * 10
    assert "created 3 · re-authenticated 1 · skipped 1 · failed 0" in shown
    assert "2.5 per second" in shown
    assert "*Reason:* Onboarding &lt;!channel&gt; *sales*" in shown
    assert "for running" not in shown
    cancel = buttons(blocks)["Cancel"]
    assert "grants already created stay" in cancel["confirm"]["text"]["text"]
    ended = checked_message(
        build_progress(
            a_run(RunStatus.FINISHED), counts, rate=None, eta_seconds=None, state="finished"
        )
    )
    assert buttons(ended) == {}


def test_the_summary_lists_failures_by_reason_most_common_first() -> None:
    counts = Counter({"created": 5, "failed": 4})
    failures = Counter({"a <quota>": 1, "delegation missing": 3})  # not alphabetical
    blocks = checked_message(build_summary(a_run(RunStatus.FINISHED), counts, failures))
    shown = texts(blocks)
    assert shown.index("3 × delegation missing") < shown.index("1 × a &lt;quota&gt;")
    assert "Run 7 finished" in shown and "CSV in this thread" in shown
    assert list(buttons(blocks)) == ["Revoke the grants this run created"]  # it created 5


def test_a_cancelled_summary_counts_who_was_not_sent() -> None:
    counts = Counter({"created": 2, "pending": 3, "in_progress": 1})
    blocks = checked_message(build_summary(a_run(), counts, Counter(), cancelled_by="U2"))
    assert "cancelled by <@U2>" in texts(blocks)
    assert "not sent 4" in texts(blocks)


def test_when_the_csv_failed_the_summary_offers_it_again() -> None:
    blocks = checked_message(
        build_summary(a_run(RunStatus.FINISHED), Counter(), Counter(), csv_sent=False)
    )
    again = buttons(blocks)["Send CSV again"]
    assert again["action_id"] == ActionId.SEND_RUN_CSV
    assert RunRef.parse(again["value"]).run_id == 7
    assert "bulkauth runs csv 7 > run-7.csv" in texts(blocks)


def test_a_progress_message_that_is_not_running_says_its_state() -> None:
    blocks = checked_message(
        build_progress(
            a_run(RunStatus.WAITING_FOR_CONSENT),
            Counter(),
            rate=None,
            eta_seconds=None,
            state="waiting for consent propagation",
        )
    )
    assert "*Run 7* · acme.com · 0 / 10 (0 %) · waiting for consent propagation" in texts(blocks)
