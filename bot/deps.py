"""The typed bundle of long-lived resources that handlers receive as `deps`."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.alerts.publisher import AlertPublisher
from bot.consent.guard import RejectionGuard
from bot.consent.outcome import ConsentRecorder
from bot.consent.reminders import ReminderService
from bot.credentials.checks import ProviderChecks
from bot.credentials.forms import PendingRegistration
from bot.credentials.registration import CredentialRegistrar
from bot.health.checking import HealthChecker
from bot.health.reauth import Reauthenticator
from bot.health.sweep import HealthSweep
from bot.home.tab import HomeTab
from bot.lifecycle.reminders import ExpiryReminders
from bot.lifecycle.rotation import CredentialRotator
from bot.logs import Redactor
from bot.metrics import Metrics
from bot.nylas.client import NylasClient
from bot.offboarding.deletion import CredentialDeletion
from bot.runs.approving import ApprovalDesk
from bot.runs.execution.engine import RunEngine
from bot.runs.lifecycle import Runs
from bot.runs.plan import PendingPlan
from bot.runs.planning import Planner
from bot.runs.report import RunReporter
from bot.runtime.pending import PendingStore
from bot.runtime.tasks import BackgroundTasks
from bot.settings import Settings
from bot.slack.access import AccessPolicy
from bot.slack.files import SlackFiles
from bot.webhooks.endpoint import WebhookReceiver
from storage.db import Sessions


@dataclass(frozen=True)
class Deps:
    settings: Settings
    redactor: Redactor
    slack: AsyncWebClient
    access: AccessPolicy
    nylas: NylasClient
    database: AsyncEngine
    sessions: Sessions
    tasks: BackgroundTasks
    http: aiohttp.ClientSession
    files: SlackFiles  # downloads of files users upload in modals
    plans: PendingStore[PendingPlan]  # dry runs awaiting the requester's confirmation
    registrations: PendingStore[PendingRegistration]  # failed registrations, for Try again
    registrar: CredentialRegistrar
    checks: ProviderChecks  # a new credential tried with Google or Microsoft first
    reminders: ReminderService
    consent_recorder: ConsentRecorder
    planner: Planner  # the dry run, in the background after the request modal's ack
    runs: Runs  # a confirmed plan's run: approval, decisions, start
    approvals: ApprovalDesk  # approvals counted, stale ones refused, reminders, expiry
    reauth: Reauthenticator  # re-authentication plans of a credential's invalid grants
    health: HealthChecker  # valid and invalid grants per credential (`/bulkauth health`)
    sweep: HealthSweep  # the periodic sweep for invalid grants (one replica per period)
    run_engine: RunEngine
    deletions: CredentialDeletion  # deleting a credential, once its request is approved
    reporter: RunReporter
    home: HomeTab
    callback_guard: RejectionGuard  # rejected consent callbacks, limited and aggregated
    metrics: Metrics  # this bot's Prometheus registry (/metrics)
    expiry_reminders: ExpiryReminders  # secrets and keys reminded before they expire
    rotator: CredentialRotator  # a new secret or key given to Nylas with the complete data
    webhooks: WebhookReceiver | None  # /nylas/webhook, when NYLAS_WEBHOOK_SECRET is set
    alerts: AlertPublisher  # grant alerts in BULKAUTH_ALERT_CHANNEL
