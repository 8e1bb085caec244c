"""The fake Slack's endpoints beside its Web API: file downloads and uploads, response URLs and
the Socket Mode websocket, as Slack serves them."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.demo.fakes.slack_methods import SlackMethods
from bot.demo.fakes.slack_rules import (
    DOWNLOAD_PIECE_BYTES,
    MAX_MESSAGE_BLOCKS,
    SlackCall,
    UploadedFile,
    block_problem,
)


class SlackEndpoints(SlackMethods):
    """Mixed into FakeSlack, which holds this state and records calls."""

    hosted_files: dict[str, bytes]
    uploads: dict[str, UploadedFile]
    cut_downloads_at: int | None
    keep_uploads: bool
    response_urls: dict[str, str]
    response_url_users: dict[str, str]
    ephemeral_owners: dict[tuple[str, str], str]

    async def _record(self, call: SlackCall) -> None:
        raise NotImplementedError

    async def _answered(self, call: SlackCall, response: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if not request.headers.get("Authorization", "").startswith("Bearer xoxb-"):
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        content = self.hosted_files.get(request.match_info["file_id"])
        if content is None:
            return web.Response(status=404)
        await self._record(
            SlackCall(
                "files.download",
                {"file": request.match_info["file_id"]},
                request.headers["Authorization"].removeprefix("Bearer "),
            )
        )
        # Served in pieces, as Slack's file host streams a large file: a reader must keep
        # reading until the end, not take the first piece that arrived for the whole file.
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        if self.cut_downloads_at is None:
            response.content_length = len(content)
        else:  # a transfer that ends early without saying so (chunked, no length)
            content = content[: self.cut_downloads_at]
        await response.prepare(request)
        for start in range(0, len(content), DOWNLOAD_PIECE_BYTES):
            await response.write(content[start : start + DOWNLOAD_PIECE_BYTES])
            await asyncio.sleep(0.001)
        await response.write_eof()
        return response

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads[request.match_info["file_id"]]
        if not self.keep_uploads:  # a sink for benchmarks: count the bytes, hold none
            async for chunk in request.content.iter_chunked(64 * 1024):
                upload.size += len(chunk)
        elif request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            upload.content = await part.read() if part is not None else b""  # type: ignore[union-attr]
        else:
            upload.content = await request.read()
        upload.size = upload.size or len(upload.content)
        await self._record(SlackCall("files.upload_bytes", {"file": upload.id}, None))
        return web.Response(text="OK - uploaded")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello as Slack does, then hold the connection until the app leaves."""
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        await self._record(SlackCall("socket.connected", {}, None))
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for _message in socket:  # acks and pings; Slack would also send events here
            pass
        await self._record(SlackCall("socket.closed", {}, None))
        return socket

    async def _response_url(self, request: web.Request) -> web.Response:
        payload = await request.json()
        if problem := block_problem(payload.get("blocks"), MAX_MESSAGE_BLOCKS):
            await self._record(SlackCall("response_url_refused", {"problem": problem}, None))
            return web.Response(status=400, text="invalid_blocks")
        self.response_url_posts.append(payload)
        call = SlackCall("response_url", payload, None)
        await self._record(call)
        # Posted ephemerally (the default) in the channel the response URL belongs to.
        channel = self.response_urls.get(request.match_info["id"], "")
        ts = self._ts()
        if user := self.response_url_users.get(request.match_info["id"]):
            self.ephemeral_owners[(channel, ts)] = user
        self.ephemerals[(channel, ts)] = {**self._message(dict(payload), ts), "channel": channel}
        await self._answered(call, {"ok": True, "channel": channel, "message_ts": ts})
        return web.Response(text="ok")
