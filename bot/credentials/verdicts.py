"""Trying a new credential with its provider while the modal waits (inside the ack's budget),
and turning what the provider said into the modal's field errors, unless the person chose to
register anyway."""

from __future__ import annotations

from collections.abc import Callable

from bot.credentials.checks import Finding, ProviderChecks
from bot.credentials.forms import GoogleForm, MicrosoftForm
from bot.credentials.messages import REGISTER_ANYWAY
from bot.errors import UserInputError
from bot.ids import BlockId
from bot.nylas.consent import COMMON_TENANT
from bot.nylas.problems import Field, delegation_link
from bot.nylas.scopes import GMAIL_READONLY
from bot.slack.forms import ViewState


async def check_google(
    checks: ProviderChecks, state: ViewState, form: GoogleForm, key_block: str
) -> tuple[str, tuple[str, ...]]:
    """Try the key for the test mailbox, once per scope (inside the ack's budget)."""
    mailbox = state.text(BlockId.TEST_MAILBOX)
    if not mailbox:
        return "skipped", ()
    scopes = state.selected_many(BlockId.TEST_SCOPES) or [GMAIL_READONLY]
    findings = await checks.google(form.key, mailbox=mailbox, scopes=scopes)
    return verdict(
        state,
        findings,
        fields={
            Field.SCOPES: BlockId.TEST_SCOPES,
            Field.MAILBOX: BlockId.TEST_MAILBOX,
            Field.KEY: key_block,
        },
        link=lambda failing: delegation_link(form.key.client_id or form.key.client_email, failing),
    )


def verdict(
    state: ViewState,
    findings: list[Finding],
    *,
    fields: dict[Field, str],
    link: Callable[[list[str]], str] | None = None,
) -> tuple[str, tuple[str, ...]]:
    """(check outcome, problem codes) for the audit; raises the modal's field errors when a
    blocking problem was found and the person did not choose to register anyway."""
    problems = [f for f in findings if f.problem is not None]
    codes = tuple(sorted({f.problem.code for f in problems if f.problem is not None}))
    blocking = [f for f in problems if f.problem is not None and f.problem.blocking]
    if not blocking:
        return ("passed" if not problems else "warned"), codes
    if REGISTER_ANYWAY in state.checked(BlockId.REGISTER_ANYWAY):
        return "overridden", codes
    errors: dict[str, str] = {}
    for finding in blocking:
        assert finding.problem is not None
        problem = finding.problem
        block = fields.get(problem.field, BlockId.CREDENTIAL_NAME)
        failing = [f.subject for f in blocking if f.problem == problem]
        text = f"{problem.reason} {problem.fix}"
        if problem.code == "delegation_missing" and link is not None:
            text = f"{problem.reason} Not delegated: {', '.join(failing)}. Add it: {link(failing)}"
        errors.setdefault(block, text + " (Tick “Register even if the check fails” to go on.)")
    raise UserInputError("The check with the provider failed.", errors)


async def check_microsoft(
    checks: ProviderChecks, state: ViewState, form: MicrosoftForm, secret: str
) -> tuple[str, tuple[str, ...]]:
    """A client-credentials token for the tenant proves the app and its secret; `common` and
    the connector's own app cannot be checked this way."""
    data = form.data
    if data.client_id is None or data.tenant.lower() == COMMON_TENANT:
        return "not possible", ()
    finding = await checks.microsoft(
        tenant=data.tenant, client_id=data.client_id, client_secret=secret
    )
    return verdict(
        state,
        [finding],
        fields={
            Field.CLIENT_SECRET: BlockId.CLIENT_SECRET,
            Field.CLIENT_ID: BlockId.CLIENT_ID,
            Field.TENANT: BlockId.TENANT,
        },
    )
