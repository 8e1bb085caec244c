"""The `/bulkauth status` answer: runs by state, open consent requests, expiring secrets."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.blocks import Message, context, escape, lines_section, short
from bot.blocks.times import slack_date_time, slack_time
from bot.home.controls import run_controls
from bot.home.dashboard import OpenConsent, RunLine, StatusReport
from bot.ids import CommandName
from bot.runs.kinds import run_title
from bot.runs.messages import progress_bar
from storage.models import ConsentStatus, CredentialRecord, RunStatus, as_utc

MORE_RUNS = " (`bulkauth runs list` shows them all)"


def _counts(line: RunLine) -> str:
    counts = line.counts
    return (
        f"created {counts['created']:,} · re-authenticated {counts['reauthenticated']:,} · "
        f"skipped {counts['skipped']:,} · failed {counts['failed']:,}"
    )


def run_line(line: RunLine) -> str:
    """One run in one line, saying what matters in its state."""
    run = line.run
    head = f"*{run_title(run.kind, line.run_id)}* · {escape(short(line.credential_name))}"
    requested = f"requested by <@{run.requested_by}>"
    status = RunStatus(run.status)
    if status == RunStatus.AWAITING_APPROVAL:
        return f"{head} · {run.total:,} users · {requested} {slack_date_time(run.created_at)}"
    if status in (RunStatus.RUNNING, RunStatus.APPROVED, RunStatus.HELD):
        percent = 100 * line.done // run.total if run.total else 100
        state = {RunStatus.APPROVED: "starting", RunStatus.HELD: "held"}.get(status, f"{percent}%")
        bar = f"`{progress_bar(line.done, run.total)}` {line.done:,}/{run.total:,} ({state})"
        return f"{head} · {bar} · {requested}"
    if status == RunStatus.WAITING_FOR_CONSENT:
        ready = f"ready at {slack_time(run.start_after)}" if run.start_after else "waiting"
        return f"{head} · {run.total:,} users · {ready} · {requested}"
    if status == RunStatus.REJECTED:
        when = slack_date_time(run.decided_at) if run.decided_at else ""
        return f"{head} · rejected by <@{run.approved_by}> {when} · {requested}"
    when = slack_date_time(run.finished_at) if run.finished_at else ""
    return f"{head} · {status.value} {when} · {_counts(line)}"


def consent_line(consent: OpenConsent) -> str:
    request = consent.request
    name = escape(short(consent.credential_name))
    if request.status == ConsentStatus.CONSENTED and request.ready_at is not None:
        return f"*{name}* · consented, propagating: ready at {slack_time(request.ready_at)}"
    return (
        f"*{name}* · link sent by <@{request.requested_by}> {slack_date_time(request.created_at)}"
        f" · expires {slack_date_time(request.expires_at)}"
    )


def secret_line(record: CredentialRecord, report: StatusReport) -> str:
    assert record.secret_expires_on is not None
    days = (record.secret_expires_on - as_utc(report.now).date()).days
    when = (
        f"expired {-days} day{'s' if days != -1 else ''} ago"
        if days < 0
        else "expires today"
        if days == 0
        else f"expires in {days} day{'s' if days != 1 else ''}"
    )
    tenant = f" · tenant `{escape(short(record.tenant))}`" if record.tenant else ""
    return f"*{escape(short(record.name))}*{tenant} · {record.secret_expires_on:%Y-%m-%d}: {when}"


def build_status_message(report: StatusReport) -> Message:
    running = report.runs_in(RunStatus.RUNNING, RunStatus.APPROVED, RunStatus.HELD)
    ended = report.runs_in(RunStatus.FINISHED, RunStatus.CANCELLED, RunStatus.REJECTED)
    sections = [
        (
            ":raised_hand: *Awaiting approval*",
            report.runs_in(RunStatus.AWAITING_APPROVAL),
            "No run awaits approval.",
        ),
        (":arrow_forward: *Running*", running, "No run is running."),
        (
            ":stopwatch: *Waiting for consent propagation*",
            report.runs_in(RunStatus.WAITING_FOR_CONSENT),
            "No run is waiting for consent.",
        ),
        (":checkered_flag: *Ended in the last 7 days*", ended, "No run ended in the last 7 days."),
    ]
    blocks: list[Block] = [
        lines_section(
            f"{title} ({len(lines)})",
            [run_line(line) for line in lines],
            empty=empty,
            more_hint=MORE_RUNS,
        )
        for title, lines, empty in sections
    ]
    blocks += run_controls(
        [
            *report.runs_in(RunStatus.AWAITING_APPROVAL),
            *running,
            *report.runs_in(RunStatus.WAITING_FOR_CONSENT),
        ]
    )
    blocks.append(
        lines_section(
            f":email: *Consent requests open* ({len(report.consents)})",
            [consent_line(consent) for consent in report.consents],
            empty="No consent link is waiting for an admin, and none is propagating.",
        )
    )
    blocks.append(
        lines_section(
            f":key: *Microsoft client secrets expiring within 30 days* ({len(report.expiring)})",
            [secret_line(record, report) for record in report.expiring],
            empty="None.",
        )
    )
    blocks.append(
        context(
            f"As of {slack_date_time(report.now)}. Who did what: `{CommandName.BULKAUTH} audit`."
        )
    )
    summary = (
        f"{len(report.runs_in(RunStatus.AWAITING_APPROVAL))} awaiting approval, "
        f"{len(running)} running, {len(report.consents)} consent requests open"
    )
    return Message(text=f"bulkauth status: {summary}", blocks=blocks)
