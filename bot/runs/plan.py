"""The dry-run plan of a request: who is new, who already has a grant, what it will cost, and
its summary as approvers and the requester read it (per kind: grant, re-authentication,
revocation, credential deletion)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.blocks import escape
from bot.blocks.times import duration, slack_time
from bot.nylas.models import Grant
from bot.runs.emails import UserList
from bot.slack.access import SlackActor
from storage.models import CredentialRecord, ItemStatus, RequestKind
from storage.runs import ItemPreset

MAX_LISTED_INVALID = 20


@dataclass(frozen=True)
class GrantRequest:
    """A checked request modal: everything planning needs, nothing Slack-shaped."""

    credential: CredentialRecord | None  # None: a revocation across every credential (`across`)
    candidates: tuple[str, ...]  # as given; folded while planning
    scopes: tuple[str, ...]
    skip_existing: bool
    start_after: datetime | None = None
    reason: str = ""  # why: shown to approvers, in progress, the CSV and the audit
    # GRANT: create grants (and re-authenticate those that exist); REAUTHENTICATE: only the
    # existing grants of these users (bot/health/reauth.py), the same call, keeping their ids.
    kind: RequestKind = RequestKind.GRANT
    only_grants: frozenset[str] = frozenset()  # undoing a run: just the grants it created
    across: tuple[CredentialRecord, ...] = ()  # every credential the bot knows (credential None)


@dataclass(frozen=True)
class Target:  # one grant a revocation across every credential deletes
    email: str
    grant_id: str
    credential: str  # the grant's Nylas credential id
    invalid: bool


ALL_CREDENTIALS = "All credentials"


@dataclass(frozen=True)
class Plan:
    credential_id: int | None  # None: a revocation across every credential
    credential_name: str
    nylas_credential_id: str
    provider: str
    scopes: tuple[str, ...]
    skip_existing: bool
    users: UserList
    new: tuple[str, ...]
    existing_valid: Mapping[str, str]  # email -> grant id
    existing_invalid: Mapping[str, str]
    start_after: datetime | None = None
    kind: RequestKind = RequestKind.GRANT
    # Deleting the credential: its grants at Nylas, and the mailboxes the bot's runs granted.
    dependents: int = 0
    bot_grants: int = 0
    # Across every credential: (Nylas credential id, "name (Provider)") of each, and the grants.
    across: tuple[tuple[str, str], ...] = ()
    targets: tuple[Target, ...] = ()

    @property
    def revokes(self) -> bool:
        return self.kind == RequestKind.REVOKE

    @property
    def all_credentials(self) -> bool:
        return self.revokes and self.credential_id is None

    @property
    def calls(self) -> int:
        """Custom Authentication calls the run will make (a revocation: DELETE calls, one per
        user who has a grant of the credential)."""
        if self.all_credentials:
            return len(self.targets)
        if self.revokes:
            return len(self.existing_valid) + len(self.existing_invalid)
        if self.kind == RequestKind.DELETE_CREDENTIAL:
            return 1
        reauth_valid = 0 if self.skip_existing else len(self.existing_valid)
        return len(self.new) + len(self.existing_invalid) + reauth_valid

    def estimated_seconds(self, rate_per_second: float) -> float:
        return self.calls / rate_per_second

    @property
    def size(self) -> int:
        """Items of the run: one per user (across every credential, one per grant)."""
        if self.kind == RequestKind.DELETE_CREDENTIAL:
            return 0
        if self.all_credentials:
            having = {target.email for target in self.targets}
            return len(self.targets) + sum(1 for e in self.users.emails if e not in having)
        return len(self.users.emails)

    def items(self) -> Iterator[ItemPreset]:
        """(email, starting status, known grant id[, its credential]) for every user, in list
        order; across every credential, one per grant. Made one at a time as they are written,
        so a big run's rows are never all in memory."""
        if self.kind == RequestKind.DELETE_CREDENTIAL:
            return  # a request without users
        if self.all_credentials:
            yield from _target_items(self.users.emails, self.targets)
            return
        if self.revokes:  # a user without a grant has nothing to revoke
            known = {**self.existing_valid, **self.existing_invalid}
            for email in self.users.emails:
                status = ItemStatus.PENDING if email in known else ItemStatus.SKIPPED
                yield email, status, known.get(email)
            return
        for email in self.users.emails:
            if email in self.existing_valid:
                status = ItemStatus.SKIPPED if self.skip_existing else ItemStatus.PENDING
                yield email, status, self.existing_valid[email]
            else:
                yield email, ItemStatus.PENDING, self.existing_invalid.get(email)

    def skipped(self) -> Iterator[tuple[str, str | None]]:
        """(email, grant id) of the users the run skips: they have a valid grant (a grant run),
        or no grant to revoke (a revocation)."""
        for email, status, grant_id, *_ in self.items():
            if status == ItemStatus.SKIPPED:
                yield email, grant_id


def _target_items(emails: Sequence[str], targets: Sequence[Target]) -> Iterator[ItemPreset]:
    grants: dict[str, list[ItemPreset]] = {}
    for t in targets:
        row: ItemPreset = (t.email, ItemStatus.PENDING, t.grant_id, t.credential)
        grants.setdefault(t.email, []).append(row)
    for email in emails:
        yield from grants.get(email, [(email, ItemStatus.SKIPPED, None, "")])


def make_all_plan(request: GrantRequest, users: UserList, existing: list[Grant]) -> Plan:
    """Each user's grants of any credential the bot knows (not those of other credentials)."""
    known = {c.nylas_credential_id for c in request.across}
    wanted = set(users.emails)
    targets = tuple(
        Target(g.email.lower(), g.id, g.credential_id or "", g.grant_status == "invalid")
        for g in existing
        if g.email and g.email.lower() in wanted and g.credential_id in known
    )
    having = {t.email for t in targets}
    return Plan(
        credential_id=None,
        credential_name=ALL_CREDENTIALS,
        nylas_credential_id="",
        provider="all",
        scopes=(),
        skip_existing=False,
        users=users,
        new=tuple(email for email in users.emails if email not in having),
        existing_valid={},
        existing_invalid={},
        kind=RequestKind.REVOKE,
        across=tuple(
            (c.nylas_credential_id, f"{c.name} ({c.provider.title()})") for c in request.across
        ),
        targets=targets,
    )


def make_plan(request: GrantRequest, users: UserList, existing: list[Grant]) -> Plan:
    """Sort the users by what Nylas already has for them (one List Grants pass)."""
    credential = request.credential
    if credential is None:
        return make_all_plan(request, users, existing)
    assert credential.id is not None
    if request.kind == RequestKind.REVOKE:  # only the grants of this credential are revoked
        existing = [g for g in existing if g.credential_id == credential.nylas_credential_id]
        if request.only_grants:
            existing = [g for g in existing if g.id in request.only_grants]
    by_email = {grant.email.lower(): grant for grant in existing if grant.email}
    new: list[str] = []
    valid: dict[str, str] = {}
    invalid: dict[str, str] = {}
    for email in users.emails:
        grant = by_email.get(email)
        if grant is None:
            new.append(email)
        elif grant.grant_status == "invalid":
            invalid[email] = grant.id
        else:
            valid[email] = grant.id
    return Plan(
        credential_id=credential.id,
        credential_name=credential.name,
        nylas_credential_id=credential.nylas_credential_id,
        provider=credential.provider,
        scopes=request.scopes,
        skip_existing=request.skip_existing,
        users=users,
        new=tuple(new),
        existing_valid=valid,
        existing_invalid=invalid,
        start_after=request.start_after,
        kind=request.kind,
    )


@dataclass(frozen=True)
class PendingPlan:
    plan: Plan
    requester: SlackActor
    channel_id: str
    reason: str = ""


def _per_credential(plan: Plan) -> list[str]:
    lines = []
    for nylas_id, label in plan.across:
        mine = [t for t in plan.targets if t.credential == nylas_id]
        bad = sum(t.invalid for t in mine)
        already = f" ({bad:,} of them already invalid)" if bad else ""
        lines.append(f"• *{escape(label)}*: {len(mine):,} grants will be deleted{already}")
    return [*lines, f"• {len(plan.new):,} have no grant of any credential: nothing to do"]


def revoke_summary(plan: Plan, rate: float) -> str:
    """The dry run of a revocation: who has a grant of the credential, who has none."""
    entries = (
        f"• {plan.users.submitted:,} entries: {len(plan.users.emails):,} users, "
        f"{plan.users.duplicates:,} duplicates folded, {len(plan.users.invalid):,} invalid"
    )
    if plan.all_credentials:
        head = f"*{ALL_CREDENTIALS}*: *revoke every grant of these users*"
        return "\n".join([head, entries, *_per_credential(plan), *_revoke_tail(plan, rate)])
    lines = [
        f"*{escape(plan.credential_name)}* ({plan.provider.title()}): *revoke grants*",
        entries,
        f"• {plan.calls:,} have a grant of this credential: it will be deleted "
        f"({len(plan.existing_invalid):,} of them already invalid)",
        f"• {len(plan.new):,} have no grant of this credential: nothing to do",
        *_revoke_tail(plan, rate),
    ]
    return "\n".join(lines)


def _revoke_tail(plan: Plan, rate: float) -> list[str]:
    return [
        f"• {plan.calls:,} DELETE calls to Nylas, about "
        f"{duration(plan.estimated_seconds(rate))} at {rate:g} per second",
        ":warning: Deleting a grant is permanent. An expired grant needs re-authentication, "
        "not deletion.",
    ]


def deletion_summary(plan: Plan) -> str:
    return (
        f"*Delete the credential {escape(plan.credential_name)}* ({plan.provider.title()}, "
        f"`{escape(plan.nylas_credential_id)}`)\n• {plan.dependents:,} grants at Nylas use it: "
        f"they all stop working at once\n• the bot's runs gave {plan.bot_grants:,} mailboxes "
        "a grant with it\n:warning: Deleting a credential cannot be undone."
    )


def _reauth_lines(plan: Plan) -> list[str]:
    return [
        f"• {len(plan.existing_invalid):,} invalid grants: re-authenticated with the same "
        "Custom Authentication call, each keeping its grant id",
    ]


def plan_summary(plan: Plan, rate: float) -> str:
    if plan.revokes:
        return revoke_summary(plan, rate)
    if plan.kind == RequestKind.DELETE_CREDENTIAL:
        return deletion_summary(plan)
    existing = len(plan.existing_valid)
    head = f"*{escape(plan.credential_name)}* ({plan.provider.title()})" + (
        f", scopes: {', '.join(f'`{escape(s)}`' for s in plan.scopes)}" if plan.scopes else ""
    )
    if plan.kind == RequestKind.REAUTHENTICATE:
        lines = [head, *_reauth_lines(plan)]
    else:
        lines = [head, *_grant_lines(plan, existing)]
    lines.append(
        f"• {plan.calls:,} Nylas calls, about {duration(plan.estimated_seconds(rate))} at "
        f"{rate:g} per second"
    )
    if plan.start_after is not None:
        lines.append(
            f"• Starts automatically at {slack_time(plan.start_after)}, when the "
            "consent wait is over"
        )
    if plan.users.invalid:
        shown = ", ".join(
            f"`{escape(address)}`" for address in plan.users.invalid[:MAX_LISTED_INVALID]
        )
        more = len(plan.users.invalid) - MAX_LISTED_INVALID
        lines.append(f"Invalid addresses: {shown}" + (f" and {more:,} more" if more > 0 else ""))
    return "\n".join(lines)


def _grant_lines(plan: Plan, existing: int) -> list[str]:
    return [
        f"• {plan.users.submitted:,} entries: {len(plan.users.emails):,} users, "
        f"{plan.users.duplicates:,} duplicates folded, {len(plan.users.invalid):,} invalid",
        f"• {len(plan.new):,} new users: grants will be created",
        f"• {existing:,} already have a valid grant: "
        + ("skipped" if plan.skip_existing else "re-authenticated"),
        f"• {len(plan.existing_invalid):,} have an invalid grant: re-authenticated",
    ]
