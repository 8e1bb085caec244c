"""Uploading a file from disk to Slack, streamed: Slack's external-upload flow (reserve a URL,
send the bytes, complete) without holding the file in memory. `files_upload_v2` reads the
whole file into memory first, which a full audit export or a 100,000-user CSV should not need."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from bot.errors import BotError

log = logging.getLogger(__name__)
MAX_RETRY_AFTER = 60.0
_TRANSIENT_SLACK_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "request_timeout", "service_unavailable"}
)
_backoff = wait_exponential_jitter(multiplier=1, max=30, jitter=1)


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


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        code = error.response.get("error")
        return status == 429 or status >= 500 or code in _TRANSIENT_SLACK_ERRORS
    return isinstance(error, UploadFailed | aiohttp.ClientError | asyncio.TimeoutError)


def _retry_after(error: BaseException | None) -> float | None:
    if not isinstance(error, SlackApiError):
        return None
    headers = error.response.headers or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return min(float(value), MAX_RETRY_AFTER) if value is not None else None
    except ValueError:
        return None


def _wait(state: RetryCallState) -> float:
    """Slack's Retry-After when it gave one, else exponential backoff with jitter."""
    error = state.outcome.exception() if state.outcome else None
    retry_after = _retry_after(error)
    return retry_after if retry_after is not None else float(_backoff(state))


async def upload_with_retries(
    slack: AsyncWebClient, http: aiohttp.ClientSession, path: Path, upload: Upload, *, attempts: int
) -> str:
    """`upload_file`, the whole flow again after a transient failure (a reserved upload URL
    may not outlive the failure). The SDK's own retries have already run for each call."""
    retrying = AsyncRetrying(
        retry=retry_if_exception(_is_transient),
        stop=stop_after_attempt(attempts),
        wait=_wait,
        reraise=True,
        before_sleep=lambda state: log.info(
            "upload of %s failed (attempt %d); retrying", upload.filename, state.attempt_number
        ),
    )
    async for attempt in retrying:
        with attempt:
            return await upload_file(slack, http, path, upload)
    raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover


@contextmanager
def scratch_file(filename: str) -> Iterator[Path]:
    """A path in a private temporary folder, removed with the folder afterwards."""
    with tempfile.TemporaryDirectory(prefix="bulkauth-") as folder:
        yield Path(folder) / filename
