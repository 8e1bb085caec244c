"""build_app(deps): the Bolt AsyncApp with injected deps, the access check and one error path."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.audit.recording import actor_of, audit
from bot.blocks import plain_message
from bot.deps import Deps
from bot.errors import AccessDenied
from bot.ids import ActionId, CallbackId
from bot.slack.failures import failure_text
from bot.slack.notify import channel_of, tell_user
from storage.audit import AuditAction

log = logging.getLogger(__name__)
ACK_POLL_SECONDS = 0.02  # twice the poll interval of slack_bolt/listener/asyncio_runner.py

Next = Callable[[], Awaitable[BoltResponse]]
_CHECKED_PAYLOADS = {"block_actions", "view_submission", "block_suggestion"}


# Approvers need not be bot users; these handlers check who may decide (or cancel) themselves.
_DECISION_ACTIONS = {
    ActionId.APPROVE_RUN,
    ActionId.REJECT_RUN,
    ActionId.CANCEL_RUN,
    ActionId.RESUME_RUN,
}
_DECISION_VIEWS = {CallbackId.REJECT_REASON}


def needs_access_check(body: dict[str, Any]) -> bool:
    """Commands and interactions are checked; events (App Home) and approval decisions decide
    for themselves."""
    actions = {action.get("action_id") for action in body.get("actions") or []}
    if actions and actions <= _DECISION_ACTIONS:
        return False
    if (body.get("view") or {}).get("callback_id") in _DECISION_VIEWS:
        return False
    return "command" in body or body.get("type") in _CHECKED_PAYLOADS


def request_kind(body: dict[str, Any]) -> str:
    """`command`, the interaction's type (`block_actions`, `view_submission`, ...) or
    `event:<type>`: a small, fixed set of label values."""
    if "command" in body:
        return "command"
    if body.get("type") == "event_callback":
        return f"event:{(body.get('event') or {}).get('type', 'unknown')}"[:48]
    return str(body.get("type") or "unknown")[:48]


def _json_response(payload: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
    )


async def refusal_response(
    *, body: dict[str, Any], client: AsyncWebClient, user_id: str | None, message: str
) -> BoltResponse:
    """The ack that refuses: shown where the user acted, nothing else happens."""
    if "command" in body:
        return _json_response({"response_type": "ephemeral", "text": message})
    if body.get("type") == "block_suggestion":
        return _json_response({"options": []})
    if body.get("type") == "view_submission":
        view = {
            "type": "modal",
            "title": {"type": "plain_text", "text": "bulkauth"},
            "blocks": [plain_message(message).blocks[0].to_dict()],
        }
        return _json_response({"response_action": "update", "view": view})
    if user_id:
        await tell_user(
            client, user_id=user_id, channel_id=channel_of(body), message=plain_message(message)
        )
    return BoltResponse(status=200, body="")


class _ClientGivenOnPurpose(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment even when it is given a client, then
    warns on every start that the token is unused. The client is ours on purpose (one pooled
    session, retries); the warning says nothing an operator can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def _quiet_bolt_token_warning() -> None:
    bolt_logger = logging.getLogger(f"slack_bolt.{AsyncApp.__name__}")
    if not any(isinstance(f, _ClientGivenOnPurpose) for f in bolt_logger.filters):
        bolt_logger.addFilter(_ClientGivenOnPurpose())


def build_app(deps: Deps) -> AsyncApp:
    settings = deps.settings
    _quiet_bolt_token_warning()
    signing_secret = settings.slack_signing_secret
    app = AsyncApp(
        client=deps.slack,
        signing_secret=signing_secret.get_secret_value() if signing_secret else "unused",
        # HTTP requests are signature-checked by the server before their body is even parsed
        # (bot/server.py); Socket Mode requests come over the authenticated websocket.
        request_verification_enabled=False,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )

    async def inject_deps(context: AsyncBoltContext, next: Next) -> BoltResponse:
        context["deps"] = deps
        return await next()

    async def measure_ack(body: dict[str, Any], next: Next) -> BoltResponse:
        # Bolt hands the response back once the listener has acked (process_before_response is
        # off), so the time `next()` takes is the time Slack waits for its ack.
        deps.metrics.slack_requests.labels(request_kind(body)).inc()
        with deps.metrics.ack_seconds.time():
            return await next()

    async def require_allowed_user(
        context: AsyncBoltContext, body: dict[str, Any], next: Next
    ) -> BoltResponse:
        if not needs_access_check(body):
            if context.user_id:
                context["actor"] = await deps.access.actor(context.user_id)
            return await next()
        try:
            context["actor"] = await deps.access.require(context.user_id)
        except AccessDenied as denied:
            log.info("access denied to %s", context.user_id)
            actor = await deps.access.actor(context.user_id or "unknown")
            await audit(
                deps.sessions,
                actor=actor_of(actor),
                action=AuditAction.ACCESS_DENIED,
                outcome="refused",
                details={"surface": body.get("command") or body.get("type")},
            )
            return await refusal_response(
                body=body, client=deps.slack, user_id=context.user_id, message=denied.user_message
            )
        return await next()

    async def handle_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> None:
        if response is None:  # the listener had acked before it failed
            # Bolt's asyncio runner polls for the ack every 10 ms and clears it once this handler
            # returns; a listener failing within 10 ms of its ack would then get Slack a 404
            # three seconds later. One poll's wait lets the ack go out first.
            await asyncio.sleep(ACK_POLL_SECONDS)
        user_id = (body.get("user") or {}).get("id") or body.get("user_id")
        text = failure_text(error)
        if user_id:
            await tell_user(
                deps.slack,
                user_id=user_id,
                channel_id=channel_of(body),
                message=plain_message(text),
            )

    app.use(measure_ack)
    app.use(inject_deps)
    app.use(require_allowed_user)
    app.error(handle_error)
    handlers.register(app)
    return app
