"""NylasClient: every Nylas call the bulk-auth flows need, over long-lived httpx.AsyncClients.

Calls are paced by a process-wide Throttle and retried by tenacity on 429, 500, 502, 503, 504,
timeouts and connection errors, honouring Retry-After up to a cap. Other 4xx are never retried.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_chain,
    wait_exponential_jitter,
    wait_random,
)
from tenacity.wait import wait_base

from bot.metrics import Metrics, nylas_endpoint
from bot.nylas.errors import (
    NylasCallWithdrawn,
    NylasError,
    NylasRateLimited,
    NylasTransportError,
    error_from_response,
    odd_success,
)
from bot.nylas.http import departing, nylas_http
from bot.nylas.models import (
    BulkAuthRequest,
    Connector,
    Credential,
    CredentialData,
    Envelope,
    Grant,
    GrantFilters,
    Provider,
    credential_type_of,
)
from bot.nylas.throttle import Departure, Throttle, never

log = logging.getLogger(__name__)

PAGE_SIZE = 200
# Set by `withdrawn_when` for the calls of one task (a run's sender): is its work stopped?
_STOPPED: ContextVar[Callable[[], bool]] = ContextVar("nylas_call_stopped", default=never)
# Set by `finishing_when`: are the calls of this task among the last of their run?
_FINISHING: ContextVar[Callable[[], bool]] = ContextVar("nylas_call_finishing", default=never)
# Set by `turn_first`: a turn this task took before choosing its call
_RESERVED: ContextVar[_Reserved | None] = ContextVar("nylas_reserved_turn", default=None)
_SECRET_KEYS = frozenset({"private_key", "client_secret", "refresh_token", "password", "api_key"})


class _Reserved:
    """A turn taken ahead of its call: the first call made spends it."""

    __slots__ = ("departure",)

    def __init__(self, departure: Departure | None) -> None:
        self.departure = departure

    def take(self) -> Departure | None:
        departure, self.departure = self.departure, None
        return departure


@dataclass(frozen=True)
class RetryPolicy:
    """A failed call's first retry goes at once (a few milliseconds of jitter), then backoff
    0.2-0.3 s, doubling up to the cap. The first retry needs no backoff of its own: every retry
    waits its turn in the shared rate budget, and a 5xx or a timeout has usually taken its round
    trip already, so a run's last users are not kept waiting for a transient 503. A 429 says the
    budget is spent: its caller waits the Retry-After, or without one backs off from the start
    (0.1-0.2 s, doubling). The doubling keeps one failing request from looping hot, and rides
    out a longer outage."""

    max_attempts: int = 6
    max_backoff_seconds: float = 30.0
    initial_backoff_seconds: float = 0.1
    first_retry_jitter_seconds: float = 0.01

    def doubling(self) -> wait_base:
        """The wait before each retry of a call refused (429) without a Retry-After."""
        return wait_exponential_jitter(
            multiplier=self.initial_backoff_seconds,
            jitter=self.initial_backoff_seconds,
            max=self.max_backoff_seconds,
        )

    def backoff(self) -> wait_base:
        """The wait before each retry of a call that failed otherwise (5xx, timeout...)."""
        return wait_chain(wait_random(0, self.first_retry_jitter_seconds), self.doubling())


def redact_body(body: Any) -> Any:
    """A copy of a JSON body with secret fields masked, for debug logs."""
    if isinstance(body, dict):
        return {
            key: "[REDACTED]" if key in _SECRET_KEYS else redact_body(value)
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [redact_body(item) for item in body]
    return body


def _success_payload(response: httpx.Response, *, wanted: str | None) -> dict[str, Any]:
    """A 2xx answer's JSON; an HTML page, or an object without its id, is an odd success."""
    try:
        payload: object = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, list):
        payload = {"data": payload}
    if not isinstance(payload, dict):
        raise odd_success(response, None, wanted=wanted)
    data = payload.get("data")
    if wanted and not (isinstance(data, dict) and data.get("id") and data.get("provider")):
        raise odd_success(response, payload, wanted=wanted)
    return payload


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, NylasError) and error.retryable


class NylasClient:
    def __init__(
        self,
        *,
        api_uri: str,
        api_key: str,
        throttle: Throttle,
        retry: RetryPolicy | None = None,
        timeout_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._throttle = throttle
        self._metrics = metrics or Metrics()  # a private registry when nobody scrapes it
        self._retry = retry or RetryPolicy()
        self._backoff = self._retry.backoff()
        self._refused_backoff = self._retry.doubling()
        self._http = nylas_http(
            api_uri=api_uri,
            api_key=api_key,
            timeout_seconds=timeout_seconds,
            connections=throttle.concurrency,  # every call holds one of the throttle's slots
            transport=transport,
        )

    @property
    def rate_per_second(self) -> float:
        return self._throttle.rate_per_second

    @property
    def replicas(self) -> int:
        """The processes sharing the application's budget, as last told."""
        return self._throttle.replicas

    def share_budget(
        self,
        replicas: int,
        *,
        others_notice_within: float = 0.0,
        others_hold: int | None = None,
        set_aside: int = 0,
    ) -> None:
        """`replicas` processes (this one included) call Nylas now: take an equal share of the
        budget but for `set_aside` calls a window (others taking no share hold those). The
        others see this one start calling within `others_notice_within` seconds, and may have
        `others_hold` calls in Nylas's window together (None: not known)."""
        self._throttle.share(
            replicas,
            others_notice_within=others_notice_within,
            others_hold=others_hold,
            set_aside=set_aside,
        )

    def holds(self, *, canaries: int = 0) -> int:
        """The most calls this process may have in Nylas's window until its share changes
        (`canaries`: the runs whose canary is its only work)."""
        return self._throttle.holds(canaries=canaries)

    def recent_calls(self) -> int:
        """This process's calls still in Nylas's one-second window."""
        return self._throttle.recent_calls()

    @property
    def settling(self) -> bool:
        """Whether this process's share of the budget is changing hands (it fills, or it still
        has more calls in Nylas's window than its share)."""
        return self._throttle.settling

    def begin_share(self) -> None:
        """A run's canary passed: take the whole share, filling it as the others make room."""
        self._throttle.begin_share()

    @staticmethod
    @contextmanager
    def withdrawn_when(stopped: Callable[[], bool]) -> Iterator[None]:
        """Calls made inside (by this task) that are still waiting for their turn when
        `stopped()` says so are not sent: they raise NylasCallWithdrawn instead. A retry after
        a timeout or a 5xx still goes (Nylas may have done the work: its answer says what)."""
        token = _STOPPED.set(stopped)
        try:
            yield
        finally:
            _STOPPED.reset(token)

    @staticmethod
    @contextmanager
    def finishing_when(finishing: Callable[[], bool]) -> Iterator[None]:
        """Calls made inside (by this task) while `finishing()` says so are among the last of
        their run: they keep a wider margin on Nylas's window, as one refused there would hold
        the run's end for its Retry-After."""
        token = _FINISHING.set(finishing)
        try:
            yield
        finally:
            _FINISHING.reset(token)

    @asynccontextmanager
    async def turn_first(self) -> AsyncIterator[bool]:
        """Take this task's next turn in the budget before choosing what to call with it (a
        run's sender takes its turn, then a user: so a replica holds only the users it is about
        to send). The turn holds one of the calls in flight, and the first call made inside goes
        on it at once; a turn no call spent leaves the window again. Yields False when withdrawn
        while waiting (`withdrawn_when`)."""
        asked = time.monotonic()
        departure = await self._throttle.reserve(_STOPPED.get(), finishing=_FINISHING.get())
        self._metrics.nylas_rate_wait.inc(time.monotonic() - asked)
        reserved = _Reserved(departure)
        token = _RESERVED.set(reserved)
        try:
            yield departure is not None
        finally:
            _RESERVED.reset(token)
            if (unspent := reserved.take()) is not None:
                self._throttle.unreserve(unspent)

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport ---------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, self._retry.max_backoff_seconds))
        if isinstance(error, NylasRateLimited):
            return float(self._refused_backoff(state))
        return float(self._backoff(state))

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        wanted: str | None = None,
    ) -> dict[str, Any]:
        """The answer's JSON. With `wanted` (an object such as "grant"), a success whose `data`
        has no id raises NylasOddSuccess instead of passing an empty object on."""
        retries = self._metrics.nylas_retries.labels(nylas_endpoint(method, path))
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=self._wait,
            before_sleep=lambda _state: retries.inc(),
            reraise=True,
        )
        reached = False  # may an earlier attempt have reached Nylas and done its work?
        async for attempt in retrying:
            with attempt:
                try:
                    return await self._send_once(
                        method, path, params=params, body=body, wanted=wanted, reached=reached
                    )
                except NylasError as error:
                    reached = reached or error.status != 429  # a 429 was refused unread
                    raise
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _send_once(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        wanted: str | None = None,
        reached: bool = False,
    ) -> dict[str, Any]:
        """One attempt. Withdrawn when its work stopped while it waited for its turn, unless
        an earlier attempt may have reached Nylas (a timeout, a 5xx): then it goes, so that
        whatever Nylas did is answered and recorded."""
        endpoint = nylas_endpoint(method, path)
        sent = self._metrics.nylas_requests
        asked = time.monotonic()
        stopped = never if reached else _STOPPED.get()
        reserved = _RESERVED.get()
        turn = reserved.take() if reserved is not None else None
        # built before its turn (a turn taken ahead, `turn_first`, comes before it anyway): the
        # way from a turn to the socket is the pace's, the call a window later waits for it
        request = self._http.build_request(method, path, params=params, json=body)
        async with self._throttle.slot(
            stopped, finishing=_FINISHING.get(), reserved=turn
        ) as departure:
            if departure is None:
                raise NylasCallWithdrawn(f"{method} {path} not sent: its work stopped")
            started = time.monotonic()
            self._metrics.nylas_rate_wait.inc(started - asked)
            try:
                with departing(departure.left):
                    response = await self._http.send(request)
                departure.answered()
            except httpx.TimeoutException:
                sent.labels(endpoint, "timeout").inc()
                raise NylasTransportError(f"Nylas did not answer {method} {path} in time") from None
            except httpx.TransportError as error:
                sent.labels(endpoint, "unreachable").inc()
                raise NylasTransportError(
                    f"Could not reach Nylas for {method} {path}: {type(error).__name__}"
                ) from None
        sent.labels(endpoint, str(response.status_code)).inc()
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "nylas %s %s -> %s in %.0f ms body=%s",
                method,
                path,
                response.status_code,
                (time.monotonic() - started) * 1000,
                json.dumps(redact_body(body)),
            )
        if response.is_success:
            return _success_payload(response, wanted=wanted)
        failure = error_from_response(response)
        if failure.status == 429:
            self._metrics.nylas_rate_limited.labels(endpoint).inc()
            self._throttle.throttled(departure)
        raise failure

    async def _pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        before_page: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of an offset-paged list, following pages to the end; `before_page` is
        awaited before each page is asked for (a caller pacing itself below the shared rate)."""
        offset = 0
        while True:
            if before_page is not None:
                await before_page()
            page = await self._request(
                "GET", path, params={**(params or {}), "limit": PAGE_SIZE, "offset": offset}
            )
            items = page.get("data") or []
            for item in items:
                yield item
            if len(items) < int(page.get("limit") or PAGE_SIZE) or not items:
                return
            offset += len(items)

    async def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Another endpoint's JSON (webhooks: bot/nylas/webhooks.py), same limits and retries."""
        return await self._request(method, path, body=body)

    # --- connectors ---------------------------------------------------------------------
    async def get_connector(self, provider: Provider) -> Connector:
        payload = await self._request("GET", f"/v3/connectors/{provider}")
        return Connector.model_validate(payload.get("data") or {})

    async def list_connectors(self) -> list[Connector]:
        return [Connector.model_validate(item) async for item in self._pages("/v3/connectors")]

    # --- credentials --------------------------------------------------------------------
    async def create_credential(
        self, provider: Provider, *, name: str, data: CredentialData
    ) -> Envelope[Credential]:
        body = {
            "name": name,
            "credential_type": credential_type_of(data),
            "credential_data": data.wire_body(),
        }
        payload = await self._request("POST", f"/v3/connectors/{provider}/creds", body=body)
        return Envelope[Credential](
            data=Credential.model_validate(payload.get("data") or {}),
            request_id=payload.get("request_id"),
        )

    async def list_credentials(self, provider: Provider) -> list[Credential]:
        path = f"/v3/connectors/{provider}/creds"
        return [Credential.model_validate(item) async for item in self._pages(path)]

    async def get_credential(self, provider: Provider, credential_id: str) -> Credential:
        payload = await self._request("GET", f"/v3/connectors/{provider}/creds/{credential_id}")
        return Credential.model_validate(payload.get("data") or {})

    async def update_credential(
        self,
        provider: Provider,
        credential_id: str,
        *,
        name: str | None = None,
        data: CredentialData | None = None,
    ) -> Credential:
        """PATCH; `data` is sent whole because Nylas replaces nested objects entirely."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if data is not None:
            body["credential_data"] = data.wire_body()
        path = f"/v3/connectors/{provider}/creds/{credential_id}"
        payload = await self._request("PATCH", path, body=body)
        return Credential.model_validate(payload.get("data") or {})

    async def delete_credential(self, provider: Provider, credential_id: str) -> None:
        await self._request("DELETE", f"/v3/connectors/{provider}/creds/{credential_id}")

    # --- custom authentication and grants -----------------------------------------------
    async def create_bulk_grant(self, request: BulkAuthRequest) -> Envelope[Grant]:
        """POST /v3/connect/custom; for an email that has a grant, Nylas re-authenticates it."""
        payload = await self._request(
            "POST", "/v3/connect/custom", body=request.wire_body(), wanted="grant"
        )
        return Envelope[Grant](
            data=Grant.model_validate(payload.get("data") or {}),
            request_id=payload.get("request_id"),
        )

    async def iter_grants(
        self,
        filters: GrantFilters | None = None,
        *,
        before_page: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[Grant]:
        query = (filters or GrantFilters()).query()
        async for item in self._pages("/v3/grants", query, before_page):
            yield Grant.model_validate(item)

    async def list_grants(self, filters: GrantFilters | None = None) -> list[Grant]:
        return [grant async for grant in self.iter_grants(filters)]

    async def get_grant(self, grant_id: str) -> Grant:
        payload = await self._request("GET", f"/v3/grants/{grant_id}")
        return Grant.model_validate(payload.get("data") or {})

    async def delete_grant(self, grant_id: str) -> str | None:
        """DELETE /v3/grants/{id}: permanent. Returns Nylas's request id."""
        payload = await self._request("DELETE", f"/v3/grants/{grant_id}")
        request_id = payload.get("request_id")
        return str(request_id) if request_id else None
