"""Fake identity providers as real local HTTP servers: Google's OAuth token endpoint (JWT
bearer for service accounts with domain-wide delegation) and Microsoft's login endpoint
(client credentials), with the failure modes seen in the field (reference/field-failures.md):

Google: a signature made with another key (`Invalid JWT Signature.`), times off by more than a
few minutes (the short-lived-token error), an unknown mailbox (`Invalid email or User ID`), a
scope not delegated (`unauthorized_client`); an assertion without `sub` gets the service
account's own token (proof of the key alone, as the rotation check asks). Microsoft: an unknown
tenant (AADSTS90002), an app not in the tenant (AADSTS700016), a wrong secret or the secret's id
(AADSTS7000215), an expired secret (AADSTS7000222). The Date header carries the fake's clock,
as the real ones do.

`consent_page` is the admin-consent page the customer's Microsoft admin meets through Nylas's
hosted authentication (`GET /v3/connect/auth?response_type=adminconsent…`, served by the fake
Nylas): accept or decline, then the browser goes to the application's `redirect_uri` with
`admin_consent=True` (or Microsoft's `error`) and the `state` it was given.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bot.demo.fakes.http import LocalServer, Served

MAX_SKEW_SECONDS = 300


def _error(status: int, error: str, description: str, *, now: float) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": description},
        status=status,
        headers={"Date": formatdate(now, usegmt=True)},
    )


@dataclass
class ServiceAccount:
    public_pem: bytes
    delegated_scopes: set[str] = field(default_factory=set)


@dataclass
class FakeGoogle(Served):
    accounts: dict[str, ServiceAccount] = field(default_factory=dict)  # by client_email
    mailboxes: set[str] = field(default_factory=set)
    clock_offset: float = 0.0  # seconds the fake's clock is ahead of this machine's
    tokens_issued: int = 0
    url: str = ""
    _server: LocalServer | None = None

    def add_service_account(self, client_email: str, private_pem: str, *scopes: str) -> None:
        key = load_pem_private_key(private_pem.encode(), password=None)
        from cryptography.hazmat.primitives import serialization

        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.accounts[client_email] = ServiceAccount(public, set(scopes))

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self._token)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        now = time.time() + self.clock_offset
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _error(400, "unsupported_grant_type", "Invalid grant_type", now=now)
        assertion = str(form.get("assertion") or "")
        claims: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
        account = self.accounts.get(str(claims.get("iss")))
        if account is None:
            return _error(400, "invalid_grant", "Invalid JWT Signature.", now=now)
        try:
            jwt.decode(
                assertion,
                account.public_pem,
                algorithms=["RS256"],
                audience=self.token_url,
                options={"verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError:
            return _error(400, "invalid_grant", "Invalid JWT Signature.", now=now)
        if abs(float(claims.get("iat", 0)) - now) > MAX_SKEW_SECONDS:
            return _error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
                now=now,
            )
        if "sub" not in claims:  # a token for the service account itself: no delegation
            self.tokens_issued += 1
            return web.json_response(
                {"access_token": f"ya29.fake-{self.tokens_issued}", "expires_in": 3599},
                headers={"Date": formatdate(now, usegmt=True)},
            )
        if str(claims.get("sub")) not in self.mailboxes:
            return _error(400, "invalid_grant", "Invalid email or User ID", now=now)
        wanted = set(str(claims.get("scope", "")).split())
        if not wanted or not wanted <= account.delegated_scopes:
            return _error(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested.",
                now=now,
            )
        self.tokens_issued += 1
        return web.json_response(
            {"access_token": f"ya29.fake-{self.tokens_issued}", "expires_in": 3599},
            headers={"Date": formatdate(now, usegmt=True)},
        )


@dataclass
class AzureApp:
    secrets: set[str]
    secret_ids: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    tenants: set[str] = field(default_factory=set)  # where the app has a service principal


@dataclass
class FakeMicrosoft(Served):
    apps: dict[str, AzureApp] = field(default_factory=dict)  # by client id
    tenants: set[str] = field(default_factory=set)
    tokens_issued: int = 0
    url: str = ""
    _server: LocalServer | None = None

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        now = time.time()
        tenant = request.match_info["tenant"].lower()
        form = await request.post()
        client_id = str(form.get("client_id") or "")
        secret = str(form.get("client_secret") or "")
        if tenant not in self.tenants:
            return _error(
                400,
                "invalid_request",
                f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the "
                "correct tenant ID and are signing into the correct cloud.",
                now=now,
            )
        app = self.apps.get(client_id)
        if app is None or tenant not in app.tenants:
            return _error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
                f"directory '{tenant}'.",
                now=now,
            )
        if secret in app.expired:
            return _error(
                401,
                "invalid_client",
                "AADSTS7000222: The provided client secret keys for app are expired.",
                now=now,
            )
        if secret not in app.secrets:
            return _error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                "the request is the client secret value, not the client secret ID, for a secret "
                f"added to app '{client_id}'.",
                now=now,
            )
        self.tokens_issued += 1
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ0.fake"},
            headers={"Date": formatdate(now, usegmt=True)},
        )


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
