"""Nylas's hosted admin-consent page (`GET /v3/connect/auth?response_type=adminconsent…`), as
the customer's Microsoft admin meets it: one page to accept or decline, after which the admin's
browser goes to the application's `redirect_uri` with `admin_consent=True` (or Microsoft's
`error`) and the `state` it was given, as Nylas redirects after Microsoft's own page."""

from __future__ import annotations

import html
from urllib.parse import urlencode, urlsplit

from aiohttp import web

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Permissions requested (fake Microsoft)</title>
<style>body{{font:16px sans-serif;max-width:34em;margin:3em auto}}a{{display:inline-block;
margin-right:1em;padding:.5em 1em;border:1px solid #0067b8;text-decoration:none}}
a.yes{{background:#0067b8;color:#fff}}</style></head><body>
<p>Fake Microsoft sign-in, as seen by the customer's administrator</p>
<h1>Permissions requested</h1>
<p>An application (Nylas client <code>{client}</code>) asks for permission to read every user's
mailbox and calendar in your organisation{scopes}.</p>
<p><a class="yes" href="{accept}">Accept</a><a href="{decline}">Cancel</a></p>
</body></html>"""


async def consent_page(request: web.Request) -> web.Response:
    query = request.query
    redirect = query.get("redirect_uri", "")
    if query.get("response_type") != "adminconsent" or urlsplit(redirect).scheme not in (
        "http",
        "https",
    ):
        return web.json_response(
            {"error": {"type": "invalid_request", "message": "redirect_uri is required"}},
            status=400,
        )
    state = query.get("state", "")
    accept = f"{redirect}?{urlencode({'admin_consent': 'True', 'state': state})}"
    declined = {
        "error": "access_denied",
        "error_description": "AADSTS65004: User declined to consent to access the app.",
        "state": state,
    }
    scopes = f" ({html.escape(query['scope'])})" if query.get("scope") else ""
    page = PAGE.format(
        client=html.escape(query.get("client_id", "")),
        scopes=scopes,
        accept=html.escape(accept, quote=True),
        decline=html.escape(f"{redirect}?{urlencode(declined)}", quote=True),
    )
    return web.Response(text=page, content_type="text/html")
