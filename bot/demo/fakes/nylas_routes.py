"""The Nylas admin API endpoints the fake answers (`_list_connectors`, `_custom_auth`, ...),
with Nylas's envelopes, pagination and error bodies."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from bot.demo.fakes.nylas_records import Reply, StoredCredential, error_reply

REQUIRED_DATA = {
    "serviceaccount": {"private_key_id", "private_key", "client_email"},
    "adminconsent": {"tenant"},
    "connector": {"client_id", "client_secret"},
}


def data_problem(stored: StoredCredential) -> str | None:
    """What a credential's data lacks for the provider's token request. A PATCH replaces the
    data whole, so one that sent only the new secret leaves a credential that breaks here, as
    it breaks at Nylas; an Azure app needs its client id and secret together."""
    data = stored.data
    missing = REQUIRED_DATA.get(stored.credential_type, set()) - set(data)
    if stored.credential_type == "adminconsent" and ("client_id" in data) != (
        "client_secret" in data
    ):
        missing |= {"client_id", "client_secret"} - set(data)
    return f"the credential's data lacks {', '.join(sorted(missing))}" if missing else None


class NylasRoutes:
    """Mixed into FakeNylas, which holds this state."""

    connectors: dict[str, dict[str, Any]]
    credentials: dict[str, StoredCredential]
    grants: dict[str, dict[str, Any]]
    permanent_failures: dict[str, tuple[int, str]]
    _ids: itertools.count[int]

    def _provider_refusal(self, provider: str, credential_id: str, email: str) -> Reply | None:
        raise NotImplementedError

    def add_grant(
        self,
        email: str,
        *,
        provider: str = "google",
        status: str = "valid",
        credential_id: str | None = None,
    ) -> dict[str, Any]:
        now = int(time.time())
        grant: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "provider": provider,
            "email": email,
            "grant_status": status,
            "scope": [],
            "created_at": now,
            "updated_at": now,
        }
        if credential_id:
            grant["credential_id"] = credential_id
        self.grants[email.lower()] = grant
        return grant

    @staticmethod
    def _page(items: list[dict[str, Any]], query: dict[str, str]) -> Reply:
        limit = int(query.get("limit", 10))
        offset = int(query.get("offset", 0))
        return Reply(
            200,
            {
                "request_id": str(uuid.uuid4()),
                "data": items[offset : offset + limit],
                "limit": limit,
                "offset": offset,
            },
        )

    def _list_connectors(self, *, query: dict[str, str], body: Any) -> Reply:
        return self._page(list(self.connectors.values()), query)

    def _get_connector(self, *, provider: str, query: dict[str, str], body: Any) -> Reply:
        connector = self.connectors.get(provider)
        if connector is None:
            return error_reply(404, "not_found_error", f"Connector {provider} not found")
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": connector})

    def _create_credential(self, *, provider: str, query: dict[str, str], body: Any) -> Reply:
        if provider not in self.connectors:
            return error_reply(404, "not_found_error", f"Connector {provider} not found")
        if (
            not isinstance(body, dict)
            or not {"name", "credential_type", "credential_data"} <= body.keys()
        ):
            return error_reply(
                400,
                "invalid_request_error",
                "name, credential_type and credential_data are required",
            )
        data = body["credential_data"]
        missing = REQUIRED_DATA.get(body["credential_type"], {"?"}) - set(data)
        if missing:
            return error_reply(
                400,
                "invalid_request_error",
                f"credential_data is missing {', '.join(sorted(missing))}",
            )
        for existing in self.credentials.values():
            if existing.provider == provider and existing.name == body["name"]:
                if existing.data == data:  # Nylas: identical parameters reuse the record
                    return Reply(201, {"request_id": str(uuid.uuid4()), "data": existing.public()})
                return error_reply(
                    400,
                    "invalid_request_error",
                    f"A credential named {body['name']} already exists",
                )
        now = int(time.time())
        stored = StoredCredential(
            str(uuid.uuid4()), provider, body["name"], body["credential_type"], data, now, now
        )
        self.credentials[stored.id] = stored
        return Reply(201, {"request_id": str(uuid.uuid4()), "data": stored.public()})

    def _list_credentials(self, *, provider: str, query: dict[str, str], body: Any) -> Reply:
        items = [c.public() for c in self.credentials.values() if c.provider == provider]
        items.sort(key=lambda c: c["created_at"], reverse=True)
        return self._page(items, query)

    def _credential(self, provider: str, credential_id: str) -> StoredCredential | None:
        stored = self.credentials.get(credential_id)
        return stored if stored and stored.provider == provider else None

    def _get_cred(self, *, provider: str, id: str, query: dict[str, str], body: Any) -> Reply:
        stored = self._credential(provider, id)
        if stored is None:
            return error_reply(404, "not_found_error", "Credential not found")
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": stored.public()})

    def _patch_cred(self, *, provider: str, id: str, query: dict[str, str], body: Any) -> Reply:
        stored = self._credential(provider, id)
        if stored is None:
            return error_reply(404, "not_found_error", "Credential not found")
        stored.name = body.get("name", stored.name)
        stored.data = body.get("credential_data", stored.data)  # nested object replaced whole
        stored.updated_at = int(time.time())
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": stored.public()})

    def _delete_cred(self, *, provider: str, id: str, query: dict[str, str], body: Any) -> Reply:
        if self._credential(provider, id) is None:
            return error_reply(404, "not_found_error", "Credential not found")
        if self.connectors.get(provider, {}).get("active_credential_id") == id:
            # Nylas: "You cannot delete a connector's default (active) credential."
            return error_reply(
                400,
                "invalid_request_error",
                "Cannot delete the connector's default (active) credential",
            )
        del self.credentials[id]
        return Reply(200, {"request_id": str(uuid.uuid4())})

    def _custom_auth(self, *, query: dict[str, str], body: Any) -> Reply:
        settings = body.get("settings") if isinstance(body, dict) else None
        if not isinstance(settings, dict) or body.get("provider") not in ("google", "microsoft"):
            return error_reply(400, "invalid_request_error", "provider and settings are required")
        provider = body["provider"]
        email = str(settings.get("email_address") or "")
        stored = self._credential(provider, str(settings.get("credential_id")))
        wanted_type = "serviceaccount" if provider == "google" else "adminconsent"
        if stored is None or stored.credential_type != wanted_type:
            return error_reply(
                400,
                "invalid_request_error",
                f"credential_id is not a {wanted_type} credential of {provider}",
            )
        if not email:
            return error_reply(400, "invalid_request_error", "settings.email_address is required")
        if provider == "google" and not settings.get("scopes"):
            return error_reply(
                400, "invalid_request_error", "settings.scopes is required for Google"
            )
        broken = data_problem(stored)
        if broken is not None:
            return error_reply(
                400,
                "provider_error",
                f"The provider refused the token request: {broken}",
                provider_error={"error": "invalid_client"},
            )
        refusal = self._provider_refusal(provider, stored.id, email)
        if refusal is not None:
            return refusal
        failure = self.permanent_failures.get(email.lower())
        if failure is not None:
            return error_reply(
                failure[0],
                "provider_error",
                failure[1],
                provider_error={"error": "unauthorized_client"},
            )
        now = int(time.time())
        grant = self.grants.get(email.lower())
        if grant is None:
            grant = self.add_grant(email, provider=provider, credential_id=stored.id)
        grant.update(
            grant_status="valid",
            updated_at=now,
            credential_id=stored.id,
            scope=list(settings.get("scopes") or ["User.Read.All"]),
        )
        return Reply(201, {"request_id": str(uuid.uuid4()), "data": grant})

    def _list_grants(self, *, query: dict[str, str], body: Any) -> Reply:
        items = list(self.grants.values())
        for key in ("email", "provider", "grant_status"):
            if key in query:
                items = [g for g in items if str(g.get(key)).lower() == query[key].lower()]
        if "since" in query:
            items = [g for g in items if g["created_at"] >= int(query["since"])]
        if "before" in query:
            items = [g for g in items if g["created_at"] <= int(query["before"])]
        sort_key = query.get("sort_by", "created_at")
        items.sort(key=lambda g: (g[sort_key], g["id"]), reverse=query.get("order_by") != "asc")
        return self._page(items, query)

    def _grant_by_id(self, grant_id: str) -> dict[str, Any] | None:
        return next((g for g in self.grants.values() if g["id"] == grant_id), None)

    def _get_grant(self, *, id: str, query: dict[str, str], body: Any) -> Reply:
        grant = self._grant_by_id(id)
        if grant is None:
            return error_reply(404, "not_found_error", "Grant not found")
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": grant})

    def _delete_grant(self, *, id: str, query: dict[str, str], body: Any) -> Reply:
        grant = self._grant_by_id(id)
        if grant is None:
            return error_reply(404, "not_found_error", "Grant not found")
        del self.grants[str(grant["email"]).lower()]
        return Reply(200, {"request_id": str(uuid.uuid4())})
