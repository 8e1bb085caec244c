"""Canary test: secrets entered in Slack reach Nylas's request body and nowhere else.

Nowhere else means: no log line (text and JSON, INFO and DEBUG), no byte of the database file, no
Slack call, no file sent to Slack, no repr; in any encoding a secret travels in (raw, JSON-escaped,
URL-encoded, the base64 body of a key). A request that fails the signature check carries the same
secrets in its body and must leave no trace either.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from bot.logs import Redactor, configure_logging
from tests.conftest import (
    ADMIN,
    AZURE_APP,
    BOT_TOKEN,
    NYLAS_API_KEY,
    RunningBot,
    SettingsFactory,
    run_bot,
)
from tests.credential_flow import (
    fill_google,
    fill_microsoft,
    registration_outcome,
    submit_google,
    submit_microsoft,
)
from tests.fakes.identity import FakeGoogle, FakeMicrosoft
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.keys import canary_of, key_json, rsa_pem
from tests.slack_requests import (
    SIGNING_SECRET,
    app_home_opened,
    payload_body,
    signed_headers,
    slash_command,
)
from tests.slack_ui import Person
from tests.webhooks.conftest import WEBHOOK_SECRET, inbox_settled

MS_SECRET = "canary-ms-client-secret-7f3a9c"
METRICS_TOKEN = "canary-metrics-token-7c1f9a0b3e"


@pytest.fixture(params=["text-INFO", "text-DEBUG", "json-INFO", "json-DEBUG"])
def captured_logs(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """Everything the process would write to stderr, through the bot's own handler."""
    log_format, level = request.param.split("-")
    stream = io.StringIO()
    handler = configure_logging(
        redactor=REDACTOR, level=level, as_json=log_format == "json", stream=stream
    )
    yield stream
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)


def encodings(secret: str) -> dict[str, str]:
    """Every form the secret travels in, by name (for a readable failure)."""
    forms = {
        "raw": secret,
        "JSON-escaped": json.dumps(secret)[1:-1],
        "URL-encoded": quote_plus(secret),
        "percent-encoded": quote(secret, safe=""),
        "base64": base64.b64encode(secret.encode()).decode(),
    }
    if "PRIVATE KEY" in secret:
        body = "".join(line for line in secret.splitlines() if not line.startswith("-----"))
        forms["key body"] = body
        forms["key body slice"] = canary_of(secret)
    return forms


def database_bytes(directory: Path) -> str:
    """The SQLite database file and its write-ahead log, byte for byte."""
    files = sorted(directory.glob("bulkauth.db*"))
    assert files, "no database file written"
    return "".join(path.read_bytes().decode("latin-1") for path in files)


async def forged_submission(bot: RunningBot, slack: FakeSlack, pem: str) -> None:
    """Both credential modals filled with every secret (the tokens typed as the tenant),
    submitted with a signature that fails (clock skew): they must leave no trace."""
    person = Person(bot, slack, ADMIN)
    microsoft = await person.open_modal("credential microsoft")
    fill_microsoft(
        microsoft, tenant=f"{BOT_TOKEN} {NYLAS_API_KEY} {SIGNING_SECRET}", secret=MS_SECRET
    )
    google = await person.open_modal("credential google")
    fill_google(google, pasted=key_json(pem))
    for modal in (microsoft, google):
        body = payload_body(modal.submission())
        stale = signed_headers(body, timestamp=int(time.time()) - 3600)
        assert (await bot.post_signed(body, headers=stale)).status == 401


REDACTOR = Redactor()


async def dump_database(bot_deps) -> str:  # type: ignore[no-untyped-def]
    rows = []
    async with bot_deps.database.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            result = await connection.execute(text(f"SELECT * FROM {table.name}"))
            rows.extend(repr(tuple(row)) for row in result)
    return "\n".join(rows)


async def webhook_deliveries(bot: RunningBot, nylas: FakeNylas) -> None:
    """Signed notifications (one compressed) and a forged one that carries the secret itself."""
    nylas.add_webhook(f"{bot.url}/nylas/webhook", secret=WEBHOOK_SECRET)
    grant = nylas.add_grant("canary@canary.com")
    assert (await nylas.notify("grant.expired", grant)).accepted
    assert (await nylas.notify("grant.deleted", grant, compress=True)).accepted
    forged = json.dumps({"id": "x", "secret": WEBHOOK_SECRET}).encode()
    headers = {"X-Nylas-Signature": WEBHOOK_SECRET}
    async with bot.http.post(f"{bot.url}/nylas/webhook", data=forged, headers=headers) as answer:
        assert answer.status == 401
    await inbox_settled(bot)


async def look_at_everything(bot: RunningBot, slack: FakeSlack) -> None:
    """What an operator would look at afterwards: audit (and its export), status, the Home."""
    for subcommand in ("audit", "status", "credentials"):
        url = slack.response_url()
        await bot.command(slash_command(subcommand, user_id=ADMIN, response_url=url))
    answers = await slack.wait_for("response_url", count=3)
    audit_answer = next(a for a in answers if "Audit log" in a.text_blob())
    await Person(bot, slack, ADMIN).click(audit_answer, "Export CSV")
    await bot.event(app_home_opened(user_id=ADMIN))
    await slack.wait_for("files.completeUploadExternal")
    await slack.wait_for("views.publish")
    await bot.settled()


async def test_private_key_and_client_secret_never_leak(
    make_settings: SettingsFactory,
    slack: FakeSlack,
    nylas: FakeNylas,
    microsoft: FakeMicrosoft,
    captured_logs: io.StringIO,
    tmp_path: Path,
) -> None:
    microsoft.apps[AZURE_APP].secrets.add(MS_SECRET)  # the canary is the app's real secret
    pem = rsa_pem()
    key_canary = canary_of(pem)
    upload = slack.host_file(key_json(pem).encode(), filename="canary.json")
    settings = make_settings(
        nylas_webhook_secret=WEBHOOK_SECRET,
        bulkauth_alert_channel="C0ALERTS",
        bulkauth_metrics_token=METRICS_TOKEN,
    )
    async with run_bot(settings, redactor=REDACTOR) as bot:
        for given in (METRICS_TOKEN[:-1], METRICS_TOKEN):  # refused, then scraped
            await bot.http.get(f"{bot.url}/metrics", headers={"Authorization": f"Bearer {given}"})
        await forged_submission(bot, slack, pem)
        await webhook_deliveries(bot, nylas)
        view = await Person(bot, slack, ADMIN).open_modal("credential google")
        await submit_google(view, name="canary.com", upload=upload)
        await registration_outcome(view, "Registered")
        pasted = await Person(bot, slack, ADMIN).open_modal("credential google")
        await submit_google(pasted, name="canary-pasted.com", pasted=key_json(pem))
        await registration_outcome(pasted, "Registered")
        nylas.fail("POST", r"/v3/connectors/microsoft/creds", status=500, times=99)
        failing = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
        await submit_microsoft(failing, name="broken.com", secret=MS_SECRET)
        await registration_outcome(failing, "did not register")
        nylas.fail("POST", r"/v3/connectors/microsoft/creds", status=500, times=0)
        nylas._faults.clear()
        ms_view = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
        await submit_microsoft(ms_view, secret=MS_SECRET)
        await registration_outcome(ms_view, "Registered")
        await look_at_everything(bot, slack)
        database = await dump_database(bot.deps)
        deps_repr = repr(bot.deps)

    logs = captured_logs.getvalue()
    slack_calls = "\n".join(call.text_blob() for call in slack.calls)
    files = "\n".join(upload.content.decode() for upload in slack.uploads.values())
    database_file = database_bytes(tmp_path)
    assert "credential.registered" in files and "canary.com" in slack_calls
    places = {
        "logs": logs,
        "database rows": database,
        "database file": database_file,
        "Slack calls": slack_calls,
        "files sent to Slack": files,
        "repr of deps": deps_repr,
    }
    secrets = [pem, MS_SECRET, NYLAS_API_KEY, BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET]
    secrets.append(METRICS_TOKEN)
    leaks = [
        f"{form} of secret #{number} in {place}"
        for number, secret in enumerate(secrets)
        for form, encoded in encodings(secret).items()
        for place, content in places.items()
        if encoded in content
    ]
    assert leaks == []
    assert "slack.request_rejected" in logs  # the forged request was seen and refused
    assert "credential.registered" in logs  # the bot's own events are logged
    if "DEBUG" in logging.getLevelName(logging.getLogger().level):
        assert "nylas POST /v3/connectors/google/creds" in logs  # debug logging really ran
    sent = [str(record.body) for record in nylas.requests if record.method == "POST"]
    assert any(key_canary in body.replace("\\n", "") for body in sent)
    assert any(MS_SECRET in body for body in sent)
    assert "canary.com" in database


ROTATED_SECRET = "canary-rotated-ms-secret-51d0e2"


async def test_rotated_secrets_and_keys_never_leak(
    make_settings: SettingsFactory,
    slack: FakeSlack,
    nylas: FakeNylas,
    microsoft: FakeMicrosoft,
    google: FakeGoogle,
    captured_logs: io.StringIO,
    tmp_path: Path,
) -> None:
    """The same canaries through `/bulkauth credential rotate` of both providers (the new
    secret checked with Microsoft, the new key with Google, then PATCHed)."""
    microsoft.apps[AZURE_APP].secrets.add(ROTATED_SECRET)
    first, rotated = rsa_pem(), rsa_pem()
    account = "nylas-bulk@acme-bulk.iam.gserviceaccount.com"
    google.add_service_account(account, rotated)
    upload = slack.host_file(
        key_json(rotated, private_key_id="f" * 40).encode(), filename="rotated.json"
    )
    async with run_bot(make_settings(), redactor=REDACTOR) as bot:
        person = Person(bot, slack, ADMIN)
        registered = await person.open_modal("credential google")
        await submit_google(registered, name="canary.com", pasted=key_json(first))
        await registration_outcome(registered, "Registered")
        ms_view = await person.open_modal("credential microsoft")
        await submit_microsoft(ms_view, expires="2099-01-01")
        await registration_outcome(ms_view, "Registered")
        key_rotation = await person.open_modal("credential rotate canary.com")
        key_rotation.attach("New JSON key file", upload)
        await key_rotation.submit()
        await key_rotation.wait_for("Rotated")
        secret_rotation = await person.open_modal("credential rotate contoso.com")
        secret_rotation.type("New client secret", ROTATED_SECRET)
        secret_rotation.pick_date("New secret expires on", "2099-06-01")
        await secret_rotation.submit()
        await secret_rotation.wait_for("Rotated")
        await look_at_everything(bot, slack)
        database = await dump_database(bot.deps)
        deps_repr = repr(bot.deps)
    places = {
        "logs": captured_logs.getvalue(),
        "database rows": database,
        "database file": database_bytes(tmp_path),
        "Slack calls": "\n".join(call.text_blob() for call in slack.calls),
        "files sent to Slack": "\n".join(u.content.decode() for u in slack.uploads.values()),
        "repr of deps": deps_repr,
    }
    leaks = [
        f"{form} of secret #{number} in {place}"
        for number, secret in enumerate([first, rotated, ROTATED_SECRET])
        for form, encoded in encodings(secret).items()
        for place, content in places.items()
        if encoded in content
    ]
    assert leaks == []
    assert "credential.rotated" in places["files sent to Slack"]  # the audit export
    patched = [str(r.body) for r in nylas.requests if r.method == "PATCH"]
    assert any(ROTATED_SECRET in body for body in patched)
    assert any(canary_of(rotated) in body.replace("\\n", "") for body in patched)
