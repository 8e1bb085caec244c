"""How many users a pass claims at a time: a moment of its pace, and near a run's end with other
replicas calling, a fair part of what is left; and how few left make the rest a run's last calls."""

from __future__ import annotations

from bot.runs.execution.ready import claim_size, fair_part, last_calls_of


def test_a_claim_is_a_moment_of_the_pace_within_the_concurrency() -> None:
    assert claim_size(50, 64) == 20  # 0.4 s at 50 calls a second
    assert claim_size(10_000, 64) == 64
    assert claim_size(0.5, 64) == 1


def test_near_the_end_a_claim_is_half_of_one_replicas_part_of_what_is_left() -> None:
    # Two replicas, ten users left: a claim of ten would leave the other nothing, and one
    # replica would send them alone at half the budget.
    assert fair_part(10, left=10, replicas=2) == 3
    assert fair_part(10, left=1_000, replicas=2) == 10  # far from the end: the whole moment
    assert fair_part(10, left=1, replicas=3) == 1
    assert fair_part(10, left=0, replicas=2) == 1  # users in doubt may still be taken over


def test_the_last_second_of_users_at_the_applications_rate_are_a_runs_last_calls() -> None:
    # A 429 among them holds the run's end for a second: they keep a wider margin on the window.
    assert last_calls_of(50, claim_size(50, 64)) == 50
    assert last_calls_of(50, claim_size(25, 64)) == 50  # one of two replicas: both send them
    assert last_calls_of(0.5, claim_size(0.5, 64)) == 1
    # far beyond Nylas's limits, counted up to a few claims' worth, as cheap as a claim
    assert last_calls_of(10_000, claim_size(10_000, 64)) == 8 * 64
