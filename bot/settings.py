"""Typed settings from the environment and an optional `.env` file.

Every field is read from the variable of the same name in upper case (`slack_bot_token` from
`SLACK_BOT_TOKEN`). Secrets are `SecretStr`, so they never show in a repr or an error.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

NYLAS_REGION_URIS = {"us": "https://api.us.nylas.com", "eu": "https://api.eu.nylas.com"}
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///bulkauth.db"

SlackUserIds = Annotated[list[str], NoDecode]


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


class Settings(DatabaseSettings):
    slack_bot_token: SecretStr
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = Field(default=None, validate_default=True)
    slack_api_url: str | None = None

    nylas_api_key: SecretStr
    nylas_region: Literal["us", "eu"] | None = None
    nylas_api_uri: str | None = Field(default=None, validate_default=True)
    nylas_client_id: str | None = None

    public_base_url: str | None = None
    port: int = Field(default=3000, ge=0, le=65535)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    bulkauth_admins: SlackUserIds = []
    bulkauth_auto_migrate: bool = True

    bulkauth_consent_wait_seconds: float = Field(default=300.0, ge=0, le=86_400)
    bulkauth_consent_link_ttl_seconds: float = Field(default=7 * 86_400, gt=0)

    bulkauth_approval_channel: str | None = None
    bulkauth_approvers: SlackUserIds = []
    bulkauth_max_users: int = Field(default=50_000, ge=1, le=1_000_000)
    bulkauth_item_attempts: int = Field(default=3, ge=1, le=20)
    bulkauth_item_lease_seconds: float = Field(default=60.0, gt=0)
    bulkauth_record_retry_seconds: float = Field(default=60.0, gt=0)
    bulkauth_run_scan_seconds: float = Field(default=5.0, gt=0)
    bulkauth_progress_interval_seconds: float = Field(default=2.0, ge=0.5)
    bulkauth_upload_attempts: int = Field(default=5, ge=1, le=20)

    bulkauth_nylas_rps: float = Field(default=20.0, gt=0, le=1000)
    bulkauth_nylas_concurrency: int = Field(default=16, ge=1, le=512)
    bulkauth_nylas_max_attempts: int = Field(default=6, ge=1, le=20)
    bulkauth_nylas_max_backoff_seconds: float = Field(default=30.0, gt=0, le=600)
    bulkauth_nylas_timeout_seconds: float = Field(default=30.0, gt=0, le=300)

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @field_validator("bulkauth_admins", "bulkauth_approvers", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        return _split_ids(value)

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
