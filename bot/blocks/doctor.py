"""The doctor's checklist as a Slack message: one line per check, failures first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.blocks import Message, escape, lines_section

MARKS = {"fail": ":x:", "warning": ":warning:", "pass": ":white_check_mark:"}
ORDER = {"fail": 0, "warning": 1, "pass": 2}


class CheckLine(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def verdict(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def fix(self) -> str: ...


def build_doctor_message(checks: Sequence[CheckLine]) -> Message:
    ordered = sorted(checks, key=lambda check: ORDER.get(str(check.verdict), 3))
    failed = sum(1 for check in checks if check.verdict == "fail")
    warned = sum(1 for check in checks if check.verdict == "warning")
    heading = f"*bulkauth doctor*: {len(checks)} checks, {failed} failed, {warned} warnings"
    lines = [
        f"{MARKS.get(str(check.verdict), '•')} *{escape(check.name)}*: {escape(check.detail)}"
        + (f"\n      Fix: {escape(check.fix)}" if check.fix else "")
        for check in ordered
    ]
    section = lines_section(heading, lines, empty="nothing to check")
    return Message(text=heading, blocks=[section])
