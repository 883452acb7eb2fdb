"""The README's screenshots, in English and Japanese: verify, contact, approval and agent alerts.

Fixed clock and window size; each is written to tests/browser/artifacts/docs/, and `make screenshots` copies them
to docs/ (the test run itself never touches tracked files).
"""

import pytest

from tests.browser.conftest import ARTIFACTS, PASSWORD, served, sign_in
from verify_service.domain.model import Actor

DOCS_SHOTS = ARTIFACTS / "docs"
LOCALES = {"en": "en-US", "ja": "ja-JP"}


@pytest.fixture
def site(make_harness):
    """The app over real HTTP: an agent with a display name, a supervisor, one customer, one open alert."""
    harness = make_harness("sqlite", agent_max_failures=2)
    harness.services.users.create("yamada", "agent", PASSWORD)
    harness.services.users.create("sato", "supervisor", PASSWORD)
    harness.services.agents.name("yamada", "Yamada", Actor("cli"))
    with served(harness.app) as base_url:
        harness.base_url = base_url
        yield harness


def keep(page, name, lang):
    """One README screenshot (the viewport, not the full page, so every shot has the same size)."""
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    path = DOCS_SHOTS / f"console-{name}-{lang}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000  # a page was drawn, not a blank one
    return path


@pytest.mark.parametrize("lang", sorted(LOCALES))
def test_the_readme_screenshots(site, browser, lang):
    pin = site.register(locale=lang)
    wrong = "000001" if pin != "000001" else "000002"
    for _ in range(2):
        site.check(pin=wrong, agent_id="desk-3")  # an alert for the supervisor's table
    context = browser.new_context(locale=LOCALES[lang], timezone_id="Asia/Tokyo",
                                  viewport={"width": 1000, "height": 1000})
    page = context.new_page()
    sign_in(page, site, "yamada")
    page.fill("input[name=account_id]", "JP1001")
    page.fill("input[name=pin]", pin)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#result.result-verified").is_visible()
    keep(page, "verify", lang)
    page.fill("input[name=account_id]", "JP1001")
    page.fill("input[name=ticket_ref]", "T-2026-0042")
    with page.expect_navigation():
        page.get_by_role("button", name={"en": "Start contact", "ja": "連絡を開始"}[lang], exact=True).click()
    assert page.locator("#contact-phrase").is_visible()
    keep(page, "contact", lang)
    page.goto(site.base_url + "/console")
    page.fill("input[name=account_id]", "JP1001")
    page.fill("input[name=reason]", {"en": "change the withdrawal address", "ja": "出金先口座の変更"}[lang])
    page.click("#send-approval")  # sent in place: what the agent typed stays
    page.wait_for_selector("#approval-status")
    [asked] = site.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()["approvals"]
    site.call("POST", f"/v1/customers/JP1001/approvals/{asked['approval_id']}/answer", "portal",
              {"answer": "approve"})
    page.click("#approval-refresh")  # refreshed in place
    page.wait_for_selector("#verify-with-approval")
    page.locator("#approval").scroll_into_view_if_needed()
    keep(page, "approval", lang)
    context.clear_cookies()
    sign_in(page, site, "sato")
    page.goto(site.base_url + "/console/agents")
    assert page.locator("#alerts tr.anomaly").count() >= 1
    keep(page, "alerts", lang)
    context.close()
