"""Plain-language errors, from one table: Nylas's and the providers' errors (Google's token
endpoint, Microsoft's login endpoint, what Nylas relays of them) mapped to a short reason and
the fix. Modal errors, held runs, summaries, the CSV's fix column and the audit all read this
table; an error it does not know keeps its raw message and request id.

Sources: /work/shared/reference/field-failures.md (Google JWT-bearer and Microsoft AADSTS codes,
Nylas rate limits) and Nylas's error types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Field(StrEnum):
    """Which part of a credential a problem is about (the modal field it belongs under)."""

    KEY = "key"
    MAILBOX = "mailbox"
    SCOPES = "scopes"
    TENANT = "tenant"
    CLIENT_ID = "client_id"
    CLIENT_SECRET = "client_secret"
    NONE = "none"


@dataclass(frozen=True)
class Problem:
    code: str  # a stable name, for grouping failures and in the audit
    reason: str
    fix: str
    field: Field = Field.NONE
    blocking: bool = True  # False: worth saying, but registration may go on (e.g. before consent)
    waits: bool = False  # True: the same call may succeed later (propagation)


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    problem: Problem


DELEGATION_LINK = (
    "https://admin.google.com/ac/owl/domainwidedelegation?clientIdToAdd={client_id}"
    "&clientScopeToAdd={scopes}&overwriteClientId=true"
)


def _rule(pattern: str, problem: Problem) -> _Rule:
    return _Rule(re.compile(pattern, re.IGNORECASE), problem)


RULES: tuple[_Rule, ...] = (
    _rule(
        r"AADSTS7000215",
        Problem(
            "secret_id_not_value",
            "Microsoft refused the client secret: often the secret's ID was pasted, not its value.",
            "In the Azure portal (App registrations → Certificates & secrets) copy the *Value* "
            "column of the secret, not its Secret ID.",
            Field.CLIENT_SECRET,
        ),
    ),
    _rule(
        r"AADSTS7000222",
        Problem(
            "secret_expired",
            "The Azure app's client secret has expired.",
            "Create a new client secret in the Azure portal, then rotate the credential.",
            Field.CLIENT_SECRET,
        ),
    ),
    _rule(
        r"AADSTS700016",
        Problem(
            "app_not_in_tenant",
            "The Azure app is not in that tenant (yet).",
            "Until the customer's admin consents, that is expected: send the consent link next. "
            "Otherwise check the tenant and the app's client id.",
            Field.CLIENT_ID,
            blocking=False,
        ),
    ),
    _rule(
        r"AADSTS50194",
        Problem(
            "common_with_single_tenant_app",
            "`common` was used with a single-tenant Azure app.",
            "Register the credential with the customer's tenant id or domain instead of `common`.",
            Field.TENANT,
        ),
    ),
    _rule(
        r"AADSTS90002",
        Problem(
            "tenant_not_found",
            "Microsoft knows no such tenant.",
            "Check the tenant id (a GUID) or the customer's primary domain.",
            Field.TENANT,
        ),
    ),
    _rule(
        r"AADSTS65001|consent_required|has not consented",
        Problem(
            "consent_not_propagated",
            "Microsoft says admin consent is missing or has not propagated yet.",
            "Wait a few minutes and retry; if it persists, ask the admin to consent again.",
            Field.NONE,
            waits=True,
        ),
    ),
    _rule(
        r"unauthorized_client",
        Problem(
            "delegation_missing",
            "Google refused: domain-wide delegation is missing for this service account or scope.",
            "In the Google Admin console (Security → API controls → Domain-wide delegation) add "
            "the service account's client id with these scopes.",
            Field.SCOPES,
        ),
    ),
    _rule(
        r"Invalid JWT Signature",
        Problem(
            "key_revoked",
            "Google refused the key's signature: the key was deleted or is not this account's.",
            "Create a new JSON key for the service account and register or rotate with it.",
            Field.KEY,
        ),
    ),
    _rule(
        r"short-lived token|reasonable timeframe|Check your iat",
        Problem(
            "clock_skew",
            "Google refused the token's times: this server's clock is off.",
            "Synchronise the clock of the machine running the bot (NTP).",
            Field.KEY,
        ),
    ),
    _rule(
        r"Invalid email or User ID|Not a valid email|invalid_grant.*(user|email)",
        Problem(
            "mailbox_not_found",
            "Google knows no such mailbox in the customer's domain.",
            "Check the address; it must be a user of the Workspace domain the key delegates to.",
            Field.MAILBOX,
        ),
    ),
    _rule(
        r"Delegation denied",
        Problem(
            "delegation_denied",
            "Delegation is set up, but not for this user.",
            "Check the delegation and the user's organisational unit in Google Admin.",
            Field.MAILBOX,
        ),
    ),
)

NYLAS_STATUS: dict[int, Problem] = {
    401: Problem(
        "nylas_api_key",
        "Nylas refused the API key.",
        "Check NYLAS_API_KEY and NYLAS_REGION (a US key does not work on the EU API).",
    ),
    403: Problem(
        "nylas_plan",
        "Nylas refused: the feature is not enabled on this application's plan.",
        "Ask Nylas support to enable bulk authentication (custom auth) for the application.",
    ),
    404: Problem(
        "credential_gone",
        "Nylas no longer has this credential (deleted).",
        "Register the credential again, or pick another.",
    ),
}


def explain(
    message: str, *, status: int | None = None, error_type: str | None = None
) -> Problem | None:
    """The plain-language problem behind an error text (and Nylas's status and type), or None
    when the table does not know it."""
    for rule in RULES:
        if rule.pattern.search(message):
            return rule.problem
    if status == 429:
        own = error_type == "nylas_rate_limit_exceeded"
        return Problem(
            "nylas_rate_limit" if own else "provider_rate_limit",
            "Nylas's rate limit was reached." if own else "The provider is throttling Nylas.",
            "The bot slows down and retries by itself; lower BULKAUTH_NYLAS_RPS if it persists.",
            waits=True,
        )
    return NYLAS_STATUS.get(status or 0)


def by_code(code: str) -> Problem | None:
    """The table's problem of that code (a failure recorded with its code, read back)."""
    for problem in (*(rule.problem for rule in RULES), *NYLAS_STATUS.values()):
        if problem.code == code:
            return problem
    return None


def delegation_link(client_id: str, scopes: list[str]) -> str:
    """The Google Admin console page that adds this delegation, prefilled."""
    return DELEGATION_LINK.format(client_id=client_id, scopes=",".join(scopes))
