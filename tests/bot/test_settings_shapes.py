"""Settings whose shape is checked at start: a wrong value stops the bot with one line naming the
variable and the expected shape, instead of failing later (or never) in a confusing way."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import DatabaseSettings, Settings, describe_problems

REQUIRED = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s", "nylas_api_key": "k"}


def problems(**values: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **{**REQUIRED, **values})
    return describe_problems(caught.value)


@pytest.mark.parametrize(
    "url", ["mysql://user:pw@db/bulkauth", "mssql+pyodbc://db/x", "not a url", "redis://cache"]
)
def test_a_database_url_that_is_not_sqlite_or_postgresql_is_refused(url: str) -> None:
    lines = problems(database_url=url)
    assert len(lines) == 1
    assert lines[0].startswith("DATABASE_URL: ")
    assert "sqlite" in lines[0] and "postgresql" in lines[0]
    assert "pw" not in lines[0]


def test_the_database_commands_check_the_url_too() -> None:
    with pytest.raises(ValidationError) as caught:
        DatabaseSettings(_env_file=None, database_url="mysql://u:p@h/d")
    assert describe_problems(caught.value)[0].startswith("DATABASE_URL: ")


@pytest.mark.parametrize("url", ["sqlite:///x.db", "postgres://u:p@h/d", "postgresql://h/d"])
def test_sqlite_and_postgresql_urls_are_accepted(url: str) -> None:
    assert Settings(_env_file=None, **REQUIRED, database_url=url).database_url == url


@pytest.mark.parametrize("variable", ["bulkauth_admins", "bulkauth_approvers"])
def test_people_must_be_slack_user_ids(variable: str) -> None:
    lines = problems(**{variable: "U0ADA,ann"})
    assert len(lines) == 1
    assert lines[0].startswith(f"{variable.upper()}: ")
    assert "'ann'" in lines[0] and "U" in lines[0] and "W" in lines[0]


@pytest.mark.parametrize("channel", ["#ops", "ops", "U0ADA", "D0DM"])
def test_the_approval_channel_must_be_a_channel_id(channel: str) -> None:
    lines = problems(bulkauth_approval_channel=channel)
    assert len(lines) == 1
    assert lines[0].startswith("BULKAUTH_APPROVAL_CHANNEL: ")
    assert "C" in lines[0] and "G" in lines[0]


def test_well_formed_ids_are_accepted() -> None:
    settings = Settings(
        _env_file=None,
        **REQUIRED,
        bulkauth_admins="U0ADA, W0ENTERPRISE",
        bulkauth_approvers="U0APPROVER",
        bulkauth_approval_channel="G0PRIVATE",
    )
    assert settings.bulkauth_admins == ["U0ADA", "W0ENTERPRISE"]
    assert settings.bulkauth_approval_channel == "G0PRIVATE"
