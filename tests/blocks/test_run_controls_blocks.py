"""The Cancel and Resume buttons a listing (status answer, App Home) shows, as a plain function."""

from __future__ import annotations

from collections import Counter

from bot.home.controls import MAX_CONTROLLED_RUNS, run_controls
from bot.home.dashboard import RunLine
from storage.models import BulkRun, RunStatus
from tests.block_kit import buttons


def line(run_id: int, status: RunStatus) -> RunLine:
    run = BulkRun(
        id=run_id, credential_id=1, provider="google", requested_by="U1", requested_by_name="A"
    )
    run.status = status
    return RunLine(run=run, credential_name="acme.com", counts=Counter())


def test_active_runs_get_cancel_held_runs_also_resume_each_confirmed_and_ended_none() -> None:
    lines = [
        line(1, RunStatus.RUNNING),
        line(2, RunStatus.HELD),
        line(3, RunStatus.AWAITING_APPROVAL),
        line(4, RunStatus.FINISHED),
    ]
    blocks = [block.to_dict() for block in run_controls(lines)]
    shown = buttons(blocks)
    assert list(shown) == ["Cancel run 1", "Resume run 2", "Cancel run 2", "Cancel run 3"]
    assert all(button.get("confirm") for button in shown.values())  # Slack asks first
    assert shown["Resume run 2"]["action_id"] == "resume_run"
    assert '"run_id":2' in shown["Resume run 2"]["value"].replace(" ", "")


def test_no_run_to_act_on_means_no_block_and_many_runs_stay_within_slack_limits() -> None:
    assert run_controls([line(1, RunStatus.CANCELLED)]) == []
    many = [line(index, RunStatus.HELD) for index in range(1, 40)]
    blocks = [block.to_dict() for block in run_controls(many)]
    assert len(blocks) == MAX_CONTROLLED_RUNS  # one per run: action ids unique per block
    assert len(buttons(blocks)) == 2 * MAX_CONTROLLED_RUNS
