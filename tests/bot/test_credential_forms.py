"""Checks the modal cannot make on its own: Slack's client caps the name's length, but a
submission that did not come from it is checked the same way."""

from __future__ import annotations

from bot.credentials.forms import MAX_NAME_LENGTH, check_name


def test_a_name_longer_than_the_input_allows_is_refused() -> None:
    problem = check_name("x" * (MAX_NAME_LENGTH + 1), taken=False)
    assert problem is not None and f"{MAX_NAME_LENGTH} characters" in problem
    assert check_name("x" * MAX_NAME_LENGTH, taken=False) is None
