"""The canary's verdict and the circuit breaker as plain functions."""

from __future__ import annotations

from bot.nylas.problems import by_code
from bot.runs.execution.breaker import BREAKER_WINDOW, Breaker, Trip, canary_verdict
from bot.runs.execution.outcomes import Outcome
from storage.models import ItemStatus
from storage.runs import ClaimedItem

ITEM = ClaimedItem(id=1, email="a@acme.com", attempts=1)


def failed(error: str = "boom", code: str | None = None) -> Outcome:
    problem = by_code(code) if code else None
    return Outcome(ITEM, ItemStatus.FAILED, error=error, problem=problem)


def created() -> Outcome:
    return Outcome(ITEM, ItemStatus.CREATED, grant_id="g")


def test_a_problem_of_the_credential_holds_the_canary_at_once() -> None:
    assert canary_verdict([failed(code="delegation_missing")]) == Trip("delegation_missing", 1)
    assert canary_verdict([failed(code="credential_gone")]) == Trip("credential_gone", 1)


def test_a_missing_mailbox_never_holds_the_canary() -> None:
    outcomes = [failed(code="mailbox_not_found")] * 3
    assert all(canary_verdict(outcomes[:n]) is None for n in (1, 2, 3))


def test_an_unknown_error_holds_the_canary_only_when_all_three_met_it() -> None:
    assert canary_verdict([failed("x"), failed("x")]) is None
    assert canary_verdict([failed("x"), failed("y"), failed("x")]) is None
    assert canary_verdict([failed("x")] * 3) == Trip("x", 3)
    assert canary_verdict([failed("x"), created()]) is None


def test_the_breaker_trips_on_a_streak_and_a_success_resets_it() -> None:
    breaker = Breaker(consecutive=5)
    assert [breaker.record(failed()) for _ in range(4)] == [None] * 4
    assert breaker.record(created()) is None
    assert [breaker.record(failed()) for _ in range(4)] == [None] * 4
    assert breaker.record(failed()) == Trip("boom", 5)


def test_the_breaker_trips_when_more_than_half_of_the_last_hundred_failed_alike() -> None:
    breaker = Breaker(consecutive=1000)
    trips = []
    for index in range(BREAKER_WINDOW * 2):  # alternating: never a streak
        trips.append(breaker.record(failed() if index % 2 else created()))
        trips.append(breaker.record(failed()) if index % 7 == 0 else None)
    tripped = [trip for trip in trips if trip is not None]
    assert tripped and tripped[0].count == BREAKER_WINDOW // 2 + 1


def test_scattered_failures_never_trip_the_breaker() -> None:
    breaker = Breaker(consecutive=20)
    outcomes = [failed(code="mailbox_not_found") if i % 33 == 7 else created() for i in range(1000)]
    assert all(breaker.record(outcome) is None for outcome in outcomes)
