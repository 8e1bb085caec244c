"""Anchors: the audit chain's head (sequence number and hash) recorded outside the database, in
a local file and a Slack channel, at least every hour and at each run's end.

Whoever can write to the database can cut the end off the log or replace it wholesale without
breaking the chain itself; anchors are what such a log no longer agrees with
(`bulkauth audit verify --anchors FILE` or `--slack-anchors`). An unchanged head is not posted
again. Anchors are not audit events (each would move the head it records).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.scheduling import Scheduler
from storage.audit import Anchor, chain_head
from storage.db import Sessions
from storage.models import utcnow

log = logging.getLogger(__name__)
ANCHOR_EVERY_SECONDS = 3600
_SLACK_TEXT = "bulkauth audit anchor: event #{seq} has hash {hash}"
_SLACK_PATTERN = re.compile(r"bulkauth audit anchor: event #(\d+) has hash ([0-9a-f]{64})")
HISTORY_PAGE = 200


class AnchorFileProblem(ValueError):
    pass


def read_anchor_file(path: Path) -> list[Anchor]:
    """Every anchor in a file of JSON lines ({"seq", "hash", "at"})."""
    anchors = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            anchors.append(Anchor(int(entry["seq"]), str(entry["hash"]), str(entry.get("at", ""))))
        except (ValueError, KeyError, TypeError):
            raise AnchorFileProblem(f"{path}, line {number}: not an anchor") from None
    return anchors


async def read_slack_anchors(slack: AsyncWebClient, channel: str) -> list[Anchor]:
    """The anchors this bot posted in `channel` (conversations.history, every page). Messages
    from anyone else are ignored, so nobody in the channel can plant an anchor."""
    identity = await slack.auth_test()
    bot_user = identity.get("user_id")
    anchors: list[Anchor] = []
    cursor: str | None = None
    while True:
        page = await slack.conversations_history(channel=channel, limit=HISTORY_PAGE, cursor=cursor)
        for message in page.get("messages") or []:
            found = _SLACK_PATTERN.search(str(message.get("text") or ""))
            if found and message.get("user") == bot_user:
                anchors.append(Anchor(int(found[1]), found[2], str(message.get("ts", ""))))
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return anchors


class AnchorService:
    def __init__(
        self,
        *,
        sessions: Sessions,
        slack: AsyncWebClient,
        scheduler: Scheduler,
        channel: str | None,
        path: Path,
    ) -> None:
        self._sessions = sessions
        self._slack = slack
        self._scheduler = scheduler
        self._channel = channel
        self.path = path
        self._last: Anchor | None = None

    async def start(self) -> None:
        """Anchor now (when there is something to anchor), then every hour."""
        await self.anchor()
        self._scheduler.every(self.anchor, seconds=ANCHOR_EVERY_SECONDS, id="audit-anchor")
        where = f"{self.path} and channel {self._channel}" if self._channel else str(self.path)
        log.info("audit anchors go to %s", where)

    async def anchor(self) -> None:
        async with self._sessions() as session:
            head = await chain_head(session=session)
        if head is None:
            log.error("audit anchor skipped: the chain head row is missing or doubled")
            return
        if head.seq == 0 or (
            self._last and (self._last.seq, self._last.hash) == (head.seq, head.hash)
        ):
            return
        self._last = Anchor(head.seq, head.hash, utcnow().isoformat(timespec="seconds"))
        self._append(self._last)
        if self._channel:
            await self._post(self._last)

    def _append(self, anchor: Anchor) -> None:
        line = json.dumps({"seq": anchor.seq, "hash": anchor.hash, "at": anchor.at})
        try:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError as error:
            log.error("audit anchor not written to %s (%s)", self.path, error.strerror)

    async def _post(self, anchor: Anchor) -> None:
        assert self._channel is not None
        text = _SLACK_TEXT.format(seq=anchor.seq, hash=anchor.hash)
        try:
            await self._slack.chat_postMessage(channel=self._channel, text=text)
        except SlackApiError as error:
            log.warning("audit anchor not posted (%s)", error.response.get("error"))
        except (aiohttp.ClientError, TimeoutError) as error:  # Slack unreachable: file has it
            log.warning("audit anchor not posted (%s)", type(error).__name__)
