"""`bulkauth demo` in a real browser: started through its command, its page driven in headless
Chromium (Debian's package, never a downloaded one) through one whole Google run, as a newcomer
would do it: register the demo key, plan 500 users, request approval, approve as the second
person, watch the progress, download the CSV.

With BULKAUTH_DEMO_SCREENSHOT=docs/demo.png the page at the end of the run is saved there.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Read at import: each test runs with the BULKAUTH_ variables removed (tests/conftest.py).
_asked = os.environ.get("BULKAUTH_DEMO_SCREENSHOT")
SCREENSHOT = Path(_asked).resolve() if _asked else None
RUN_SECONDS = 120_000  # milliseconds Playwright waits for the whole run (500 users)
expect.set_options(timeout=20_000)  # each step, on a loaded two-core machine


def _command() -> list[str]:
    installed = Path(sys.executable).with_name("bulkauth")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "bot"]


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`bulkauth demo --port 0` as a person runs it; the URL it prints."""
    log = tmp_path_factory.mktemp("demo") / "demo-stderr.txt"
    with log.open("w") as errors:
        demo = subprocess.Popen(
            [*_command(), "demo", "--port", "0"], stdout=subprocess.PIPE, stderr=errors, text=True
        )
    assert demo.stdout is not None
    with demo.stdout:
        line = demo.stdout.readline()
        try:
            assert "open http://127.0.0.1:" in line, log.read_text()
            yield line.split("open ", 1)[1].strip()
        finally:
            demo.send_signal(signal.SIGINT)
            assert demo.wait(timeout=60) == 0, log.read_text()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing in CI: .ci/run installs it")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            accept_downloads=True,
            viewport={"width": 1280, "height": 860},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext, demo_url: str) -> Iterator[Page]:
    """A new tab on the demo; no script on it may open a dialog of its own."""
    tab = browser.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.goto(demo_url)
    expect(tab.get_by_role("button", name="# ops")).to_be_visible()
    yield tab
    tab.close()
    assert dialogs == [], "a script ran on the page"


def command(page: Page, text: str) -> None:
    page.locator("#command").fill(text)
    page.locator("#command").press("Enter")


def field(modal: Locator, label: str) -> Locator:
    return modal.get_by_role("group", name=label, exact=True)


def register_the_demo_key(page: Page, modal: Locator, *, name: str = "acme.com") -> None:
    command(page, "credential google")
    expect(modal.locator(".mhead")).to_contain_text("Google credential")
    field(modal, "Credential name").locator("input").fill(name)
    key = field(modal, "JSON key file")
    key.get_by_role("button", name="Attach sample demo-google-key.json").click()
    expect(key).to_contain_text("📎 demo-google-key.json")
    field(modal, "Test mailbox").locator("input").fill("ada@acme.com")
    modal.get_by_role("button", name="Register").click()
    expect(modal).to_contain_text("Registered", timeout=20_000)
    modal.get_by_role("button", name="Close").first.click()
    expect(page.locator("#overlay")).to_be_hidden()


def plan_500_users(page: Page, modal: Locator) -> None:
    command(page, "grants")
    expect(modal.locator(".mhead")).to_contain_text("Create grants")
    field(modal, "Credential").locator("select").select_option(label="acme.com (Google)")
    expect(field(modal, "Scopes")).to_be_visible()  # the bot redrew the modal for Google
    users = field(modal, "…or a CSV/TXT file")
    users.get_by_role("button", name="Attach sample demo-users-500.txt").click()
    expect(users).to_contain_text("📎 demo-users-500.txt")
    field(modal, "Scopes").locator("select").select_option(label="Gmail: read")
    field(modal, "Reason").locator("input, textarea").fill("Demo: onboarding Acme")
    modal.get_by_role("button", name="Plan").click()
    expect(modal).to_contain_text("Dry run", timeout=20_000)
    expect(modal).to_contain_text("500")
    modal.get_by_role("button", name="Request approval").click()
    expect(modal).to_contain_text("sent for approval in #approvals")
    modal.get_by_role("button", name="Close").last.click()
    expect(page.locator("#overlay")).to_be_hidden()


def approve_as_grace(page: Page) -> None:
    page.locator("#person").select_option("U0GRACE")
    page.get_by_role("button", name="# approvals").click()
    request = page.locator(".pane:visible .msg", has_text="Demo: onboarding Acme").first
    request.get_by_role("button", name="Approve").click()
    if page.locator("#confirm").is_visible():
        page.locator("#confirm .yes").click()


def test_a_newcomer_runs_500_google_grants_in_the_browser(page: Page) -> None:
    modal = page.locator("#modal .modal")
    register_the_demo_key(page, modal)
    plan_500_users(page, modal)
    approve_as_grace(page)

    # The progress message, edited in place while the run goes (between 1 and 499 done)…
    partway = re.compile(r"Run 1 · acme\.com · ([1-9][0-9]?|[1-4][0-9][0-9]) / 500 \(")
    expect(page.locator(".pane:visible")).to_contain_text(partway, timeout=RUN_SECONDS)
    # …then the summary and the CSV in its thread.
    download = page.locator(".pane:visible a.download").first
    expect(download).to_be_visible(timeout=RUN_SECONDS)
    expect(page.locator(".pane:visible")).to_contain_text("500")
    if SCREENSHOT is not None:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
    with page.expect_download() as fetched:
        download.click()
    report = Path(fetched.value.path()).read_text()
    rows = [row for row in csv.reader(io.StringIO(report)) if row and not row[0].startswith("#")]
    emails = {cell for row in rows[1:] for cell in row if cell.endswith("@acme.com")}
    assert len(emails) == 500


def test_a_credential_named_like_markup_shows_as_text_and_runs_nothing(page: Page) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    register_the_demo_key(page, page.locator("#modal .modal"), name=hostile)
    registered = page.locator(".pane:visible .msg", has_text="Registered Google credential").last
    expect(registered).to_contain_text(f"Registered Google credential {hostile} with Nylas")
    expect(page.locator("#panes img")).to_have_count(0)
