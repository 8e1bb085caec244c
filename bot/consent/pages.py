"""The small HTML pages a customer's admin sees after the consent redirect."""

from __future__ import annotations

import html

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;
color:#1d1d1f}}h1{{font-size:1.4rem}}</style></head>
<body><h1>{title}</h1><p>{body}</p></body></html>
"""


def render_page(title: str, body: str) -> str:
    """Every piece of text is escaped: nothing from the query string is rendered raw."""
    return _PAGE.format(title=html.escape(title), body=html.escape(body))


def consent_recorded_page() -> str:
    return render_page(
        "Consent recorded", "Thank you. Consent was recorded; you can close this tab."
    )


def consent_failed_page(error: str) -> str:
    return render_page(
        "Consent was not granted",
        f"Microsoft reported: {error}. The team that sent you the link has been "
        "told; they can send a new one.",
    )


def bad_callback_page(reason: str) -> str:
    return render_page("This link cannot be used", reason)
