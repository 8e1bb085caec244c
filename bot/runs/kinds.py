"""How each kind of request is named in messages and the CSV: "Re-authentication" for a
re-authentication run, and the grant wording unchanged for grant runs."""

from __future__ import annotations

from storage.models import RequestKind

# The request's kind as a noun (the CSV's first line, the progress and summary headlines).
_NOUNS: dict[str, str] = {
    RequestKind.GRANT: "grant",
    RequestKind.REAUTHENTICATE: "re-authentication",
    RequestKind.REVOKE: "revocation",
    RequestKind.DELETE_CREDENTIAL: "credential deletion",
}
# What the request does, as a verb phrase before "N grants" ("asks to … grants").
_VERBS: dict[str, str] = {
    RequestKind.GRANT: "create",
    RequestKind.REAUTHENTICATE: "re-authenticate",
    RequestKind.REVOKE: "revoke",
    RequestKind.DELETE_CREDENTIAL: "delete the credential and revoke",
}


# What the request asks for, as a whole verb phrase ("asks to …").
_REQUESTS: dict[str, str] = {
    RequestKind.GRANT: "create grants",
    RequestKind.REAUTHENTICATE: "re-authenticate grants",
    RequestKind.REVOKE: "revoke grants",
    RequestKind.DELETE_CREDENTIAL: "delete a credential",
}


def kind_request(kind: str) -> str:
    """create grants · re-authenticate grants · revoke grants · delete a credential"""
    return _REQUESTS.get(kind, "process grants")


def kind_noun(kind: str) -> str:
    """grant · re-authentication · revocation (an unknown kind shows as stored)."""
    return _NOUNS.get(kind, kind)


def kind_verb(kind: str) -> str:
    """create · re-authenticate · revoke"""
    return _VERBS.get(kind, "process")


def run_title(kind: str, run_id: int | None) -> str:
    """Run 12 (a grant run) · Re-authentication run 12"""
    if kind == RequestKind.GRANT or kind not in _NOUNS:
        return f"Run {run_id}"
    return f"{kind_noun(kind).capitalize()} run {run_id}"
