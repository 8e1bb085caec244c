"""Service-account key files made at run time (never a real key in the repository)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def unreadable_pem() -> str:
    """A generated key whose body was damaged (header and footer kept): for "not a readable
    PEM key" checks."""
    lines = rsa_pem().splitlines()
    return "\n".join([lines[0], "not base64 at all", lines[-1]]) + "\n"


def ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def key_file(pem: str | None = None, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": "service_account",
        "project_id": "acme-bulk",
        "private_key_id": "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c",
        "private_key": pem or rsa_pem(),
        "client_email": "nylas-bulk@acme-bulk.iam.gserviceaccount.com",
        "client_id": "104512345678901234567",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def key_json(pem: str | None = None, **overrides: Any) -> str:
    return json.dumps(key_file(pem, **overrides), indent=2)


def canary_of(pem: str) -> str:
    """A distinctive slice of a PEM body: found in any copy of the key, escaped or not."""
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return body[100:140]
