"""The dry-run plan as a plain function: who is new, who has a valid or an invalid grant, what
is skipped, and what the run will cost."""

from __future__ import annotations

import dataclasses

import pytest

from bot.nylas.models import Grant
from bot.runs.emails import fold
from bot.runs.plan import GrantRequest, make_plan
from storage.models import CredentialRecord, ItemStatus

CREDENTIAL = CredentialRecord(
    id=3,
    nylas_credential_id="cred-abc",
    provider="google",
    credential_type="serviceaccount",
    name="Acme Google",
    registered_by="U1",
    registered_by_name="Ann",
)


def request(*, skip_existing: bool = True) -> GrantRequest:
    return GrantRequest(
        credential=CREDENTIAL,
        candidates=(),
        scopes=("https://www.googleapis.com/auth/calendar",),
        skip_existing=skip_existing,
    )


def grant(email: str, grant_id: str, status: str = "valid") -> Grant:
    return Grant.model_validate(
        {"id": grant_id, "provider": "google", "email": email, "grant_status": status}
    )


EXISTING = [
    grant("Valid@Acme.com", "g-valid"),  # Nylas may keep the address as the user typed it
    grant("broken@acme.com", "g-broken", "invalid"),
    grant("elsewhere@other.com", "g-other"),  # not in the list: ignored
]
USERS = "new@acme.com valid@acme.com broken@acme.com"


def test_users_are_sorted_by_what_nylas_already_has() -> None:
    plan = make_plan(request(), fold(USERS.split()), EXISTING)
    assert plan.new == ("new@acme.com",)
    assert dict(plan.existing_valid) == {"valid@acme.com": "g-valid"}
    assert dict(plan.existing_invalid) == {"broken@acme.com": "g-broken"}
    assert (plan.credential_id, plan.nylas_credential_id, plan.provider) == (
        3,
        "cred-abc",
        "google",
    )
    assert plan.scopes == ("https://www.googleapis.com/auth/calendar",)


def test_valid_grants_are_skipped_by_default_and_cost_no_call() -> None:
    plan = make_plan(request(), fold(USERS.split()), EXISTING)
    assert plan.calls == 2  # the new user and the invalid grant
    assert list(plan.items()) == [
        ("new@acme.com", ItemStatus.PENDING, None),
        ("valid@acme.com", ItemStatus.SKIPPED, "g-valid"),
        ("broken@acme.com", ItemStatus.PENDING, "g-broken"),
    ]


def test_without_skip_existing_valid_grants_are_re_authenticated() -> None:
    plan = make_plan(request(skip_existing=False), fold(USERS.split()), EXISTING)
    assert plan.calls == 3
    assert ("valid@acme.com", ItemStatus.PENDING, "g-valid") in list(plan.items())


def test_duplicates_and_invalid_addresses_cost_nothing() -> None:
    users = fold(["a@acme.com", "A@acme.com", "not an address", "b@acme.com"])
    plan = make_plan(request(), users, [])
    assert plan.new == ("a@acme.com", "b@acme.com")
    assert (plan.users.duplicates, plan.users.invalid) == (1, ["not an address"])
    assert plan.calls == 2
    assert [email for email, _status, _grant in plan.items()] == ["a@acme.com", "b@acme.com"]


def test_duration_follows_the_calls_and_the_rate() -> None:
    plan = make_plan(request(), fold([f"u{n}@acme.com" for n in range(50)]), [])
    assert plan.estimated_seconds(10.0) == pytest.approx(5.0)


def test_the_plan_is_built_once_and_frozen() -> None:
    plan = make_plan(request(), fold(USERS.split()), EXISTING)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.skip_existing = False  # type: ignore[misc]
