"""Microsoft admin-consent requests."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ConsentRequest


async def latest_consents(
    *, session: AsyncSession, credential_ids: list[int]
) -> dict[int, ConsentRequest]:
    """The newest consent request of each credential that has one."""
    if not credential_ids:
        return {}
    query = (
        select(ConsentRequest)
        .where(col(ConsentRequest.credential_id).in_(credential_ids))
        .order_by(col(ConsentRequest.id))
    )
    latest: dict[int, ConsentRequest] = {}
    for consent in (await session.exec(query)).all():
        latest[consent.credential_id] = consent
    return latest
