"""The demo page's own small aiohttp app, beside the fakes rather than inside the fake Slack: the
page plays Slack's client (it signs requests to the bot with the signing secret), which Slack's
Web API, and so the fake the tests drive, never does.

It listens on 127.0.0.1 only, takes requests only for a local Host (no DNS rebinding) and only
JSON bodies (a cross-site form cannot post here), and its page runs no inline script (CSP)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import web

from bot.demo.screens import screen_json
from bot.demo.session import DemoProblem, DemoSession

PAGE_TYPES = {"page.html": "text/html", "page.js": "text/javascript", "page.css": "text/css"}
CSP = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
MAX_UPLOAD_BYTES = 5 * 1024**2


@web.middleware
async def local_only(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.host.rsplit(":", 1)[0] not in LOCAL_HOSTS:
        return web.Response(status=403, text="the demo answers on 127.0.0.1 only")
    if request.method == "POST" and request.content_type != "application/json":
        return web.json_response({"problem": "JSON only"}, status=415)
    try:
        response: web.StreamResponse = await handler(request)
    except (DemoProblem, LookupError) as problem:
        return web.json_response({"problem": str(problem)}, status=409)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def _static(name: str) -> bytes:
    return (resources.files("bot.demo") / "static" / name).read_bytes()


@dataclass
class DemoRoutes:
    session: DemoSession
    people: list[dict[str, str]]
    channels: dict[str, str]
    samples: dict[str, bytes]
    azure: dict[str, str] = field(repr=False)  # the fake Azure app's made-up values (a secret)

    def person(self, value: Any) -> str:
        if value not in {person["id"] for person in self.people}:
            raise DemoProblem("unknown demo person")
        return str(value)

    async def page(self, request: web.Request) -> web.Response:
        name = request.match_info.get("name") or "page.html"
        if name not in PAGE_TYPES:
            raise web.HTTPNotFound()
        return web.Response(body=_static(name), content_type=PAGE_TYPES[name], charset="utf-8")

    async def setup(self, _request: web.Request) -> web.Response:
        listed = [{"name": name, "url": f"/demo/samples/{name}"} for name in self.samples]
        return web.json_response(
            {
                "people": self.people,
                "channels": self.channels,
                "samples": listed,
                "azure": self.azure,
            }
        )

    async def screen(self, request: web.Request) -> web.Response:
        user = self.person(request.query.get("user"))
        return web.json_response(screen_json(self.session, user, self.channels))

    async def command(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel = str(body.get("channel"))
        if channel not in self.channels:
            raise DemoProblem("type commands in a channel")
        await self.session.command(self.person(body.get("user")), channel, str(body.get("text")))
        return web.json_response({"ok": True})

    async def view(self, request: web.Request) -> web.Response:
        body = await request.json()
        user, view_id = self.person(body.get("user")), str(body.get("view"))
        entries = body.get("entries") or {}
        if body.get("op") == "submit":
            await self.session.submit(user, view_id, entries)
        elif body.get("op") == "close":
            await self.session.close(user, view_id)
        else:
            block, action = str(body.get("block")), str(body.get("action"))
            await self.session.view_used(user, view_id, block, action, entries)
        return web.json_response({"ok": True})

    async def message(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self.person(body.get("user"))
        where = (str(body.get("channel")), str(body.get("ts")))
        await self.session.message_used(
            user, *where, str(body.get("block")), str(body.get("action"))
        )
        return web.json_response({"ok": True})

    async def upload(self, request: web.Request) -> web.Response:
        """A file the person picked, hosted in the fake Slack as Slack hosts uploads."""
        body = await request.json()
        self.person(body.get("user"))
        name = str(body.get("name") or "upload.txt").replace("/", "_")[:100]
        content = str(body.get("text")).encode()
        return web.json_response(self.session.slack.host_file(content, filename=name))

    async def sample(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.person(body.get("user"))
        name = str(body.get("name"))
        if name not in self.samples:
            raise DemoProblem("no such sample")
        return web.json_response(self.session.slack.host_file(self.samples[name], filename=name))

    async def download_sample(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.samples:
            raise web.HTTPNotFound()
        return _attachment(self.samples[name], name)

    async def download_upload(self, request: web.Request) -> web.Response:
        """A file the bot uploaded (the run's CSV), as Slack lets a member download it."""
        upload = self.session.slack.uploads.get(request.match_info["file_id"])
        if upload is None or not upload.content:
            raise web.HTTPNotFound()
        return _attachment(upload.content, upload.filename)


def demo_app(
    session: DemoSession,
    *,
    people: list[dict[str, str]],
    channels: dict[str, str],
    samples: dict[str, bytes],
    azure: dict[str, str],
) -> web.Application:
    routes = DemoRoutes(session, people, channels, samples, azure)
    app = web.Application(middlewares=[local_only], client_max_size=MAX_UPLOAD_BYTES)
    app.router.add_get("/", redirect)
    app.router.add_get("/demo/", routes.page)
    app.router.add_get("/demo/{name:page\\.(?:js|css)}", routes.page)
    app.router.add_get("/demo/api/setup", routes.setup)
    app.router.add_get("/demo/api/screen", routes.screen)
    app.router.add_post("/demo/api/command", routes.command)
    app.router.add_post("/demo/api/view", routes.view)
    app.router.add_post("/demo/api/message", routes.message)
    app.router.add_post("/demo/api/upload", routes.upload)
    app.router.add_post("/demo/api/sample", routes.sample)
    app.router.add_get("/demo/samples/{name}", routes.download_sample)
    app.router.add_get("/demo/files/{file_id}", routes.download_upload)
    return app


async def redirect(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/demo/")


def _attachment(content: bytes, name: str) -> web.Response:
    safe = json.dumps(name.replace("\\", "_"))  # a quoted-string filename
    return web.Response(
        body=content,
        content_type="text/csv" if name.endswith(".csv") else "application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename={safe}"},
    )
