"""The key that signs the audit chain. Hashes are HMAC-SHA256 under it, so whoever can write to
the database but does not hold the key cannot recompute the chain after editing it.

The key is never stored in the database: it travels with each session (`Session.info`), put
there by `storage.db.session_factory`, and its repr never shows it.
"""

from __future__ import annotations

import hashlib
import hmac

SESSION_INFO_KEY = "bulkauth.audit_key"
MIN_KEY_LENGTH = 32


class AuditKey:
    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_KEY_LENGTH:
            raise ValueError(f"an audit key needs at least {MIN_KEY_LENGTH} characters")
        self._secret = secret.encode()

    def __repr__(self) -> str:
        return "AuditKey(**********)"

    def sign(self, content: bytes) -> str:
        return hmac.new(self._secret, content, hashlib.sha256).hexdigest()


class AuditKeyMissing(RuntimeError):
    """A session without the audit key tried to write or verify the chain."""
