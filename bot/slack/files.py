"""Fetching a file a user uploaded through a modal's file input (with the bot token)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr

SLACK_FILE_HOSTS = {"files.slack.com", "slack-files.com"}
DOWNLOAD_SECONDS = 2.0  # inside the 3-second budget of the view_submission ack


class FileProblem(ValueError):
    """What is wrong with the file, in words for the modal."""


class SlackFiles:
    """Downloads the files people upload in modals, with the bot token, from Slack only."""

    def __init__(
        self, *, http: aiohttp.ClientSession, bot_token: SecretStr, slack_api_url: str | None
    ) -> None:
        self._http = http
        self._token = bot_token
        self._api_url = slack_api_url

    def __repr__(self) -> str:  # the token stays out of every repr
        return "SlackFiles()"

    async def download_text(
        self, file: dict[str, Any], *, max_bytes: int, extensions: tuple[str, ...], kind: str
    ) -> str:
        """The file's text, read whole; FileProblem says why it cannot be used."""
        too_large = f"This file is larger than {max_bytes // 1024:,} KB, so it is not {kind}."
        if int(file.get("size") or 0) > max_bytes:
            raise FileProblem(too_large)
        if not str(file.get("name") or "").lower().endswith(extensions):
            raise FileProblem(f"Upload {kind} ({' or '.join(extensions)}).")
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        if not is_slack_file_url(url, self._api_url):
            raise FileProblem("The file's address is not Slack's, so the bot did not fetch it.")
        try:
            async with self._http.get(
                url,
                headers={"Authorization": f"Bearer {self._token.get_secret_value()}"},
                timeout=aiohttp.ClientTimeout(total=DOWNLOAD_SECONDS),
            ) as reply:
                if reply.status != 200 or reply.content_type == "text/html":
                    raise FileProblem(
                        "Slack did not hand over the file (check the files:read scope)."
                    )
                content = await _read_whole(reply, max_bytes, too_large)
        except (aiohttp.ClientError, TimeoutError):
            raise FileProblem(
                "The file could not be read from Slack just now; submit again."
            ) from None
        declared = int(file.get("size") or len(content))
        if len(content) != declared:
            # Half a file reads as a shorter list (or a line cut mid-address): never use it.
            raise FileProblem("The file arrived incomplete from Slack; submit again.")
        try:
            return content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FileProblem("This file is not UTF-8 text.") from None


async def _read_whole(reply: aiohttp.ClientResponse, max_bytes: int, too_large: str) -> bytes:
    """Every byte of the body (it arrives in pieces), refusing one larger than `max_bytes`."""
    content = bytearray()
    async for piece in reply.content.iter_chunked(64 * 1024):
        content += piece
        if len(content) > max_bytes:
            raise FileProblem(too_large)
    return bytes(content)


def is_slack_file_url(url: str, slack_api_url: str | None) -> bool:
    """Only Slack's file hosts over https on the default port, or (for a local fake Slack) the
    exact origin of the configured Slack API, ever receive the bot token."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return False
    if parts.scheme == "https" and parts.hostname in SLACK_FILE_HOSTS and port in (None, 443):
        return True
    if not slack_api_url:
        return False
    api = urlsplit(slack_api_url)
    return (parts.scheme, parts.hostname, port) == (api.scheme, api.hostname, api.port)
