"""Validate request and response bodies against Nylas's official OpenAPI 3.1 spec (vendored)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).parent / "nylas-admin-api.yml"
SPEC_URI = "urn:nylas-admin-api"


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class NylasSpec:
    def __init__(self) -> None:
        self.document: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"), template)
            for template in self.document["paths"]
        ]

    def template_for(self, path: str) -> str:
        matches = [template for pattern, template in self._templates if pattern.match(path)]
        if not matches:
            raise AssertionError(f"{path} is not in the Nylas spec")
        return min(matches, key=lambda template: template.count("{"))

    def _validate(self, pointer: str, instance: Any, variant: str | None) -> None:
        schema: dict[str, Any] = {"$ref": f"{SPEC_URI}#/{pointer}"}
        if variant is not None:
            node = self._resolve(pointer)
            titles = [option.get("title") for option in node["oneOf"]]
            index = titles.index(variant)
            schema = {"$ref": f"{SPEC_URI}#/{pointer}/oneOf/{index}"}
        OAS31Validator(schema, registry=self._registry).validate(instance)

    def _resolve(self, pointer: str) -> dict[str, Any]:
        node: Any = self.document
        for part in pointer.split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return dict(node)

    def validate_request(
        self, method: str, path: str, body: Any, *, variant: str | None = None
    ) -> None:
        template = self.template_for(path)
        pointer = _pointer(
            "paths",
            template,
            method.lower(),
            "requestBody",
            "content",
            "application/json",
            "schema",
        )
        self._validate(pointer, body, variant)

    def has_response_schema(self, method: str, path: str, status: int) -> bool:
        operation = self.document["paths"][self.template_for(path)][method.lower()]
        response = operation.get("responses", {}).get(str(status)) or {}
        return "application/json" in (response.get("content") or {})

    def validate_response(self, method: str, path: str, status: int, body: Any) -> None:
        template = self.template_for(path)
        pointer = _pointer(
            "paths",
            template,
            method.lower(),
            "responses",
            str(status),
            "content",
            "application/json",
            "schema",
        )
        self._validate(pointer, body, None)


@functools.cache
def nylas_spec() -> NylasSpec:
    return NylasSpec()


_CREDENTIAL_VARIANTS = {
    "serviceaccount": "Service Account",
    "adminconsent": "Admin Consent",
    "connector": "Connector Override",
}
_CUSTOM_AUTH_VARIANTS = {"google": "Google bulk auth", "microsoft": "Microsoft bulk auth"}


def request_variant(method: str, path: str, body: Any) -> str | None:
    """The spec's oneOf variants do not discriminate by themselves; pick ours by its type."""
    if method == "POST" and path.endswith("/creds"):
        return _CREDENTIAL_VARIANTS[body["credential_type"]]
    if method == "POST" and path == "/v3/connect/custom":
        return _CUSTOM_AUTH_VARIANTS[body["provider"]]
    return None


# Nylas's Webhooks API is not part of the vendored admin spec; the fake's destinations and
# notifications follow field-failures.md and nylas-api.md (bot/demo/fakes/nylas_webhooks.py).
OUTSIDE_ADMIN_SPEC = re.compile(r"/v3/webhooks(/.*)?")


def check_exchange(method: str, path: str, body: Any, status: int, response: Any) -> int:
    """Validate one request/response pair; returns how many bodies were checked."""
    if OUTSIDE_ADMIN_SPEC.fullmatch(path):
        return 0
    spec = nylas_spec()
    checked = 0
    if body is not None:
        spec.validate_request(method, path, body, variant=request_variant(method, path, body))
        checked += 1
    if isinstance(response, dict) and spec.has_response_schema(method, path, status):
        spec.validate_response(method, path, status, response)
        checked += 1
    return checked
