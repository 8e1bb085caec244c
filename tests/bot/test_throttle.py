"""Nylas's budget: the fake's one-second window and Retry-After, the client paced to it, a
Retry-After waited by its caller only, and replicas sharing the budget through the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest

from bot.nylas.client import NylasClient, RetryPolicy
from bot.nylas.errors import NylasCallWithdrawn, NylasError
from bot.nylas.throttle import (
    CATCH_UP_GAP,
    CATCH_UP_SLACK,
    FINISHING_MARGIN,
    LATENESS_MOST,
    LATENESS_QUANTILE,
    LATENESS_STEP,
    MARGIN_STEP,
    REFUSED_SHARE,
    WINDOW_SECONDS,
    Lateness,
    Throttle,
)
from bot.runs.execution.budget import (
    BUDGET_SECONDS,
    HANDOVER_SECONDS,
    IDLE_BUDGET_SECONDS,
    BudgetShare,
)
from storage.callers import callers_now
from storage.db import Sessions
from storage.models import RunStatus, utcnow
from storage.runs import release_claims, transition
from tests.bot.test_nylas_client import google_key
from tests.contracts.nylas_spec import check_exchange
from tests.fakes.nylas import API_KEY, FakeNylas
from tests.storage.test_runs import claim_all, new_run

RETRY = RetryPolicy(max_attempts=4, max_backoff_seconds=5.0, initial_backoff_seconds=0.001)


def client_of(nylas: FakeNylas, *, rate: float, concurrency: int = 16) -> NylasClient:
    return NylasClient(
        api_uri="https://api.us.nylas.com",
        api_key=API_KEY,
        throttle=Throttle(rate_per_second=rate, concurrency=concurrency),
        retry=RETRY,
        transport=nylas.transport(),
    )


def unretried_client_of(nylas: FakeNylas, *, rate: float) -> tuple[Throttle, NylasClient]:
    """A client that reports each refusal instead of retrying it, and its throttle."""
    throttle = Throttle(rate_per_second=rate, concurrency=16)
    client = NylasClient(
        api_uri="https://api.us.nylas.com",
        api_key=API_KEY,
        throttle=throttle,
        retry=RetryPolicy(max_attempts=1),
        transport=nylas.transport(),
    )
    return throttle, client


@pytest.fixture
async def fast() -> AsyncIterator[tuple[FakeNylas, NylasClient]]:
    nylas = FakeNylas()
    client = client_of(nylas, rate=1000)
    yield nylas, client
    await client.aclose()
    for record in nylas.requests:
        check_exchange(record.method, record.path, record.body, record.status, record.response)


async def test_the_fake_refuses_beyond_its_window_with_retry_after() -> None:
    nylas = FakeNylas(rate_limit_per_second=5)
    async with httpx.AsyncClient(
        transport=nylas.transport(), base_url="https://api.us.nylas.com"
    ) as http:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        replies = await asyncio.gather(
            *(http.get("/v3/connectors/google", headers=headers) for _ in range(8))
        )
    refused = [reply for reply in replies if reply.status_code == 429]
    assert len(refused) == 3 and nylas.throttled == 3
    assert {reply.headers["Retry-After"] for reply in refused} == {"1"}
    assert {reply.json()["error"]["type"] for reply in refused} == {"nylas_rate_limit_exceeded"}


async def test_a_retry_after_is_waited_by_its_caller_only(
    fast: tuple[FakeNylas, NylasClient],
) -> None:
    nylas, client = fast
    nylas.fail("GET", "/v3/connectors/google", status=429, retry_after="1")
    throttled = asyncio.create_task(client.get_connector("google"))
    await nylas.wait_for("GET", "/v3/connectors/google")
    others = await asyncio.gather(*(client.get_connector("microsoft") for _ in range(5)))
    assert not throttled.done()  # the others went on while it waited
    assert (await throttled).provider == "google"
    assert [other.provider for other in others] == ["microsoft"] * 5
    refused, retried = nylas.calls("GET", "/v3/connectors/google")
    assert (refused.status, retried.status) == (429, 200)
    assert retried.at - refused.at >= 1.0  # its Retry-After
    assert client.rate_per_second == 1000


async def calls_refused(rate: float) -> int:
    """70 calls at once from a client paced at `rate` against Nylas's 40/s: how many got 429."""
    nylas = FakeNylas(rate_limit_per_second=40)
    client = client_of(nylas, rate=rate, concurrency=40)
    try:
        connectors = await asyncio.gather(*(client.get_connector("google") for _ in range(70)))
    finally:
        await client.aclose()
    assert len(connectors) == 70  # every call ends well (a 429 is retried)
    return nylas.throttled


async def test_the_client_keeps_within_nylas_window() -> None:
    unpaced = await calls_refused(rate=10_000)
    paced = await calls_refused(rate=40)  # configured at the limit itself
    assert unpaced >= 20
    assert paced <= 2  # none, or a stray one when this machine stalls a request on its way


async def test_the_window_counts_a_call_from_when_it_left_for_nylas() -> None:
    """Nylas counts a call when it arrives. A call held up on its way out (here the bot is busy
    for 200 ms while the call's connection opens) counts from when it left, so the call a window
    later does not reach Nylas within the same second (429)."""
    nylas = FakeNylas(rate_limit_per_second=5)
    client = NylasClient(
        api_uri=await nylas.start(),  # over a real socket: the way out is the bot's own
        api_key=API_KEY,
        throttle=Throttle(rate_per_second=5, concurrency=5),
        retry=RETRY,
    )
    try:
        calls = [asyncio.create_task(client.get_connector("google")) for _ in range(10)]
        asyncio.get_running_loop().call_soon(time.sleep, 0.2)  # after the first call's turn
        await asyncio.gather(*calls)
    finally:
        await client.aclose()
        await nylas.stop()
    arrived = sorted(record.arrived for record in nylas.calls("GET", "/v3/connectors/google"))
    assert arrived[5] - arrived[0] >= 0.99  # it was 0.8: the first call counted from its turn


async def test_a_call_waits_for_the_one_before_it_to_leave_not_only_for_its_turn() -> None:
    """At one call a second the window holds one call: the next waits a second from when that
    call left, even if it was still on its way out when the next one's turn began."""
    throttle = Throttle(rate_per_second=1, concurrency=2)

    async def held_on_its_way_out() -> float:
        async with throttle.slot() as departure:
            await asyncio.sleep(0.3)
            departure.left()
            return departure.at

    async def next_call() -> float:
        async with throttle.slot() as departure:
            return departure.at

    left, went = await asyncio.gather(held_on_its_way_out(), next_call())
    assert went - left >= 1.0


def test_how_late_calls_leave_is_estimated_low() -> None:
    """Calls that leave 0.5-1.4 ms after they are due: the estimate settles among the quickest
    tenth, so the few quicker calls leave a fraction of a millisecond early at most; it falls to
    none and rises no higher than its cap."""
    lateness = Lateness()
    for _ in range(300):
        for tenths in range(5, 15):
            lateness.learn(tenths / 10_000)
    assert 0.0005 <= lateness.seconds <= 0.0006 + LATENESS_STEP
    for _ in range(1000):
        lateness.learn(0.0)
    assert lateness.seconds == 0.0
    for _ in range(50_000):
        lateness.learn(1.0)
    assert lateness.seconds == LATENESS_MOST


async def test_each_answered_call_teaches_how_late_calls_leave_once() -> None:
    """A request with a body leaves in two writes (its headers, then its body): how late it left
    is learnt once a call, from the last write, when the answer comes."""
    nylas = FakeNylas()
    lateness = Lateness()
    client = NylasClient(
        api_uri=await nylas.start(),  # over a real socket: each request is written out
        api_key=API_KEY,
        throttle=Throttle(rate_per_second=1000, concurrency=1, lateness=lateness),
        retry=RETRY,
    )
    try:
        for number in range(10):
            await client.create_credential("google", name=f"Acme {number}", data=google_key())
    finally:
        await client.aclose()
        await nylas.stop()
    assert len(nylas.calls("POST", "/v3/connectors/google/creds")) == 10
    # every call left later than the estimate (20 µs at most here): it rose one step a call
    assert lateness.seconds == pytest.approx(10 * LATENESS_STEP * LATENESS_QUANTILE)


async def test_a_call_is_due_early_by_how_late_calls_leave() -> None:
    """The call a window after another is due when that one leaves the window less how late calls
    leave once due: it reaches Nylas as the window makes room, instead of carrying that moment
    into every window after (told by when each was due: the turn itself wakes a moment later)."""
    throttle = Throttle(rate_per_second=1, concurrency=1, lateness=Lateness(0.004))
    async with throttle.slot() as first:
        assert first is not None
    async with throttle.slot() as second:
        assert second is not None
    assert second.due == pytest.approx(first.at + WINDOW_SECONDS - 0.004, abs=1e-9)
    assert second.at >= second.due


async def test_a_refusal_widens_the_margin_a_step_and_each_call_sent_narrows_it() -> None:
    """After a 429 the call a window after another waits a step more; each call sent since takes
    REFUSED_SHARE of a step off, so the margin settles where about that share is refused (it
    used to shrink by the second, whatever the calls: a replica sending half as many settled
    lower)."""
    throttle = Throttle(rate_per_second=1, concurrency=1, lateness=Lateness(0.0))
    async with throttle.slot() as first:
        assert first is not None
    throttle.throttled()  # a lone 429
    async with throttle.slot() as second:
        assert second is not None
    async with throttle.slot() as third:
        assert third is not None
    assert second.due == pytest.approx(first.at + WINDOW_SECONDS + MARGIN_STEP, abs=1e-9)
    narrowed = MARGIN_STEP * (1 - REFUSED_SHARE)  # one call sent since the 429
    assert third.due == pytest.approx(second.at + WINDOW_SECONDS + narrowed, abs=1e-9)


async def test_a_call_late_for_its_turn_does_not_hold_back_the_calls_made_up_after_it() -> None:
    """Calls made up after an idle moment go half the interval apart on average: one that took
    its turn late leaves the next a quarter of the interval sooner, not the whole gap after it
    (the gap recurs every window, and every late call would widen it for good)."""
    throttle = Throttle(rate_per_second=4, concurrency=1)
    interval = 1 / 4
    async with throttle.slot() as first:
        assert first is not None
    await asyncio.sleep((CATCH_UP_GAP + 0.1) * interval)  # the next caller comes late
    async with throttle.slot() as late:
        assert late is not None
    async with throttle.slot() as after:
        assert after is not None
    gap = (CATCH_UP_GAP - CATCH_UP_SLACK) * interval
    assert after.due == pytest.approx(late.at + gap, abs=1e-9)


async def test_a_runs_last_calls_keep_a_wider_margin_on_nylas_window() -> None:
    """One of a run's last calls that Nylas refuses holds the run's end for its whole-second
    Retry-After, so those calls leave a little more room after the call one window back, also
    a call that was already waiting for its turn when the run reached its end.

    Told by the turns the throttle gives: the way from a turn to the fake's arrival varied by
    up to 4 ms here (more than the margin), and a CI run measured an ordinary call 70 µs inside
    the window that way."""
    throttle = Throttle(rate_per_second=1, concurrency=3)  # the window holds one call
    ending = asyncio.Event()

    async def turn(finishing: Callable[[], bool] = lambda: False) -> float:
        async with throttle.slot(finishing=finishing) as departure:
            assert departure is not None
            return departure.at

    first = await turn()
    ordinary = await turn()  # an ordinary call: one window after the first
    asyncio.get_running_loop().call_later(0.3, ending.set)  # while the call waits
    last = await turn(ending.is_set)
    assert ordinary - first >= WINDOW_SECONDS
    assert last - ordinary >= WINDOW_SECONDS + FINISHING_MARGIN


async def calling(
    client: NylasClient, *, until: float, callers: int = 20, path: str = "google"
) -> None:
    """Calls to Nylas, as many as the client's pace lets through, until `until`."""

    async def one() -> None:
        while time.monotonic() < until:
            await client.get_connector(path)

    await asyncio.gather(*(one() for _ in range(callers)))


def accepted_between(nylas: FakeNylas, start: float, end: float) -> int:
    return sum(1 for r in nylas.requests if r.status != 429 and start <= r.arrived < end)


async def test_a_replica_that_joins_takes_its_share_as_the_others_calls_leave_nylas_count() -> None:
    """A replica that starts calling while another spends the whole budget: the other sees it
    only at its next count, and the other's last second is still in Nylas's window. It used to
    spend its whole share at once (calls answered 429); it now takes it over one window, as the
    other hands its excess over, and the budget stays spent."""
    nylas = FakeNylas(rate_limit_per_second=20)
    alone, joining = client_of(nylas, rate=20, concurrency=20), client_of(nylas, rate=20)
    start = time.monotonic()
    try:
        first = asyncio.create_task(calling(alone, until=start + 3.0))
        await asyncio.sleep(1.0)  # the whole budget is spent by the first replica
        joining.share_budget(2, others_notice_within=0.25)  # it counts the first one's claims
        asyncio.get_running_loop().call_later(0.2, alone.share_budget, 2)  # its next count
        await asyncio.gather(first, calling(joining, until=start + 3.0))
    finally:
        await alone.aclose()
        await joining.aclose()
    # Callers still waiting for a turn at the end call on after it, both replicas at full pace:
    # a stall of this machine then costs a stray refusal that says nothing about the join.
    refused = [r.arrived - start for r in nylas.requests if r.status == 429]
    assert sum(1 for at in refused if at < 3.0) <= 1  # 0, or a stray one when the machine stalls
    assert accepted_between(nylas, start + 1.0, start + 3.0) >= 36  # of 40


async def test_the_refusals_of_one_burst_ease_the_pace_off_once() -> None:
    """Calls already on their way when the first 429 comes back are refused too: one event. The
    pace eases off one step (1 %), not one per refusal (it used to lose 1 % for each, and a
    replica joining a full window lost a tenth of its pace for seconds)."""
    nylas = FakeNylas(rate_limit_per_second=5)
    throttle, client = unretried_client_of(nylas, rate=20)
    try:
        await asyncio.gather(
            *(client.get_connector("google") for _ in range(12)), return_exceptions=True
        )
    finally:
        await client.aclose()
    assert nylas.throttled >= 5  # one burst, refused within the same second
    assert throttle.effective_rate > 20 / 1.015


async def test_a_replica_calling_below_its_share_goes_on_when_another_joins() -> None:
    """Only a replica that began calling within the last window fills its share when it learns
    of another: one that has been calling for longer, below its share (its calls are slow), goes
    on at once instead of standing idle for the fill."""
    nylas = FakeNylas()
    nylas.latency = 0.1
    client = client_of(nylas, rate=20)
    try:
        until = time.monotonic() + 1.5
        while time.monotonic() < until:  # one caller: about 10 calls a second, of 20
            await client.get_connector("google")
        client.share_budget(2, others_notice_within=0.25)
        joined = time.monotonic()
        await client.get_connector("microsoft")
    finally:
        await client.aclose()
    [call] = nylas.calls("GET", "/v3/connectors/microsoft")
    assert call.arrived - joined < 0.1  # not after the others' notice and a filling share


async def test_a_reserved_turn_holds_one_of_the_calls_in_flight() -> None:
    """A sender's turn, taken before it chose its user, keeps its place among the calls in
    flight: another call does not slip in meanwhile and leave at the same moment."""
    nylas = FakeNylas()
    client = client_of(nylas, rate=1000, concurrency=1)
    chosen = asyncio.Event()

    async def sender() -> None:
        async with client.turn_first():
            await chosen.wait()  # choosing its user
            await client.get_connector("google")

    sending = asyncio.create_task(sender())
    await asyncio.sleep(0)  # its turn is taken
    other = asyncio.create_task(client.get_connector("microsoft"))
    try:
        await asyncio.sleep(0.05)
        assert nylas.calls("GET", "/v3/connectors/microsoft") == []  # it waits for the slot
        chosen.set()
        await asyncio.gather(sending, other)
    finally:
        for task in (sending, other):
            task.cancel()
        await asyncio.gather(sending, other, return_exceptions=True)
        await client.aclose()
    google, microsoft = nylas.requests
    assert (google.path, microsoft.path) == ("/v3/connectors/google", "/v3/connectors/microsoft")


async def test_a_429_after_a_quiet_spell_does_not_bring_back_the_recovered_slowdown() -> None:
    """The pace eased off after a burst of refusals recovers within a second; a lone 429 later
    widens the margin only (it used to bring the old slowdown back for as long again)."""
    nylas = FakeNylas(rate_limit_per_second=5)
    throttle, client = unretried_client_of(nylas, rate=20)
    try:
        await asyncio.gather(
            *(client.get_connector("google") for _ in range(12)), return_exceptions=True
        )
        assert throttle.effective_rate < 20  # eased off
        await asyncio.sleep(1.5)  # quiet: recovered, and Nylas's window is empty again
        assert throttle.effective_rate == 20
        nylas.fail("GET", "/v3/connectors/google", status=429, retry_after="1")
        with pytest.raises(NylasError):
            await client.get_connector("google")
    finally:
        await client.aclose()
    assert throttle.effective_rate == 20


async def test_replicas_share_what_a_replica_in_its_canary_leaves_and_say_so(
    sessions: Sessions,
) -> None:
    """Two replicas calling at their share and a third in its canary: the two share equally
    what the third leaves (it holds a few calls), each writing what it holds; a replica that
    works no run any more withdraws its word, so does one that stops, and one alone again. One
    with no claims writes none."""
    run_id = await running_run(sessions, users=6)
    nylas = FakeNylas()
    names = ("here", "there", "joining", "idle")
    clients = {name: client_of(nylas, rate=50) for name in names}
    shares = {
        name: BudgetShare(
            sessions=sessions,
            nylas=clients[name],
            worker_id=name,
            lease_seconds=60,
            canaries=lambda name=name: 1 if name == "joining" else 0,
        )
        for name in names
    }

    async def held() -> dict[str, tuple[int, bool]]:
        async with sessions() as session:
            since = utcnow() - timedelta(minutes=1)
            callers = await callers_now(session=session, claims_since=since, words_since=since)
        return {name: (word.calls, word.aside) for name, word in callers.words.items()}

    async def refresh(*refreshing: str) -> None:
        for name in refreshing:
            await shares[name].refresh()

    for name in ("here", "there"):
        await claim_all(sessions, run_id, name, limit=2)
    await refresh("here", "there", "idle")
    # half of 50 each; a replica with no claims says nothing (nobody counts it)
    assert await held() == {"here": (25, False), "there": (25, False)}
    await refresh("joining")  # its pass says so before its canary's claim shows it
    await claim_all(sessions, run_id, "joining", limit=1)
    await refresh("here", "there")
    # (50 - 3) / 2 each: the canary's call, a retry and a look-up are left to the third
    assert await held() == {"here": (24, False), "there": (24, False), "joining": (3, True)}
    for name in ("there", "joining"):
        async with sessions() as session:
            await release_claims(session=session, run_id=run_id, worker_id=name)
            await session.commit()
    await refresh("there")  # it works no run now: nobody counts it
    assert "there" not in await held()
    await shares["joining"].stop()
    await refresh("here")  # alone again: an old word must not mislead a later replica
    assert await held() == {}
    for client in clients.values():
        await client.aclose()


async def test_the_others_keep_the_budget_while_a_replica_makes_its_canary_calls(
    sessions: Sessions,
) -> None:
    """A replica joining a run makes its canary calls first, one at a time. The others keep
    Nylas's budget but for those calls, and hand its share over once they passed. (The first
    replica used to cut to half its pace at the joiner's claim, and the half it gave up went
    unspent while the canary was answered: a second replica cost a run half a second.)"""
    run_id = await running_run(sessions, users=4)
    nylas = FakeNylas(rate_limit_per_second=20)
    first, joining = client_of(nylas, rate=20, concurrency=20), client_of(nylas, rate=20)
    in_canary = {"first": False, "joining": True}
    shares = {
        name: BudgetShare(
            sessions=sessions,
            nylas=client,
            worker_id=name,
            lease_seconds=60,
            canaries=lambda name=name: 1 if in_canary[name] else 0,
        )
        for name, client in (("first", first), ("joining", joining))
    }
    try:
        await claim_all(sessions, run_id, "first", limit=2)
        await shares["first"].refresh()
        await shares["joining"].refresh()  # before its canary's claim
        await claim_all(sessions, run_id, "joining", limit=1)
        await shares["first"].refresh()  # its next count
        began = time.monotonic()
        await asyncio.gather(*(first.get_connector("google") for _ in range(17)))  # 20 - 3
        kept = time.monotonic() - began
        await joining.get_connector("microsoft")  # the canary call
        in_canary["joining"] = False
        await shares["joining"].refresh()
        joining.begin_share()  # (the engine's count after a canary passed)
        await shares["first"].refresh()
        until = time.monotonic() + 2.5
        await asyncio.gather(
            calling(first, until=until), calling(joining, until=until, path="microsoft")
        )
    finally:
        await first.aclose()
        await joining.aclose()
    assert kept < 0.9  # at half the budget, its eleventh call waited a second
    assert nylas.throttled <= 2  # 0, or strays at a window's edge when this machine stalls
    _canary, *wide = nylas.calls("GET", "/v3/connectors/microsoft")
    assert len(wide) >= 14  # its share, filled


async def test_a_replica_in_its_canary_keeps_its_word_while_the_other_is_between_claims(
    sessions: Sessions,
) -> None:
    """The first replica's canary passed and its record handed the user back, but its next
    claim is not in yet; the joining one, in its canary meanwhile, counts nobody else. It used
    to withdraw its word then, and the first, at its next count, took it for a replica calling
    at its share and stopped at half the budget while only a canary call was on its way."""
    run_id = await running_run(sessions, users=6)
    nylas = FakeNylas()
    first, joining = client_of(nylas, rate=50), client_of(nylas, rate=50)
    shares = {
        "first": BudgetShare(
            sessions=sessions, nylas=first, worker_id="first", lease_seconds=60,
            working=lambda: True,
        ),
        "joining": BudgetShare(
            sessions=sessions, nylas=joining, worker_id="joining", lease_seconds=60,
            canaries=lambda: 1, working=lambda: True,
        ),
    }  # fmt: skip
    try:
        await claim_all(sessions, run_id, "first", limit=1)  # its canary user
        await shares["joining"].refresh()  # before its canary's claim
        async with sessions() as session:  # the first's canary recorded
            await release_claims(session=session, run_id=run_id, worker_id="first")
            await session.commit()
        await claim_all(sessions, run_id, "joining", limit=1)
        await shares["joining"].refresh()  # nobody else holds a claim now
        await claim_all(sessions, run_id, "first", limit=2)  # its pass goes wide
        await shares["first"].refresh()
    finally:
        await first.aclose()
        await joining.aclose()
    assert first.replicas == 1
    assert first.holds() == 47  # the budget but for the canary's call, a retry and a look-up


@pytest.mark.parametrize(  # each way of leaving on one database: the SQL is the same for both
    ("database_url", "leaving"),
    [("sqlite", "pass ended"), ("postgresql", "stopped")],
    indirect=["database_url"],
)
async def test_a_replica_whose_part_is_done_keeps_its_word_until_its_calls_leave_the_window(
    sessions: Sessions, leaving: str
) -> None:
    """Near a run's end one replica claims the last users and the other's pass ends, or the
    other is stopped (a rolling upgrade), its last second of calls still in Nylas's window. It
    used to withdraw its word at once, and the one still working took the whole budget into that
    full window: refused calls, one per sender. It now says it holds those calls until they
    leave (the other sets them aside), and the one still working takes the budget as they go."""
    run_id = await running_run(sessions, users=4)
    nylas = FakeNylas(rate_limit_per_second=20)
    clients = {name: client_of(nylas, rate=20, concurrency=20) for name in ("going", "ended")}
    working = {"going": True, "ended": True}
    shares = {
        name: BudgetShare(
            sessions=sessions, nylas=client, worker_id=name, lease_seconds=60,
            working=lambda name=name: working[name],
        )
        for name, client in clients.items()
    }  # fmt: skip
    stopping: asyncio.Task[None] | None = None
    try:
        for name, share in shares.items():
            await claim_all(sessions, run_id, name, limit=2)
            share.start()
        start = time.monotonic()
        await asyncio.gather(
            calling(clients["going"], until=start + 1.5),
            calling(clients["ended"], until=start + 1.5, path="microsoft"),
        )
        async with sessions() as session:  # the last users' outcomes are written
            await release_claims(session=session, run_id=run_id, worker_id="ended")
            await session.commit()
        working["ended"] = False
        ended = time.monotonic()
        stopping = asyncio.create_task(shares["ended"].stop()) if leaving == "stopped" else None
        await calling(clients["going"], until=ended + 2.0)
    finally:
        if stopping is not None:
            await stopping
        for name in shares:
            await shares[name].stop()
            await clients[name].aclose()
    refused = [r for r in nylas.requests if r.status == 429 and r.arrived >= ended]
    assert len(refused) <= 1  # 0, or a stray one when this machine stalls
    assert accepted_between(nylas, ended + 1.0, ended + 2.0) >= 18  # the whole budget, of 20


async def test_a_replicas_calls_outside_runs_are_nobodys_word(sessions: Sessions) -> None:
    """Only a run's last calls keep a word after its pass: a replica that works no run but calls
    Nylas for something else (a health sweep, a look-up) says nothing, as before; a word of its
    calls of the last second, taking no share, would say less than it goes on sending."""
    run_id = await running_run(sessions, users=2)
    nylas = FakeNylas()
    clients = {name: client_of(nylas, rate=50) for name in ("here", "sweeping")}
    shares = {
        name: BudgetShare(sessions=sessions, nylas=client, worker_id=name, lease_seconds=60)
        for name, client in clients.items()
    }
    try:
        await claim_all(sessions, run_id, "here", limit=2)
        await clients["sweeping"].get_connector("google")  # its sweep's call
        await shares["sweeping"].refresh()
        await shares["here"].refresh()
        async with sessions() as session:
            since = utcnow() - timedelta(minutes=1)
            callers = await callers_now(session=session, claims_since=since, words_since=since)
    finally:
        for client in clients.values():
            await client.aclose()
    assert callers.words == {}  # nobody else calls for runs: "here" counts itself alone
    assert clients["here"].replicas == 1


async def test_a_turn_waiting_for_room_goes_as_soon_as_the_share_grows() -> None:
    """A call waiting for its share's window to have room goes once another replica stops
    calling (its share doubles), not when the window it waited for would have had room."""
    nylas = FakeNylas()
    client = client_of(nylas, rate=10)
    try:
        await client.get_connector("google")
        client.share_budget(2)  # 5 calls a window
        waiting = [asyncio.create_task(client.get_connector("google")) for _ in range(5)]
        await nylas.wait_for("GET", "/v3/connectors/google", count=5)
        client.share_budget(1)  # the other stopped
        await asyncio.gather(*waiting)
    finally:
        await client.aclose()
    first, *_, last = (record.arrived for record in nylas.calls("GET", "/v3/connectors/google"))
    assert last - first < 0.75  # it waited for the first call to leave the window: 1 s


async def test_a_joining_replica_takes_only_the_room_the_others_say_they_leave() -> None:
    """The other replica spent the whole budget in the last half second before it noticed the
    joining one, and says so. The joining replica's share used to fill over one window from when
    the other noticed, as if the other's calls had gone evenly: its first calls went into a
    window still full of them and were answered 429. It now waits for the room they leave."""
    nylas = FakeNylas(rate_limit_per_second=20)
    first, joining = client_of(nylas, rate=20, concurrency=20), client_of(nylas, rate=20)
    try:
        await asyncio.gather(*(first.get_connector("google") for _ in range(20)))
        joining.share_budget(2, others_notice_within=0.0, others_hold=20)
        began = time.monotonic()
        joining.begin_share()
        await asyncio.gather(*(joining.get_connector("microsoft") for _ in range(5)))
        took = time.monotonic() - began
    finally:
        await first.aclose()
        await joining.aclose()
    assert nylas.throttled == 0
    assert took < 1.5  # its share, whole one window on (by then their calls left it)


async def test_replicas_count_often_while_a_share_changes_hands(sessions: Sessions) -> None:
    """While another replica begins its canary, one working a run counts twenty times a second
    (the canary passes any moment); a replica working a run counts four times a second between
    its claims too; one with nothing to do, once a second."""
    nylas = FakeNylas()
    working = {"here": False, "joining": True}
    clients = {name: client_of(nylas, rate=50) for name in working}
    shares = {
        name: BudgetShare(
            sessions=sessions, nylas=clients[name], worker_id=name, lease_seconds=60,
            canaries=lambda name=name: 1 if name == "joining" else 0,
            working=lambda name=name: working[name],
        )
        for name in working
    }  # fmt: skip
    run_id = await running_run(sessions, users=4)
    try:
        assert await shares["here"].refresh() == IDLE_BUDGET_SECONDS
        working["here"] = True  # a pass, between its claims
        assert await shares["here"].refresh() == BUDGET_SECONDS
        await claim_all(sessions, run_id, "here", limit=2)
        await shares["joining"].refresh()  # in its canary, beside another: it says so
        assert await shares["here"].refresh() == HANDOVER_SECONDS
        async with sessions() as session:  # its pass ended
            await release_claims(session=session, run_id=run_id, worker_id="here")
            await session.commit()
        working["here"] = False  # nobody's count: no reason to watch that closely
        assert await shares["here"].refresh() == IDLE_BUDGET_SECONDS
    finally:
        for client in clients.values():
            await client.aclose()


async def test_replicas_working_runs_share_the_budget(sessions: Sessions) -> None:
    nylas = FakeNylas()
    client = client_of(nylas, rate=50)
    share = BudgetShare(sessions=sessions, nylas=client, worker_id="here", lease_seconds=60)
    run_id = await running_run(sessions, users=4)
    await share.refresh()
    assert client.replicas == 1  # nobody else is calling Nylas
    for worker in ("here", "there"):
        await claim_all(sessions, run_id, worker, limit=2)
    await share.refresh()
    assert client.replicas == 2
    await client.aclose()


async def running_run(sessions: Sessions, *, users: int) -> int:
    run_id = await new_run(sessions, [f"user{index}@acme.com" for index in range(users)])
    async with sessions() as session:
        await transition(
            session=session,
            run_id=run_id,
            from_statuses=[RunStatus.AWAITING_APPROVAL],
            to_status=RunStatus.RUNNING,
        )
        await session.commit()
    return run_id


async def test_calls_withdrawn_while_waiting_for_their_turn_leave_it_unspent() -> None:
    """A held run's calls still waiting for their turn are not sent, and the turns they
    waited for pass on at once to the process's other calls."""
    nylas = FakeNylas()
    client = client_of(nylas, rate=2)
    stopped = False

    async def held_runs_call() -> object:
        with client.withdrawn_when(lambda: stopped):
            return await client.get_connector("google")

    try:
        calls = [asyncio.create_task(held_runs_call()) for _ in range(5)]
        await nylas.wait_for("GET", "/v3/connectors/google", count=1)
        stopped = True  # the run is held
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert sum(isinstance(result, NylasCallWithdrawn) for result in results) == 4
        await client.get_connector("google")  # another run's call
    finally:
        await client.aclose()
    first, other = (record.arrived for record in nylas.calls("GET", "/v3/connectors/google"))
    assert other - first < 0.6  # its own turn (1/4 s on): not after four spent turns (2 s)


@pytest.mark.parametrize(("first_answer", "retry_sent"), [(500, True), (429, False)])
async def test_a_retry_goes_although_its_work_stopped_only_when_nylas_may_have_acted(
    first_answer: int, retry_sent: bool
) -> None:
    """A held run's retry after a 5xx still goes, since Nylas may have made the grant and only
    its answer says so; after a 429 (refused unread) it is withdrawn like a first attempt."""
    nylas = FakeNylas()
    client = client_of(nylas, rate=1000)
    nylas.fail("GET", "/v3/connectors/google", status=first_answer)

    def held_after_the_first_attempt() -> bool:
        return bool(nylas.calls("GET", "/v3/connectors/google"))

    try:
        with client.withdrawn_when(held_after_the_first_attempt):
            if retry_sent:
                await client.get_connector("google")
            else:
                with pytest.raises(NylasCallWithdrawn):
                    await client.get_connector("google")
    finally:
        await client.aclose()
    assert len(nylas.calls("GET", "/v3/connectors/google")) == (2 if retry_sent else 1)
