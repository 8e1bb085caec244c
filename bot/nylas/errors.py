"""Everything the Nylas client raises. Branch on the class (from the HTTP status), not on `type`.

NylasError (BotError)
 ├── NylasCallWithdrawn      not sent: what it was for stopped while it waited for its turn
 ├── NylasTransportError     no usable answer: timeout or connection failure (retried)
 └── NylasApiError           Nylas answered with an error status
      ├── NylasOddSuccess    a 2xx whose body is not what was asked for (not retried: the
      │                      work may have been done)
      ├── NylasAuthError     401: usually the wrong region or API key
      ├── NylasNotFound      404
      ├── NylasRateLimited   429 (retried, honouring Retry-After)
      └── NylasServerError   5xx (500/502/503/504 retried)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.errors import BotError

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_TAGS = re.compile(r"<[^>]+>")
_MAX_MESSAGE = 300


class NylasError(BotError):
    retryable = False
    status: int | None = None
    request_id: str | None = None
    retry_after: float | None = None


class NylasCallWithdrawn(NylasError):
    """The call never left: its caller's work stopped (a run held or cancelled) while it
    waited for its turn."""


class NylasTransportError(NylasError):
    retryable = True


class NylasApiError(NylasError):
    def __init__(
        self,
        *,
        status: int,
        message: str,
        error_type: str | None = None,
        request_id: str | None = None,
        provider_error: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.error_type = error_type
        self.request_id = request_id
        self.provider_error = provider_error
        self.retry_after = retry_after
        self.retryable = status in RETRYABLE_STATUSES
        reference = f" (request id {request_id})" if request_id else ""
        super().__init__(f"Nylas answered {status}: {message}{reference}")


class NylasOddSuccess(NylasApiError):
    pass


class NylasAuthError(NylasApiError):
    pass


class NylasNotFound(NylasApiError):
    pass


class NylasRateLimited(NylasApiError):
    pass


class NylasServerError(NylasApiError):
    pass


_WRONG_KEY_HINT = (
    "the API key was rejected; the usual cause is a wrong region "
    "(NYLAS_API_URI / NYLAS_REGION) or a wrong NYLAS_API_KEY"
)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds, from either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _short(text: str) -> str:
    flat = " ".join(_TAGS.sub(" ", text).split())
    return flat[:_MAX_MESSAGE] or "no details"


def _fields(payload: object, fallback: str) -> tuple[str, str | None, dict[str, Any] | None]:
    """(message, type, provider_error) from whatever shape the error body has."""
    if not isinstance(payload, dict):
        return fallback, None, None
    error = payload.get("error")
    if isinstance(error, dict):
        provider_error = error.get("provider_error")
        return (
            str(error.get("message") or fallback),
            str(error["type"]) if error.get("type") else None,
            provider_error if isinstance(provider_error, dict) else None,
        )
    if isinstance(error, str):  # OAuth-style bodies, and Nylas under stress
        return str(payload.get("error_description") or error), error, None
    return str(payload.get("message") or fallback), None, None


def _request_id_of(response: httpx.Response, payload: object) -> str | None:
    if isinstance(payload, dict) and payload.get("request_id"):
        return str(payload["request_id"])
    header = response.headers.get("x-request-id")
    return str(header) if header else None


def odd_success(
    response: httpx.Response, payload: object, *, wanted: str | None
) -> NylasOddSuccess:
    """A 2xx without the `wanted` object in it (or not JSON at all): the status and the request
    id are all there is to keep."""
    status = response.status_code
    why = "its body was not JSON" if payload is None else f"its answer had no {wanted} id"
    if wanted:
        message = f"Nylas answered {status} without a {wanted} ({why})"
    else:
        message = f"Nylas answered {status} but {why}"
    return NylasOddSuccess(
        status=status,
        message=message,
        request_id=_request_id_of(response, payload),
    )


def error_from_response(response: httpx.Response) -> NylasApiError:
    """Never raises itself: HTML pages, string errors and missing fields all give NylasApiError."""
    try:
        payload: object = response.json()
    except ValueError:
        payload = None
    fallback = _short(response.text) if payload is None else (response.reason_phrase or "error")
    message, error_type, provider_error = _fields(payload, fallback)
    request_id = _request_id_of(response, payload)
    status = response.status_code
    if status == 401:
        message = f"{message}: {_WRONG_KEY_HINT}"
    kind = {401: NylasAuthError, 404: NylasNotFound, 429: NylasRateLimited}.get(status)
    if kind is None:
        kind = NylasServerError if status >= 500 else NylasApiError
    return kind(
        status=status,
        message=message,
        error_type=error_type,
        request_id=request_id,
        provider_error=provider_error,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )
