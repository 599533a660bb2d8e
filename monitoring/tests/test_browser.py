"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright's
Python package with ``executable_path``; nothing downloads a browser build).

Logs in with password + TOTP on the live server, opens the dashboard of a seeded scenario
(two models, one with an engaged kill switch), checks the figures and that every chart drew,
engages and releases a kill switch through the page, and saves screenshots under
``var/test-artifacts/``. Without Chromium (or Playwright) it is skipped with the reason; under
``REQUIRE_SERVICES=1`` a missing browser fails.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Role
from accounts.services import totp_device_create, user_create
from monitoring.tests import factories as f
from trading.models import KillSwitch
from trading.services.killswitches import kill_switch_engage

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


def _browser_problem() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (make browser installs Debian's chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright Python package is not installed (requirements-dev.txt)"
    return None


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Any:
    problem = _browser_problem()
    if problem:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 but no browser: {problem}")
        pytest.skip(problem)
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous (the live server answers from its own thread).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


def _token(device: Any) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


@pytest.mark.django_db(transaction=True)
def test_dashboard_in_chromium(page: Any, live_server: Any) -> None:
    now = datetime.now(UTC)
    acct = f.account("Gold main")
    m1, m2 = f.model("rf"), f.model("gb", timeframe="H4")
    for i in range(24):  # 16 wins of 25.00, 8 losses of 10.00 for rf: net 320.00
        f.closed(acct, m1, now - timedelta(days=30 - i), now - timedelta(days=30 - i, hours=-2),
                 "-10.00" if i % 3 == 0 else "25.00")
        f.signal(acct, m1, now - timedelta(days=30 - i), "HOLD" if i % 4 == 0 else "BUY", 0.6)
    kill_switch_engage("model", reason="gb under review", actor="system:test", model_id=m2.pk)
    admin = user_create("boss", f.PASSWORD, roles=(Role.ADMIN,), staff=True)
    device = totp_device_create(admin).device
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", f.PASSWORD)
    page.fill("input[name=otp_token]", _token(device))
    page.click("input[type=submit], button[type=submit]")
    if page.locator("select[name=otp_device]").count():
        # django-otp's admin form lists the user's devices once it knows the user: pick it.
        page.select_option("select[name=otp_device]", label=device.name)
        page.fill("input[name=password]", f.PASSWORD)
        page.fill("input[name=otp_token]", _token(device))
        page.click("input[type=submit], button[type=submit]")
    try:
        page.wait_for_selector("#dashboard", timeout=15000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "login-failed.png"), full_page=True)
        pytest.fail(f"the dashboard did not open after login: {page.url}\n"
                    f"{page.inner_text('body')[:1500]}")
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    card = page.locator(f"#model-{m1.pk}")
    assert card.locator(".trades").inner_text() == "24"
    assert card.locator(".net-pnl").inner_text() == "320.00"
    assert card.locator(".win-rate").inner_text() == "67%"
    assert "gb under review" in page.locator("#global-strip").inner_text()
    charts = page.locator("div.chart svg")
    assert charts.count() == 3 + 3 + 2  # two model cards (3 each), one account card (2)
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 50 and box["height"] > 20
        assert charts.nth(i).locator("path").count() >= 3

    engage = page.locator(f"#account-{acct.pk} form.engage")
    engage.locator("input[name=reason]").fill("browser drill")
    engage.locator("button").click()
    page.wait_for_selector(f"#account-{acct.pk} form.release")
    page.screenshot(path=str(ARTIFACTS / "dashboard-engaged.png"), full_page=True)
    switch = KillSwitch.objects.get(account=acct, engaged=True)
    assert switch.engaged_by == "boss" and switch.reason == "browser drill"

    release = page.locator(f"#account-{acct.pk} form.release")
    release.locator("input[name=reason]").fill("drill over")
    release.locator("button").click()
    page.wait_for_selector(f"#account-{acct.pk} form.engage")
    page.screenshot(path=str(ARTIFACTS / "dashboard-released.png"), full_page=True)
    switch.refresh_from_db()
    assert not switch.engaged and switch.released_by == "boss"
    assert switch.release_reason == "drill over"
