"""What the demo offers a newcomer to attach: a Google service-account key made at start (valid
for the demo's fake Google, worthless anywhere else) and a list of 500 users of its domain."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DOMAIN = "acme.com"
SERVICE_ACCOUNT = "bulkauth-demo@acme-demo.iam.gserviceaccount.com"
TEST_MAILBOX = f"ada@{DOMAIN}"
USER_COUNT = 500
KEY_FILE = "demo-google-key.json"
USERS_FILE = "demo-users-500.txt"


@dataclass(frozen=True)
class Samples:
    private_pem: str
    key_json: str
    users: list[str]

    def files(self) -> dict[str, bytes]:
        """The downloadable samples by file name."""
        return {
            KEY_FILE: self.key_json.encode(),
            USERS_FILE: ("\n".join(self.users) + "\n").encode(),
        }


def generate() -> Samples:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    fields = {
        "type": "service_account",
        "project_id": "acme-demo",
        "private_key_id": "0d3e0d3e0d3e0d3e0d3e0d3e0d3e0d3e0d3e0d3e",
        "private_key": pem,
        "client_email": SERVICE_ACCOUNT,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
    }
    users = [f"user{number:03d}@{DOMAIN}" for number in range(1, USER_COUNT + 1)]
    return Samples(private_pem=pem, key_json=json.dumps(fields, indent=2), users=users)
