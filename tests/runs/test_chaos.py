"""Issue 13 'done when': a run under random faults everywhere still ends by itself, audits every
grant Nylas made exactly once and delivers its CSV. (2,000 users: benchmarks/run_faults.py.)"""

from __future__ import annotations

import os
import random

from tests.conftest import SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.runs.chaos import CHAOS_SETTINGS, chaotic_run


async def test_a_run_under_random_faults_ends_with_every_grant_audited_once(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    # A fixed seed by default, so the suite is repeatable; CHAOS_SEED=random explores others.
    wanted = os.environ.get("CHAOS_SEED", "11")
    seed = random.randrange(1_000_000) if wanted == "random" else int(wanted)
    async with run_bot(make_settings(**CHAOS_SETTINGS)) as bot:
        report = await chaotic_run(bot, slack, nylas, count=300, seed=seed, rate=0.1)
    explained = f"rerun with CHAOS_SEED={seed}: {report.line()}"
    assert report.run_status == "finished", explained
    assert report.stuck == 0 and sum(report.outcomes.values()) == 300, explained
    assert report.not_audited_once == {}, explained
    assert report.database_errors and report.slack_429s, explained  # faults did happen
