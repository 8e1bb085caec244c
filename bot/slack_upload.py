"""Uploading a file from disk to Slack, streamed: Slack's external-upload flow (reserve a URL,
send the bytes, complete) without holding the file in memory. `files_upload_v2` reads the
whole file into memory first, which a full audit export or a 100,000-user CSV should not need."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BotError


class UploadFailed(BotError):
    pass


@dataclass(frozen=True)
class Upload:
    filename: str
    title: str
    channel_id: str
    thread_ts: str | None = None
    initial_comment: str | None = None


async def upload_file(
    slack: AsyncWebClient, http: aiohttp.ClientSession, path: Path, upload: Upload
) -> str:
    """Send `path` to Slack and share it in the upload's channel (or thread); the file id."""
    with path.open("rb") as body:
        size = body.seek(0, os.SEEK_END)
        body.seek(0)
        reserved = await slack.files_getUploadURLExternal(filename=upload.filename, length=size)
        file_id = str(reserved["file_id"])
        async with http.post(str(reserved["upload_url"]), data=body) as reply:
            if reply.status != 200:
                raise UploadFailed(f"Slack did not accept the file {upload.filename} just now.")
    extra: dict[str, Any] = {"thread_ts": upload.thread_ts} if upload.thread_ts else {}
    if upload.initial_comment:
        extra["initial_comment"] = upload.initial_comment
    await slack.files_completeUploadExternal(
        files=[{"id": file_id, "title": upload.title}], channel_id=upload.channel_id, **extra
    )
    return file_id


@contextmanager
def scratch_file(filename: str) -> Iterator[Path]:
    """A path in a private temporary folder, removed with the folder afterwards."""
    with tempfile.TemporaryDirectory(prefix="bulkauth-") as folder:
        yield Path(folder) / filename
