"""Browser tests of the web app: the session's application served by uvicorn on a free port,
demo tenants of both packs in the test database, and Debian's Chromium driven by Playwright.

Chromium is never downloaded: it is ``/usr/bin/chromium`` (``make test`` installs it through
scripts/ensure-test-packages). Without it these tests fail, with the command that fixes it; they
are never skipped. Each test saves a screenshot per step under test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    ViewportSize,
    async_playwright,
    expect,
)
from starlette.applications import Starlette

from domain.demo.builder import LOADED_TABLES, build_demo, demo_logins
from domain.demo.catalogue import DEMO_PASSWORD
from tenants.database.migrate import analyze
from tenants.settings import Settings
from tests.support.serving import served

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = ViewportSize(width=1366, height=900)
TABLET = ViewportSize(width=768, height=1024)
# Small demos: enough people for every panel to have data, quick to build.
DEMO_SIZES = {"enterprise_rd": 40, "school_teaching": 30}
DEMO_SEED = 2026

# The app talks to a server that shares two cores with the test session.
expect.set_options(timeout=20_000)

# True once the chart in `selector` exists and one of its series has a value.
CHART_HAS_DATA = """(selector) => {
  const el = document.querySelector(selector);
  if (!el || !window.echarts) return false;
  const chart = window.echarts.getInstanceByDom(el);
  if (!chart) return false;
  const isValue = (v) => v !== null && v !== undefined && v !== '-' &&
    !(Array.isArray(v) && v.length === 0);
  return (chart.getOption().series || []).some((s) => (s.data || []).some(isValue));
}"""
# The chart's series (type, name and data), as JSON.
CHART_SERIES = """(selector) => {
  const chart = window.echarts.getInstanceByDom(document.querySelector(selector));
  return JSON.parse(JSON.stringify((chart.getOption().series || []).map(
    (s) => ({ type: s.type, name: s.name, data: s.data }))));
}"""


@dataclass(frozen=True)
class DemoTenant:
    """A demo tenant built for the browser tests: its slug and the demo logins' e-mails."""

    slug: str
    template: str
    emails: dict[str, str]

    def email(self, role: str) -> str:
        return self.emails[role]


@pytest.fixture(scope="session")
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Debian's Chromium is missing at {CHROMIUM}: the browser tests need it. "
            "Run `make test` (scripts/ensure-test-packages installs it) or, as root, "
            "`apt-get install -y chromium`.",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def demo_tenants(app: Starlette, settings: Settings) -> dict[str, DemoTenant]:
    """One demo tenant per pack, with today as its last day (the default dashboard period)."""
    today = datetime.now(UTC).date()
    built = {}
    for template, employees in DEMO_SIZES.items():
        summary = await build_demo(
            slug=f"web-{template.split('_')[0]}-{secrets.token_hex(3)}",
            template=template,
            employees=employees,
            seed=DEMO_SEED,
            as_of=today,
        )
        emails = {login.role: login.email for login in demo_logins(template)}
        built[template] = DemoTenant(slug=summary.slug, template=template, emails=emails)
    assert settings.database_admin_url is not None
    await analyze(settings.database_admin_url, LOADED_TABLES)
    return built


@pytest.fixture(scope="session")
def rd(demo_tenants: dict[str, DemoTenant]) -> DemoTenant:
    return demo_tenants["enterprise_rd"]


@pytest.fixture(scope="session")
def school(demo_tenants: dict[str, DemoTenant]) -> DemoTenant:
    return demo_tenants["school_teaching"]


@pytest.fixture(scope="session")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    """The session's application (already started) served on a real socket."""
    async with served(app) as url:
        yield url


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    playwright: Playwright = await async_playwright().start()
    try:
        launched = await playwright.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        await launched.close()
    finally:
        await playwright.stop()


@dataclass
class WebPage:
    """A page of the app in a fresh browser context, with what the console reported and the
    GraphQL operations it sent (the JSON bodies of its POSTs to /graphql, in order)."""

    page: Page
    base_url: str
    name: str
    errors: list[str] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)

    def queries(self, root_field: str) -> list[str]:
        """The documents sent so far that select ``root_field`` (e.g. ``rdDashboard``)."""
        pattern = re.compile(rf"\b{re.escape(root_field)}\s*\(")
        return [
            str(operation["query"])
            for operation in self.operations
            if pattern.search(str(operation.get("query", "")))
        ]

    async def shot(self, step: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=SCREENSHOTS / f"{self.name}-{step}.png", full_page=True)

    async def login(self, tenant: str, email: str, password: str = DEMO_PASSWORD) -> None:
        page = self.page
        await page.goto(f"{self.base_url}/")
        await page.fill("#login-tenant", tenant)
        await page.fill("#login-email", email)
        await page.fill("#login-password", password)
        await page.click("#login-submit")

    async def wait_for_chart(self, selector: str, timeout_ms: float = 30_000) -> None:
        await self.page.wait_for_function(CHART_HAS_DATA, arg=selector, timeout=timeout_ms)

    async def chart_series(self, selector: str) -> list[dict[str, Any]]:
        series: list[dict[str, Any]] = await self.page.evaluate(CHART_SERIES, selector)
        return series


OpenPage = Callable[..., Awaitable[WebPage]]


@pytest.fixture
async def open_page(
    browser: Browser, base_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[OpenPage]:
    """Open the app in a new browser context (its own storage), at a viewport and locale."""
    contexts = []
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name).strip("_")

    async def open_(viewport: ViewportSize = DESKTOP, locale: str = "en-US") -> WebPage:
        context = await browser.new_context(viewport=viewport, locale=locale, accept_downloads=True)
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(30_000)
        suffix = f"-{len(contexts)}" if len(contexts) > 1 else ""
        web = WebPage(page=page, base_url=base_url, name=f"{name}{suffix}")

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                web.errors.append(message.text)

        def on_request(request: Request) -> None:
            # Plain JSON operations only: uploads are multipart and the subscription a socket.
            json_post = request.headers.get("content-type", "").startswith("application/json")
            if request.method == "POST" and request.url.endswith("/graphql") and json_post:
                body = request.post_data_json
                if isinstance(body, dict):
                    web.operations.append(body)

        page.on("console", on_console)
        page.on("pageerror", lambda error: web.errors.append(str(error)))
        page.on("request", on_request)
        return web

    yield open_
    for context in contexts:
        await context.close()
