"""What `/bulkauth audit [filter]` and `bulkauth audit list [filter]` ask for.

One word (or phrase) picks the filter: an email address, a person (`<@U…>` as Slack escapes a
mention, a bare user id, or `cli:<user>`), a run (`42`, `#42`, `run 42`), or else a credential's
name or Nylas id. The parsed query is also the "Export CSV" button's value.
"""

from __future__ import annotations

import re

from bot.blocks import escape
from bot.blocks.metadata import MAX_DB_ID, DbId, Ref
from bot.errors import UserInputError
from bot.runtime.addresses import normalise
from storage.audit import CLI_ACTOR_PREFIX, AuditFilter
from storage.credentials import find_credential
from storage.db import Sessions

_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_MAILTO = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$")  # Slack escapes addresses this way
_CHANNEL = re.compile(r"^<[#!]")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")
_RUN = re.compile(r"^(?:run\s*[#:-]?\s*|#)?(\d{1,12})$", re.IGNORECASE)
USAGE = (
    "Filter by an email address, a person (@mention), a credential's name or id, or a run id; "
    "or give no filter for the latest events."
)


class AuditQuery(Ref):
    """One resolved filter (at most one field is set; none means every event)."""

    email: str | None = None
    actor_id: str | None = None
    credential_id: str | None = None  # the Nylas credential id
    credential_name: str | None = None
    run_id: DbId | None = None

    def filters(self) -> AuditFilter:
        return AuditFilter(
            email=self.email,
            actor_id=self.actor_id,
            credential_id=self.credential_id,
            run_id=self.run_id,
        )

    def describe(self) -> str:
        """In words, as mrkdwn: 'mailbox `a@b.com`', 'what <@U1> did', …"""
        if self.email:
            return f"mailbox `{escape(self.email)}`"
        if self.actor_id:
            who = self.actor_id
            return f"what {f'<@{who}>' if _USER_ID.match(who) else f'`{escape(who)}`'} did"
        if self.credential_id:
            return f"credential *{escape(self.credential_name or '')}* (`{self.credential_id}`)"
        if self.run_id is not None:
            return f"run {self.run_id}"
        return "every event"

    def slug(self) -> str:
        """For file names: audit-<slug>.csv."""
        for value in (self.email, self.actor_id, self.credential_name, self.run_id):
            if value:
                return re.sub(r"[^A-Za-z0-9.@-]+", "-", str(value)).strip("-")[:60]
        return "all"


def parse_audit_filter(text: str) -> AuditQuery | str:
    """The query, or the text to look up as a credential name or id."""
    text = text.strip()
    if not text:
        return AuditQuery()
    if mention := _MENTION.match(text):
        return AuditQuery(actor_id=mention.group(1))
    if _CHANNEL.match(text):
        raise UserInputError(f"`{escape(text)}` is not something the log is kept by. {USAGE}")
    if mailto := _MAILTO.match(text):
        text = mailto.group(1)
    if _USER_ID.match(text) or text.lower().startswith(CLI_ACTOR_PREFIX):
        return AuditQuery(actor_id=text)
    if run := _RUN.match(text):
        if not 1 <= int(run.group(1)) <= MAX_DB_ID:
            raise UserInputError(f"There is no run {run.group(1)}: run ids are small numbers.")
        return AuditQuery(run_id=int(run.group(1)))
    if "@" in text:
        email = normalise(text)
        if email is None:
            raise UserInputError(f"`{escape(text)}` is not a valid email address.")
        return AuditQuery(email=email)
    return text


async def resolve_audit_filter(sessions: Sessions, text: str) -> AuditQuery:
    """Parse `text`; a credential is looked up by name (any case) or Nylas id."""
    parsed = parse_audit_filter(text)
    if isinstance(parsed, AuditQuery):
        return parsed
    async with sessions() as session:
        credential = await find_credential(session=session, name_or_id=parsed)
    if credential is None:
        raise UserInputError(
            f"No credential is named `{escape(parsed)}` or has that id, and it is not an email "
            f"address, a person or a run id. {USAGE}"
        )
    return AuditQuery(credential_id=credential.nylas_credential_id, credential_name=credential.name)
