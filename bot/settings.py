"""Typed settings from the environment and an optional `.env` file.

Every field is read from the variable of the same name in upper case (`slack_bot_token` from
`SLACK_BOT_TOKEN`). Secrets are `SecretStr`, so they never show in a repr or an error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.exc import ArgumentError

from storage.audit_key import MIN_KEY_LENGTH
from storage.db import async_url

NYLAS_REGION_URIS = {"us": "https://api.us.nylas.com", "eu": "https://api.eu.nylas.com"}
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///bulkauth.db"

SlackUserIds = Annotated[list[str], NoDecode]
# Member ids (U…, or W… on Enterprise Grid) and channel ids (C… public, G… private), as Slack
# shows them under "Copy member ID" / "Copy channel ID". Names (`ann`, `#ops`) never match a user.
_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]+")
_GROUP = re.compile(r"S[A-Z0-9]+|@[a-z0-9._-]+")  # a user group's id, or its @handle


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class DatabaseSettings(BaseSettings):
    """What the database commands of the CLI need (no Slack or Nylas secrets)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = DEFAULT_DATABASE_URL
    # The audit chain's HMAC key and the local anchor file (bot/audit_key.py has the defaults).
    bulkauth_audit_key: SecretStr | None = None
    bulkauth_audit_anchor_file: Path | None = None

    @field_validator("bulkauth_audit_key")
    @classmethod
    def _audit_key_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_KEY_LENGTH:
            raise ValueError(
                f"must be at least {MIN_KEY_LENGTH} characters (e.g. `openssl rand -hex 32`)"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_kind(cls, value: str) -> str:
        try:
            async_url(value)
        except (ArgumentError, ValueError):
            # Never the URL itself: it may carry a password.
            raise ValueError(
                "must be sqlite:///path.db or postgresql://user:pass@host/db"
            ) from None
        return value


class AnchorReadSettings(DatabaseSettings):
    """What `bulkauth audit verify --slack-anchors` needs to read the anchors back from Slack."""

    slack_bot_token: SecretStr
    slack_api_url: str | None = None
    bulkauth_audit_anchor_channel: str | None = None
    bulkauth_approval_channel: str | None = None

    @property
    def anchor_channel(self) -> str | None:
        return self.bulkauth_audit_anchor_channel or self.bulkauth_approval_channel


class Settings(DatabaseSettings):
    slack_bot_token: SecretStr
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = Field(default=None, validate_default=True)
    slack_api_url: str | None = None

    nylas_api_key: SecretStr
    nylas_region: Literal["us", "eu"] | None = None
    nylas_api_uri: str | None = Field(default=None, validate_default=True)
    nylas_client_id: str | None = None
    # Where credentials are checked before registration (a local fake in tests).
    google_token_url: str = "https://oauth2.googleapis.com/token"
    microsoft_login_url: str = "https://login.microsoftonline.com"

    public_base_url: str | None = None
    port: int = Field(default=3000, ge=0, le=65535)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    bulkauth_admins: SlackUserIds = []
    bulkauth_auto_migrate: bool = True

    bulkauth_consent_wait_seconds: float = Field(default=300.0, ge=0, le=86_400)
    bulkauth_consent_link_ttl_seconds: float = Field(default=7 * 86_400, gt=0)

    bulkauth_approval_channel: str | None = None
    bulkauth_audit_anchor_channel: str | None = None
    # Where alerts go: credential expiry reminders (besides a DM to whoever registered it) and
    # grant events and invalid grants (README "Credential lifecycle", "Grant events and alerts").
    bulkauth_alert_channel: str | None = None
    # A Google service account key older than this is reminded like an expiring secret.
    bulkauth_google_key_max_age_days: int = Field(default=90, ge=1, le=3650)
    bulkauth_approvers: SlackUserIds = []
    # The approval policy (README "Approvals").
    bulkauth_approver_group: str | None = None
    bulkauth_approvals_required: int = Field(default=1, ge=1, le=5)
    bulkauth_two_approvals_above_users: int = Field(default=1_000, ge=0)
    bulkauth_two_approvals_for_destructive: bool = True
    bulkauth_approval_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    bulkauth_approval_remind_hours: float = Field(default=4.0, gt=0, le=24 * 30)
    bulkauth_max_users: int = Field(default=50_000, ge=1, le=1_000_000)
    bulkauth_item_attempts: int = Field(default=3, ge=1, le=20)
    bulkauth_item_lease_seconds: float = Field(default=60.0, gt=0)
    # After a cancel, users whose calls went unanswered are looked up once more this much later
    # (Nylas's lists can lag a fresh grant), then cleared if Nylas has none.
    bulkauth_lookup_delay_seconds: float = Field(default=120.0, ge=0, le=3600)
    # The circuit breaker: the same permanent error for this many users in a row holds the run
    # (as does more than half of the last 100).
    bulkauth_breaker_consecutive: int = Field(default=20, ge=1, le=1000)
    # A Microsoft run's canary retries "consent not yet propagated" after 1, 2, 4… times the
    # first wait, for at most the longest wait, then holds the run.
    bulkauth_propagation_first_retry_seconds: float = Field(default=60.0, gt=0)
    bulkauth_propagation_max_wait_seconds: float = Field(default=1800.0, ge=0)
    bulkauth_record_retry_seconds: float = Field(default=60.0, gt=0)
    bulkauth_run_scan_seconds: float = Field(default=5.0, gt=0)
    bulkauth_progress_interval_seconds: float = Field(default=2.0, ge=0.5)
    bulkauth_upload_attempts: int = Field(default=5, ge=1, le=20)
    # Grant health: how often one replica lists the invalid grants.
    bulkauth_health_sweep_hours: float = Field(default=24.0, gt=0, le=24 * 30)

    # With a token, GET /metrics answers only `Authorization: Bearer <token>` (Prometheus's
    # `authorization` scrape setting); without one it is open, for a port the proxy keeps private.
    bulkauth_metrics_token: SecretStr | None = None

    # Nylas webhooks (README "Grant events and alerts"): the destination's secret turns the
    # /nylas/webhook route on; alerts go to the channel, grouped per credential over the window.
    nylas_webhook_secret: SecretStr | None = None
    bulkauth_webhook_max_age_seconds: float = Field(default=3600.0, ge=60, le=7 * 86_400)
    bulkauth_alert_window_seconds: float = Field(default=60.0, gt=0, le=86_400)

    # Nylas allows 50 requests/s per application and API group; 40 keeps a fifth of that for the
    # product's own calls on the same application (the pace holds the configured rate to within
    # a few percent up to the limit itself: python -m benchmarks.bulk_run rate). Replicas split
    # it between them (bot/runs/execution/budget.py). Up to 10,000/s for a Nylas-compatible
    # server without the limit (benchmarks at zero latency).
    bulkauth_nylas_rps: float = Field(default=40.0, gt=0, le=10_000)
    # Calls in flight must cover the rate times Nylas's answer time (Little's law): 40/s with a
    # provider taking 1.5 s to answer custom auth needs 60. The throttle, not this, sets the pace;
    # 16 capped a run at 16/s once Nylas took a second a call.
    bulkauth_nylas_concurrency: int = Field(default=64, ge=1, le=512)
    bulkauth_nylas_max_attempts: int = Field(default=6, ge=1, le=20)
    bulkauth_nylas_max_backoff_seconds: float = Field(default=30.0, gt=0, le=600)
    bulkauth_nylas_timeout_seconds: float = Field(default=30.0, gt=0, le=300)

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def anchor_channel(self) -> str | None:
        """Where the audit chain's head is posted: its own channel, else the approval channel."""
        return self.bulkauth_audit_anchor_channel or self.bulkauth_approval_channel

    @field_validator("bulkauth_admins", "bulkauth_approvers", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("bulkauth_admins", "bulkauth_approvers")
    @classmethod
    def _user_id_shape(cls, value: list[str]) -> list[str]:
        wrong = [entry for entry in value if not _USER_ID.fullmatch(entry)]
        if wrong:
            raise ValueError(
                f"{', '.join(repr(entry) for entry in wrong)} is not a Slack user id; use member "
                "ids such as U0123ABCD or W0123ABCD (profile → Copy member ID)"
            )
        return value

    @field_validator("bulkauth_approval_channel", "bulkauth_alert_channel")
    @classmethod
    def _channel_id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _CHANNEL_ID.fullmatch(value):
            raise ValueError(
                "must be a channel id such as C0123ABCD or G0123ABCD, not its name "
                "(channel details → Copy channel ID)"
            )
        return value

    @field_validator("bulkauth_approver_group")
    @classmethod
    def _group_shape(cls, value: str | None) -> str | None:
        if value is not None and not _GROUP.fullmatch(value):
            raise ValueError(
                "must be a user group id such as S0123ABCD or its handle such as @approvers"
            )
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp- (Socket Mode)")
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret_in_http_mode(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None and info.data.get("slack_app_token") is None:
            raise ValueError(
                "required in HTTP mode (set it, or set SLACK_APP_TOKEN for Socket Mode)"
            )
        return value

    @field_validator("nylas_api_uri")
    @classmethod
    def _api_uri_from_region(cls, value: str | None, info: ValidationInfo) -> str:
        if value:
            if not value.startswith(("https://", "http://")):
                raise ValueError("must be an http(s) URL such as https://api.us.nylas.com")
            return value.rstrip("/")
        return NYLAS_REGION_URIS[info.data.get("nylas_region") or "us"]

    @field_validator("public_base_url")
    @classmethod
    def _public_url_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL where Slack and browsers reach this server")
        return value.rstrip("/") if value else None


def describe_problems(error: ValidationError) -> list[str]:
    """One line per problem, naming the variable; never the value that was given."""
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        variable = ".".join(str(part) for part in problem["loc"]).upper() or "settings"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            message = "missing (required)"
        lines.append(f"{variable}: {message}")
    return lines
