"""Opens every long-lived resource once, yields them as Deps, and closes them in reverse order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.alerts.findings import FoundInvalidAlerts
from bot.alerts.publisher import AlertPublisher
from bot.audit.anchors import AnchorService
from bot.audit.key import anchor_file, resolve_audit_key
from bot.consent.guard import RejectionGuard
from bot.consent.outcome import ConsentRecorder
from bot.consent.reminders import ReminderService
from bot.credentials.checks import ProviderChecks
from bot.credentials.forms import PendingRegistration
from bot.credentials.registration import CredentialRegistrar
from bot.deps import Deps
from bot.health.checking import HealthChecker
from bot.health.reauth import Reauthenticator
from bot.health.sweep import HealthSweep
from bot.home.tab import HomeTab
from bot.lifecycle.reminders import ExpiryReminders
from bot.lifecycle.rotation import CredentialRotator
from bot.logs import Redactor, secrets_of
from bot.metrics import Metrics
from bot.nylas.client import NylasClient, RetryPolicy
from bot.nylas.throttle import Throttle
from bot.offboarding.deletion import CredentialDeletion
from bot.runs.approving import ApprovalDesk
from bot.runs.execution.engine import RunEngine
from bot.runs.execution.observers import WhenFinished
from bot.runs.lifecycle import Runs
from bot.runs.plan import PendingPlan
from bot.runs.planning import Planner
from bot.runs.policy import ApprovalRules
from bot.runs.report import RunReporter
from bot.runtime.pending import PendingStore
from bot.runtime.scheduling import Scheduler
from bot.runtime.tasks import BackgroundTasks
from bot.settings import Settings
from bot.slack.access import AccessPolicy
from bot.slack.client import build_slack_client
from bot.slack.failures import tell_failure
from bot.slack.files import SlackFiles
from bot.webhooks.endpoint import WebhookReceiver
from bot.webhooks.inbox import InboxWriter
from bot.webhooks.processor import WebhookProcessor
from bot.webhooks.rejections import WebhookRejections
from storage.db import Sessions, create_engine, session_factory
from storage.migrate import pending_revisions, upgrade

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0  # in-flight Nylas calls of runs get this long at shutdown


def settings_secrets(settings: Settings) -> list[str]:
    database_password = make_url(settings.database_url).password
    return [
        *secrets_of(
            [
                settings.slack_bot_token,
                settings.slack_app_token,
                settings.slack_signing_secret,
                settings.nylas_api_key,
                settings.bulkauth_audit_key,
                settings.nylas_webhook_secret,
                settings.bulkauth_metrics_token,
            ]
        ),
        *([str(database_password)] if database_password else []),
    ]


def build_nylas_client(settings: Settings, metrics: Metrics | None = None) -> NylasClient:
    assert settings.nylas_api_uri is not None  # filled from the region by Settings
    return NylasClient(
        api_uri=settings.nylas_api_uri,
        api_key=settings.nylas_api_key.get_secret_value(),
        throttle=Throttle(
            rate_per_second=settings.bulkauth_nylas_rps,
            concurrency=settings.bulkauth_nylas_concurrency,
        ),
        retry=RetryPolicy(
            max_attempts=settings.bulkauth_nylas_max_attempts,
            max_backoff_seconds=settings.bulkauth_nylas_max_backoff_seconds,
        ),
        timeout_seconds=settings.bulkauth_nylas_timeout_seconds,
        metrics=metrics,
    )


class SchemaNotCurrent(RuntimeError):
    pass


async def prepare_schema(engine: AsyncEngine, *, migrate: bool) -> None:
    """Apply pending migrations, or refuse to start on an old schema when that is turned off."""
    if migrate:
        await upgrade(engine)
        return
    pending = await pending_revisions(engine)
    if pending:
        raise SchemaNotCurrent(
            f"the database lacks migrations {', '.join(pending)}; run `bulkauth db upgrade` "
            "(BULKAUTH_AUTO_MIGRATE is off)"
        )


async def start_webhooks(
    settings: Settings,
    sessions: Sessions,
    slack: AsyncWebClient,
    scheduler: Scheduler,
    stack: AsyncExitStack,
) -> tuple[WebhookReceiver | None, AlertPublisher]:
    """The alert publisher and the inbox processor run in every process (they also finish what
    another replica or an earlier run stored); the endpoint exists only with a webhook secret."""
    alerts = AlertPublisher(
        sessions=sessions,
        slack=slack,
        channel=settings.bulkauth_alert_channel,
        window_seconds=settings.bulkauth_alert_window_seconds,
    )
    alerts.start()
    stack.push_async_callback(alerts.stop)
    stored = asyncio.Event()
    processor = WebhookProcessor(
        sessions=sessions,
        window_seconds=settings.bulkauth_alert_window_seconds,
        stored=stored,
        published=alerts.wake,
        poll_seconds=settings.bulkauth_run_scan_seconds,
    )
    processor.start()
    stack.push_async_callback(processor.stop)
    if settings.nylas_webhook_secret is None:
        return None, alerts
    rejections = WebhookRejections(sessions=sessions, scheduler=scheduler)
    rejections.start()
    stack.push_async_callback(rejections.flush, everything=True)
    receiver = WebhookReceiver(
        secret=settings.nylas_webhook_secret.get_secret_value(),
        max_age_seconds=settings.bulkauth_webhook_max_age_seconds,
        inbox=InboxWriter(sessions=sessions, stored=stored),
        rejections=rejections,
    )
    return receiver, alerts


@asynccontextmanager
async def lifespan(settings: Settings, *, redactor: Redactor | None = None) -> AsyncIterator[Deps]:
    """Everything opened here is closed in reverse order, also when start-up fails half-way."""
    redactor = redactor or Redactor()
    redactor.add(*settings_secrets(settings))
    audit_key = resolve_audit_key(settings)
    redactor.add(audit_key.secret)
    if audit_key.kept_in is not None:
        log.warning(
            "audit key kept in %s (created if new, owner-only); a team deployment should set "
            "BULKAUTH_AUDIT_KEY from its secret store instead",
            audit_key.kept_in,
        )
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        await prepare_schema(engine, migrate=settings.bulkauth_auto_migrate)
        http_session = await stack.enter_async_context(aiohttp.ClientSession())
        metrics = Metrics()
        slack = build_slack_client(settings, http_session, metrics)
        nylas = build_nylas_client(settings, metrics)
        stack.push_async_callback(nylas.aclose)
        sessions = session_factory(engine, audit_key=audit_key.key)
        scheduler = Scheduler()
        scheduler.start()
        stack.push_async_callback(scheduler.close)
        reminders = ReminderService(sessions=sessions, slack=slack, scheduler=scheduler)
        await reminders.start()
        expiry_reminders = ExpiryReminders(
            sessions=sessions,
            slack=slack,
            scheduler=scheduler,
            key_max_age_days=settings.bulkauth_google_key_max_age_days,
            alert_channel=settings.bulkauth_alert_channel,
        )
        await expiry_reminders.start()
        callback_guard = RejectionGuard(sessions=sessions, scheduler=scheduler)
        callback_guard.start()
        stack.push_async_callback(callback_guard.flush, everything=True)
        access = AccessPolicy(
            slack=slack,
            admins=settings.bulkauth_admins,
            approvers=settings.bulkauth_approvers,
            approver_group=settings.bulkauth_approver_group,
        )
        home = HomeTab(sessions=sessions, slack=slack, access=access)
        approvals = ApprovalDesk(
            sessions=sessions,
            slack=slack,
            access=access,
            scheduler=scheduler,
            scan_seconds=settings.bulkauth_run_scan_seconds,
        )
        approvals.start()
        deletions = CredentialDeletion(
            sessions=sessions,
            nylas=nylas,
            slack=slack,
            access=access,
            scheduler=scheduler,
            scan_seconds=settings.bulkauth_run_scan_seconds,
        )
        deletions.start()
        reporter = RunReporter(settings=settings, sessions=sessions, slack=slack, http=http_session)
        anchors = AnchorService(
            sessions=sessions,
            slack=slack,
            scheduler=scheduler,
            channel=settings.anchor_channel,
            path=anchor_file(settings),
        )
        await anchors.start()
        run_engine = RunEngine(
            settings=settings,
            sessions=sessions,
            nylas=nylas,
            scheduler=scheduler,
            metrics=metrics,
            # In this order: the summary, the App Home, then the run's end anchored outside
            # the database.
            observers=[reporter, WhenFinished(home.refresh), WhenFinished(anchors.anchor)],
        )
        run_engine.start()
        run_engine.budget.start()
        stack.push_async_callback(run_engine.budget.stop)
        webhooks, alerts = await start_webhooks(settings, sessions, slack, scheduler, stack)
        sweep = HealthSweep(
            sessions=sessions,
            nylas=nylas,
            scheduler=scheduler,
            # Invalid grants it finds join the same grouped alerts as Nylas's notifications.
            alerts=FoundInvalidAlerts(
                sessions=sessions,
                window_seconds=settings.bulkauth_alert_window_seconds,
                wake=alerts.wake,
            ),
            hours=settings.bulkauth_health_sweep_hours,
            worker_id=run_engine.worker_id,
            after=home.refresh,
        )
        await sweep.start()
        plans: PendingStore[PendingPlan] = PendingStore()
        rate, approval_channel = settings.bulkauth_nylas_rps, settings.bulkauth_approval_channel
        stack.push_async_callback(reporter.close)
        stack.push_async_callback(run_engine.stop, timeout=DRAIN_SECONDS)
        files = SlackFiles(
            http=http_session,
            bot_token=settings.slack_bot_token,
            slack_api_url=settings.slack_api_url,
        )
        runs = Runs(
            sessions=sessions,
            slack=slack,
            access=access,
            engine=run_engine,
            approval_channel=approval_channel,
            rate=rate,
            rules=ApprovalRules.from_settings(settings),
        )
        registrations: PendingStore[PendingRegistration] = PendingStore()
        registrar = CredentialRegistrar(
            sessions=sessions,
            slack=slack,
            nylas=nylas,
            files=files,
            held=registrations,
            on_registered=expiry_reminders.reschedule,
        )
        yield Deps(
            settings=settings,
            redactor=redactor,
            slack=slack,
            access=access,
            nylas=nylas,
            database=engine,
            sessions=sessions,
            tasks=BackgroundTasks(report_failure=partial(tell_failure, slack)),
            http=http_session,
            files=files,
            plans=plans,
            registrations=registrations,
            registrar=registrar,
            checks=ProviderChecks(
                http=http_session,
                google_token_url=settings.google_token_url,
                microsoft_login_url=settings.microsoft_login_url,
            ),
            reminders=reminders,
            consent_recorder=ConsentRecorder(
                sessions=sessions,
                slack=slack,
                reminders=reminders,
                wait_seconds=settings.bulkauth_consent_wait_seconds,
            ),
            planner=Planner(
                nylas=nylas, slack=slack, plans=plans, rate=rate, approval_channel=approval_channel
            ),
            runs=runs,
            approvals=approvals,
            reauth=Reauthenticator(
                sessions=sessions,
                nylas=nylas,
                slack=slack,
                plans=plans,
                runs=runs,
                rate=rate,
                approval_channel=approval_channel,
            ),
            health=HealthChecker(sessions=sessions, nylas=nylas),
            sweep=sweep,
            run_engine=run_engine,
            deletions=deletions,
            reporter=reporter,
            home=home,
            callback_guard=callback_guard,
            metrics=metrics,
            expiry_reminders=expiry_reminders,
            rotator=CredentialRotator(
                sessions=sessions, slack=slack, nylas=nylas, reminders=expiry_reminders
            ),
            webhooks=webhooks,
            alerts=alerts,
        )
        log.info("closing resources")
