"""Email addresses as every domain compares them."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def normalise(candidate: str) -> str | None:
    """The lower-cased address when it is valid syntax (no DNS lookups), else None."""
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()
