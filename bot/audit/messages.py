"""The `/bulkauth audit` answer, and audit events as one readable line each."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
)

from bot.audit.query import AuditQuery
from bot.blocks import Message, context, escape, markdown, short
from bot.blocks.times import local_time
from bot.ids import ActionId
from bot.nylas.problems import by_code, explain
from storage.audit import AuditAction
from storage.models import AuditEvent

ANSWER_EVENTS = 20
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]+$")
ACTION_LABELS: dict[str, str] = {
    AuditAction.CREDENTIAL_REGISTERED: "registered credential",
    AuditAction.CREDENTIAL_REGISTRATION_FAILED: "could not register a credential",
    AuditAction.CREDENTIAL_ROTATED: "rotated the secret or key of",
    AuditAction.CREDENTIAL_REMINDER_SENT: "reminded of the expiry of",
    AuditAction.CONSENT_LINK_ISSUED: "issued an admin-consent link",
    AuditAction.CONSENT_GRANTED: "recorded admin consent",
    AuditAction.CONSENT_FAILED: "admin consent failed",
    AuditAction.CONSENT_CALLBACK_REJECTED: "a consent callback was rejected",
    AuditAction.CONSENT_REMINDER_SENT: "sent the consent reminder",
    AuditAction.RUN_REQUESTED: "requested",
    AuditAction.RUN_APPROVED: "approved",
    AuditAction.RUN_REJECTED: "rejected",
    AuditAction.RUN_STARTED: "started",
    AuditAction.RUN_FINISHED: "finished",
    AuditAction.RUN_CANCELLED: "cancelled",
    AuditAction.RUN_HELD: "held",
    AuditAction.RUN_RESUMED: "resumed",
    AuditAction.RUN_EXPIRED: "expired undecided",
    AuditAction.RUN_REMINDED: "reminded approvers",
    AuditAction.GRANT_CREATED: "created a grant for",
    AuditAction.GRANT_REAUTHENTICATED: "re-authenticated the grant of",
    AuditAction.GRANT_FAILED: "could not create a grant for",
    AuditAction.GRANT_SKIPPED: "skipped",
    AuditAction.GRANT_REVOKED: "revoked the grant of",
    AuditAction.CREDENTIAL_DELETED: "deleted credential",
    AuditAction.GRANT_FOUND_INVALID: "found invalid the grant of",
    AuditAction.GRANT_RECOVERED: "found no longer invalid the grant of",
    AuditAction.HEALTH_SWEPT: "swept the grants for invalid ones",
    AuditAction.ACCESS_DENIED: "was refused access",
    AuditAction.INPUT_REJECTED: "had input refused",
    AuditAction.AUDIT_QUERIED: "searched the audit log",
    AuditAction.AUDIT_EXPORTED: "exported the audit log",
    AuditAction.NYLAS_GRANT_CREATED: "reported a new grant for",
    AuditAction.NYLAS_GRANT_UPDATED: "reported an updated grant of",
    AuditAction.NYLAS_GRANT_EXPIRED: "reported an expired grant of",
    AuditAction.NYLAS_GRANT_DELETED: "reported a deleted grant of",
    AuditAction.WEBHOOK_REJECTED: "a webhook request was rejected",
    AuditAction.ALERT_MUTED: "muted the alerts of",
    AuditAction.ALERT_LIST_SENT: "asked for the list of an alert",
}


def actor_text(actor_id: str, actor_name: str) -> str:
    """A Slack user as a mention; the CLI or the bot itself by name."""
    return f"<@{actor_id}>" if _SLACK_USER.match(actor_id) else f"`{escape(actor_name)}`"


def _details(event: AuditEvent) -> dict[str, object]:
    try:
        loaded = json.loads(event.details)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _subject(event: AuditEvent, credential_names: Mapping[str, str]) -> list[str]:
    parts = []
    if event.email:
        parts.append(f"`{escape(event.email)}`")
    if event.run_id is not None:
        parts.append(f"run {event.run_id}")
    if event.credential_id:
        name = credential_names.get(event.credential_id)
        parts.append(f"*{escape(short(name))}*" if name else f"`{escape(event.credential_id)}`")
    if event.grant_id:
        parts.append(f"grant `{escape(event.grant_id)}`")
    return parts


def _notes(event: AuditEvent) -> list[str]:
    details = _details(event)
    notes = []
    approver = details.get("approved_by")
    if isinstance(approver, str) and approver:
        notes.append(f"approved by {actor_text(approver, approver)}")
    for key in ("error", "reason"):
        value = details.get(key)
        if isinstance(value, str) and value:
            notes.append(_plain(value, details.get("problem")))
    if event.outcome not in ("ok", ""):
        notes.insert(0, f"*{escape(event.outcome)}*")
    return notes


def _plain(error: str, code: object) -> str:
    """The table's plain reason (recorded code, or read from the text), then the raw words."""
    problem = (by_code(code) if isinstance(code, str) else None) or explain(error)
    if problem is None:
        return escape(short(error, 160))
    return f"{escape(problem.reason)} ({escape(short(error, 80))})"


def event_line(event: AuditEvent, tz: ZoneInfo, credential_names: Mapping[str, str]) -> str:
    """`2026-11-29 14:03 GMT · @ada created a grant for `bob@acme.com` · run 3 · …`"""
    action = ACTION_LABELS.get(event.action, escape(event.action))
    head = f"{actor_text(event.actor_id, event.actor_name)} {action}"
    subject = _subject(event, credential_names)
    if subject and event.action.startswith(("grant.", "run.", "credential.", "consent.")):
        head += " " + subject.pop(0)
    parts = [f"`{local_time(event.occurred_at, tz)}`", head, *subject, *_notes(event)]
    return " · ".join(parts)


def build_audit_answer(
    query: AuditQuery,
    events: Sequence[AuditEvent],
    *,
    matching: int,
    tz: ZoneInfo,
    credential_names: Mapping[str, str],
) -> Message:
    """The newest events (newest first), one section each, and the Export CSV button."""
    about = query.describe()
    if not events:
        text = f"No audit events match {about}."
        return Message(text=text, blocks=[markdown(text)])
    heading = (
        f"*Audit log: {about}*, newest first: {len(events):,} of {matching:,} "
        f"event{'s' if matching != 1 else ''} (times in {tz.key})"
    )
    blocks: list[Block] = [markdown(heading)]
    blocks += [markdown(event_line(event, tz, credential_names)) for event in events]
    blocks.append(
        ActionsBlock(
            elements=[
                ButtonElement(
                    action_id=ActionId.EXPORT_AUDIT,
                    text="Export CSV",
                    value=query.model_dump_json(exclude_none=True),
                )
            ]
        )
    )
    blocks.append(
        context(
            f"Export CSV sends all {matching:,} matching events to you as a direct "
            "message. Every search and export is itself in the audit log."
        )
    )
    return Message(text=f"Audit log: {len(events)} of {matching} events", blocks=blocks)
