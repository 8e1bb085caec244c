"""Faults the fake Nylas plays: scripted ones (`fail`), odd successes (`answer_oddly`) and
random field faults (`make_chaotic`)."""

from __future__ import annotations

import random
import re
import uuid
from collections import Counter
from typing import Any

from bot.demo.fakes.nylas_records import HTML_502, OddSuccess, Reply, ScriptedFault, error_reply


class NylasFaults:
    """Mixed into FakeNylas, which holds this state."""

    chaos_answered: Counter[str]
    _faults: list[ScriptedFault]
    _odd: list[OddSuccess]
    _rng: random.Random

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        raise NotImplementedError

    def _chaos(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        """One random fault seen in the field: a 5xx or a hang before the work, or an odd
        answer (HTML, no id, dropped connection) after it."""
        kind = self._rng.choice(["5xx", "hang", "html", "no_id", "reset"])
        self.chaos_answered[kind] += 1
        if kind == "5xx":
            return error_reply(self._rng.choice([500, 502, 503, 504]), "api.internal_error", "boom")
        if kind == "hang":
            return Reply(504, hang=True)
        self._odd.insert(0, OddSuccess(kind, re.escape(path), 1))  # type: ignore[arg-type]
        return self._oddly(path, self._route(method, path, query, body))

    def _oddly(self, path: str, reply: Reply) -> Reply:
        odd = next(
            (o for o in self._odd if o.times > 0 and re.fullmatch(o.path_pattern, path)), None
        )
        if odd is None or not 200 <= reply.status < 300 or not isinstance(reply.body, dict):
            return reply
        odd.times -= 1
        request_id = str(reply.body.get("request_id") or uuid.uuid4())
        if odd.kind == "html":
            page = "<html><body>OK</body></html>"
            return Reply(200, page, {"X-Request-Id": request_id}, off_spec=True)
        if odd.kind == "no_id":
            data = {k: v for k, v in (reply.body.get("data") or {}).items() if k != "id"}
            return Reply(201, {"request_id": request_id, "data": data}, off_spec=True)
        if odd.kind == "long_request_id":
            return Reply(reply.status, {**reply.body, "request_id": "req-" + "7" * 300})
        if odd.kind == "gateway_timeout":
            return error_reply(504, "api.gateway_timeout", "Gateway timeout")
        return Reply(reply.status, reply.body, reset=True, off_spec=True)

    def _scripted(self, method: str, path: str) -> Reply | None:
        for fault in self._faults:
            if (
                fault.times > 0
                and fault.method == method
                and re.fullmatch(fault.path_pattern, path)
            ):
                fault.times -= 1
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                if fault.hang:
                    return Reply(504, hang=True)
                if fault.html:
                    return Reply(fault.status, HTML_502, headers)
                if fault.error_as_string:
                    return Reply(
                        fault.status,
                        {"error": "invalid_request", "error_description": "bad things"},
                        headers,
                    )
                reply = error_reply(fault.status, "scripted", f"scripted {fault.status}")
                reply.headers.update(headers)
                return reply
        return None
