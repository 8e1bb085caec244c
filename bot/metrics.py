"""The bot's Prometheus metrics, served on `/metrics` (bot/server.py).

Each bot has its own registry, never prometheus-client's global one, so two bots in one process
(the tests) count apart. Labels are kept to small sets: Nylas endpoints with their ids replaced
by `{id}`, Slack method names and error codes, outcomes and statuses; never an email or a name.
"""

from __future__ import annotations

import re

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Path segments of Nylas's API that are names, not ids; any other segment is an id.
_NYLAS_WORDS = frozenset(
    {"v3", "connectors", "creds", "grants", "connect", "custom", "google", "microsoft"}
)
_ACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)  # Slack's limit is 3 s


def nylas_endpoint(method: str, path: str) -> str:
    """`GET /v3/grants/{id}` for `GET /v3/grants/abc123`: one label value per endpoint."""
    segments = [s if s in _NYLAS_WORDS else "{id}" for s in path.strip("/").split("/") if s]
    return f"{method} /" + "/".join(segments)


_SLACK_ERROR = re.compile(r"[a-z_]{1,64}")


def slack_error_label(error: object) -> str:
    """Slack's error code when it is one (`channel_not_found`), else `other`."""
    return error if isinstance(error, str) and _SLACK_ERROR.fullmatch(error) else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        into = self.registry
        self.nylas_requests = Counter(
            "bulkauth_nylas_requests",
            "Nylas requests sent, by endpoint and HTTP status (timeout, unreachable: no answer)",
            ["endpoint", "status"],
            registry=into,
        )
        self.nylas_rate_limited = Counter(
            "bulkauth_nylas_rate_limited",
            "429 answers from Nylas, by endpoint",
            ["endpoint"],
            registry=into,
        )
        self.nylas_retries = Counter(
            "bulkauth_nylas_retries",
            "Nylas requests sent again after a 429, a 5xx, a timeout or a connection error",
            ["endpoint"],
            registry=into,
        )
        self.nylas_rate_wait = Counter(
            "bulkauth_nylas_rate_limit_wait_seconds",
            "time Nylas requests waited for the shared rate limit and concurrency cap",
            registry=into,
        )
        self.run_items = Counter(
            "bulkauth_run_items",
            "run users whose outcome was recorded here, by outcome",
            ["outcome"],
            registry=into,
        )
        self.runs_active = Gauge(
            "bulkauth_runs_active", "runs this process is working now", registry=into
        )
        self.runs = Gauge(
            "bulkauth_runs",
            "runs in the database by status (held, running, ...), read at each scrape",
            ["status"],
            registry=into,
        )
        self.slack_requests = Counter(
            "bulkauth_slack_requests",
            "requests from Slack (commands, interactions, events), by kind",
            ["kind"],
            registry=into,
        )
        self.consent_callbacks = Counter(
            "bulkauth_consent_callbacks",
            "Nylas consent callbacks, by outcome (recorded, failed, rejected, limited)",
            ["outcome"],
            registry=into,
        )
        self.slack_api_errors = Counter(
            "bulkauth_slack_api_errors",
            "Slack Web API calls that failed after their retries, by method and error",
            ["method", "error"],
            registry=into,
        )
        self.ack_seconds = Histogram(
            "bulkauth_slack_ack_seconds",
            "time from a Slack request reaching the bot to its ack",
            buckets=_ACK_BUCKETS,
            registry=into,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
