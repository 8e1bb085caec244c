"""Times as people read them: Slack's date tokens (each reader's own zone) or a named zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.models import as_utc


def slack_time(moment: datetime) -> str:
    """HH:MM in each reader's own time zone (Slack date formatting), UTC as the fallback."""
    moment = as_utc(moment)
    return f"<!date^{int(moment.timestamp())}^{{time}}|{moment:%H:%M} UTC>"


def slack_date_time(moment: datetime) -> str:
    moment = as_utc(moment)
    return f"<!date^{int(moment.timestamp())}^{{date_short}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def zone(name: str) -> ZoneInfo:
    """The IANA zone Slack reports for a user (`users.info` → `tz`); UTC when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """`2026-11-29 14:03 GMT`: fixed text, for lists, files and the terminal."""
    return as_utc(moment).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def duration(seconds: float) -> str:
    """1 min 05 s · 2 h 03 min"""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
