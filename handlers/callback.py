"""`GET /nylas/callback`: where Nylas sends the customer's admin after the consent page.

Parameters are read leniently (any case, extra ones ignored); the state must name a known,
unexpired, unused consent request. Anything else gets a 400 page and a security audit event,
limited per source (bot/callback_guard.py). Every page forbids framing, sniffing and any script.
"""

from __future__ import annotations

from aiohttp import web

from bot.consent.links import CALLBACK_PATH, hash_state
from bot.consent.outcome import ConsentOutcome
from bot.consent.pages import bad_callback_page, consent_failed_page, consent_recorded_page
from bot.deps import Deps
from storage.audit import Actor
from storage.consents import find_by_state_hash
from storage.models import ConsentStatus, as_utc, utcnow

MAX_STATE_LENGTH = 256
MAX_ERROR_LENGTH = 500
_ERROR_FIELDS = ("error", "error_description", "error_subcode", "error_uri")
# The pages are static text with one inline stylesheet: nothing else may load, run or frame them.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the address holds the single-use state
    "Cache-Control": "no-store",
}
TOO_MANY = "Too many unusable consent links from this address; wait a minute and try again."


def _error_summary(query: dict[str, str]) -> str:
    parts = [f"{name}: {query[name]}" for name in _ERROR_FIELDS if query.get(name)]
    return "; ".join(parts)[:MAX_ERROR_LENGTH]


def _outcome_of(query: dict[str, str]) -> ConsentOutcome | None:
    if query.get("admin_consent", "").lower() == "true":
        return ConsentOutcome(granted=True)
    if query.get("error"):
        return ConsentOutcome(granted=False, error=_error_summary(query))
    return None


def _page(text: str, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=text,
        content_type="text/html",
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def consent_callback_route(deps: Deps) -> web.RouteDef:
    counted = deps.metrics.consent_callbacks

    async def reject(request: web.Request, reason: str) -> web.Response:
        retry_after = await deps.callback_guard.rejected(request.remote, reason)
        if retry_after is not None:
            counted.labels("limited").inc()
            headers = {"Retry-After": str(retry_after)}
            return _page(bad_callback_page(TOO_MANY), status=429, headers=headers)
        counted.labels("rejected").inc()
        return _page(bad_callback_page(reason), status=400)

    async def callback(request: web.Request) -> web.Response:
        query = {key.lower(): value.strip() for key, value in request.query.items()}
        state = query.get("state", "")
        if not state or len(state) > MAX_STATE_LENGTH:
            return await reject(request, "This address has no valid consent request in it.")
        async with deps.sessions() as session:
            consent = await find_by_state_hash(session=session, state_hash=hash_state(state))
        now = utcnow()
        if consent is None:
            return await reject(request, "This consent link is not known.")
        if consent.status != ConsentStatus.PENDING:
            return await reject(request, "This consent link was already used.")
        if as_utc(consent.expires_at) < now:
            return await reject(request, "This consent link has expired; ask for a new one.")
        outcome = _outcome_of(query)
        if outcome is None:
            return await reject(request, "The answer from Microsoft could not be understood.")
        actor = Actor("nylas-callback", "customer's admin (consent callback)")
        if not await deps.consent_recorder.record(consent, outcome, actor=actor, now=now):
            return await reject(request, "This consent link was already used.")
        counted.labels("recorded" if outcome.granted else "failed").inc()
        page = (
            consent_recorded_page() if outcome.granted else consent_failed_page(outcome.error or "")
        )
        return _page(page)

    return web.get(CALLBACK_PATH, callback)
