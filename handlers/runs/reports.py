"""The "Send CSV again" button of a run whose CSV Slack refused at the end of the run."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.blocks import plain_message
from bot.blocks.metadata import RunRef
from bot.deps import Deps
from bot.ids import ActionId
from bot.slack.access import SlackActor
from bot.slack.notify import tell_user
from storage.models import RunStatus
from storage.runs import get_run

log = logging.getLogger(__name__)
ENDED = (RunStatus.FINISHED, RunStatus.CANCELLED)


async def send_run_csv(ack: AsyncAck, body: dict[str, Any], deps: Deps, actor: SlackActor) -> None:
    """Only people allowed to use the bot get here (the access middleware refuses others)."""
    await ack()
    run_id = RunRef.model_validate_json(body["actions"][0]["value"]).run_id
    async with deps.sessions() as session:
        run = await get_run(session=session, run_id=run_id)
    if run is None or run.status not in ENDED:
        problem = f"Run {run_id} has not ended; its CSV comes with its summary."
    elif await deps.reporter.send_csv_again(run_id):
        log.info("run %s: CSV sent again for %s", run_id, actor.user_id)
        return
    else:
        problem = (
            f"Slack refused the CSV of run {run_id} again. Try later, or write it from the "
            f"database: `bulkauth runs csv {run_id} > run-{run_id}.csv`"
        )
    await tell_user(
        deps.slack,
        user_id=actor.user_id,
        channel_id=(body.get("channel") or {}).get("id"),
        message=plain_message(problem),
    )


def register(app: AsyncApp) -> None:
    app.action(ActionId.SEND_RUN_CSV)(send_run_csv)
