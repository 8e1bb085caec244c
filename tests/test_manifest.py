"""app.manifest.yml is valid for Slack and every command it declares has a handler."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from bot.ids import BOT_SCOPES, CommandName

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).parent / "contracts" / "slack-manifest.schema.1.0.0.json"


def load_manifest() -> dict[str, object]:
    return yaml.safe_load((ROOT / "app.manifest.yml").read_text())


def test_manifest_validates_against_slacks_official_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(load_manifest()), key=lambda error: error.path)
    assert [error.message for error in errors] == []


def test_the_schema_would_catch_a_broken_manifest() -> None:
    broken = load_manifest()
    broken["display_information"] = {"description": "no name"}
    schema = json.loads(SCHEMA.read_text())
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_every_manifest_command_has_a_handler() -> None:
    commands = {entry["command"] for entry in load_manifest()["features"]["slash_commands"]}
    assert commands == {member.value for member in CommandName}


def test_manifest_asks_for_the_scopes_the_features_use() -> None:
    scopes = set(load_manifest()["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "files:read", "files:write", "users:read"} <= scopes
    assert {"channels:history", "groups:history"} <= scopes  # audit anchors read back
    assert "usergroups:read" in scopes  # approvers from a user group (usergroups.users.list)


def test_the_doctor_checks_the_scopes_the_manifest_asks_for() -> None:
    assert set(load_manifest()["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
