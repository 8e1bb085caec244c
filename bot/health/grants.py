"""The grants of each registered credential as Nylas sees them: List Grants (paged to the end,
through the shared client and its rate limit) matched to the bot's credentials by the grant's
`credential_id`, or, when Nylas leaves it out, by the runs that made the grant."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

from bot.nylas.client import NylasClient
from bot.nylas.models import Grant, GrantFilters, GrantStatus, Provider
from storage.db import Sessions
from storage.grant_owners import owners_by_email, owners_by_grant_id
from storage.models import CredentialRecord

PROVIDERS: tuple[Provider, ...] = ("google", "microsoft")
# Called before each page is asked for: the sweep paces itself there (a small share of the rate).
PageGate = Callable[[], Awaitable[None]]


async def list_grants(
    nylas: NylasClient,
    provider: Provider,
    *,
    status: GrantStatus | None = None,
    gate: PageGate | None = None,
) -> list[Grant]:
    """Every grant of `provider` (with `status`), newest first, every page."""
    filters = GrantFilters(
        provider=provider, grant_status=status, sort_by="updated_at", order_by="desc"
    )
    return [grant async for grant in nylas.iter_grants(filters, before_page=gate)]


async def by_credential(
    sessions: Sessions,
    credentials: Sequence[CredentialRecord],
    provider: Provider,
    grants: Sequence[Grant],
) -> dict[int, list[Grant]]:
    """The grants of each of `credentials` (the bot's ids); grants of no registered credential
    are left out."""
    by_nylas_id = {c.nylas_credential_id: c.id for c in credentials if c.id is not None}
    mine = {c.id for c in credentials if c.provider == provider}
    owned: dict[int, list[Grant]] = defaultdict(list)
    unknown: list[Grant] = []
    for grant in grants:
        owner = by_nylas_id.get(grant.credential_id or "")
        if owner is not None:
            owned[owner].append(grant)
        elif not grant.credential_id:
            unknown.append(grant)
    if unknown:
        async with sessions() as session:
            by_id = await owners_by_grant_id(session=session, grant_ids=[g.id for g in unknown])
            by_email = await owners_by_email(
                session=session,
                emails=[g.email for g in unknown if g.email and g.id not in by_id],
                provider=provider,
            )
        for grant in unknown:
            owner = by_id.get(grant.id) or by_email.get((grant.email or "").lower())
            if owner is not None and owner in mine:
                owned[owner].append(grant)
    return dict(owned)
