"""A tiny helper to run an aiohttp application as a real local HTTP server in the test loop."""

from __future__ import annotations

from aiohttp import web


class LocalServer:
    def __init__(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        self.url = ""

    async def start(self) -> str:
        await self._runner.setup()
        site = web.TCPSite(self._runner, host="127.0.0.1", port=0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        await self._runner.cleanup()


class Served:
    """A fake service served on a free loopback port; `_app` gives its routes."""

    url: str
    _server: LocalServer | None

    def _app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> str:
        self._server = LocalServer(self._app())
        self.url = await self._server.start()
        return self.url

    async def stop(self) -> None:
        if self._server:
            await self._server.stop()
