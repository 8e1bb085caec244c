"""What the fake Nylas records and answers: replies, recorded requests, scripted faults and
stored credentials."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

API_KEY = "nylas-test-api-key-0123456789"
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>upstream down</body></html>"


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    reset: bool = False  # drop the connection instead of answering
    off_spec: bool = False  # deliberately outside the spec (a field fault), not contract-checked

    def content(self) -> bytes:
        if isinstance(self.body, str):
            return self.body.encode()
        return b"" if self.body is None else json.dumps(self.body).encode()

    def content_type(self) -> str:
        return "text/html" if isinstance(self.body, str) else "application/json"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0
    response: Any = None
    at: float = 0.0  # when answered (time.monotonic())
    off_spec: bool = False
    arrived: float = 0.0  # when it came in: where Nylas's rate window counts it


@dataclass
class ScriptedFault:
    method: str
    path_pattern: str
    status: int
    times: int
    html: bool = False
    retry_after: str | None = None
    hang: bool = False
    error_as_string: bool = False


OddReply = Literal["html", "no_id", "long_request_id", "reset", "gateway_timeout"]


@dataclass
class OddSuccess:
    """A request that succeeds at Nylas (the grant is made) but is answered oddly, as seen in
    the field: 200 with an HTML page, 201 without `data.id`, a request id longer than usual, the
    connection dropped before the answer, or a gateway's 504 after the work was done (a reset
    DELETE is retried by the HTTP pool itself, as an idempotent request; a 504 is not)."""

    kind: OddReply
    path_pattern: str
    times: int


@dataclass
class StoredCredential:
    id: str
    provider: str
    name: str
    credential_type: str
    data: dict[str, Any]
    created_at: int
    updated_at: int

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def error_reply(status: int, error_type: str, message: str, **extra: Any) -> Reply:
    body: dict[str, Any] = {
        "request_id": str(uuid.uuid4()),
        "error": {"type": error_type, "message": message, **extra},
    }
    return Reply(status, body)
