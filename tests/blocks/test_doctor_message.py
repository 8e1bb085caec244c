"""The doctor's checklist message as a plain function."""

from __future__ import annotations

from bot.blocks.doctor import build_doctor_message
from bot.doctor import Check, Verdict
from tests.blocks.payloads import message_payload, section_texts


def test_failures_come_first_with_their_fix_and_names_are_escaped() -> None:
    checks = [
        Check("Database", Verdict.PASS, "sqlite reachable"),
        Check("<!channel> secret", Verdict.WARNING, "expires soon", "Rotate it."),
        Check("Slack", Verdict.FAIL, "missing scopes: x", "Reinstall."),
    ]
    payload = message_payload(build_doctor_message(checks))
    [text] = section_texts(payload)
    lines = text.split("\n")
    assert lines[0] == "*bulkauth doctor*: 3 checks, 1 failed, 1 warnings"
    assert lines[1].startswith(":x: *Slack*") and "Fix: Reinstall." in lines[2]
    assert lines[3].startswith(":warning: *&lt;!channel&gt; secret*")
    assert lines[-1].startswith(":white_check_mark: *Database*")
