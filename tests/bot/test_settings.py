"""Settings: the names people set, the checks that protect them, and errors without secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import Settings, describe_problems


def problems(**values: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **values)
    return describe_problems(caught.value)


def test_nothing_set_names_each_missing_variable() -> None:
    lines = problems()
    assert "SLACK_BOT_TOKEN: missing (required)" in lines
    assert "NYLAS_API_KEY: missing (required)" in lines
    assert any(line.startswith("SLACK_SIGNING_SECRET: required in HTTP mode") for line in lines)


def test_socket_mode_does_not_need_a_signing_secret() -> None:
    settings = Settings(
        _env_file=None, slack_bot_token="xoxb-1", slack_app_token="xapp-1-A", nylas_api_key="k"
    )
    assert settings.socket_mode
    assert settings.slack_signing_secret is None


def test_a_wrong_token_shape_is_named_without_its_value() -> None:
    lines = problems(
        slack_bot_token="xoxp-user-token-secretvalue", nylas_api_key="k", slack_signing_secret="s"
    )
    assert lines == ["SLACK_BOT_TOKEN: must be a bot token starting with xoxb-"]
    assert "secretvalue" not in "".join(lines)


def test_region_shortcut_picks_the_eu_api() -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        nylas_api_key="k",
        nylas_region="eu",
    )
    assert settings.nylas_api_uri == "https://api.eu.nylas.com"


def test_defaults_are_us_region_sqlite_and_port_3000() -> None:
    settings = Settings(
        _env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s", nylas_api_key="k"
    )
    assert settings.nylas_api_uri == "https://api.us.nylas.com"
    assert settings.database_url.startswith("sqlite")
    assert settings.port == 3000
    assert settings.bulkauth_nylas_rps == 40  # a fifth of Nylas's 50/s left for other traffic


def test_admins_are_read_comma_separated_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("NYLAS_API_KEY", "k")
    monkeypatch.setenv("BULKAUTH_ADMINS", "U1, U2,,U3")
    assert Settings(_env_file=None).bulkauth_admins == ["U1", "U2", "U3"]


def test_secrets_never_show_in_repr() -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-reprcanary",
        nylas_api_key="nyk-c",
        slack_signing_secret="signingcanary",
    )
    assert "reprcanary" not in repr(settings)
    assert "signingcanary" not in str(settings.model_dump())
