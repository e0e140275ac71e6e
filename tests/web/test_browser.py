"""The web app in Chromium: logging in, the charts of both packs' dashboards drawn from the
demo data, the language switch, an import's dry run with its errors, a scorecard's
explanation, request matching, and the dashboard on a tablet. Each step leaves a screenshot
under test-artifacts/screenshots/; no step may log an error to the console (a refused
script or style would)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Download, FilePayload, Route, WebSocket, expect

from tenants.crypto.imports import encrypt_bytes, load_bundle
from tests.web.conftest import TABLET, DemoTenant, OpenPage

RD_CHARTS = (
    "#panel-on-time .chart",
    "#panel-late-by-cause .chart",
    "#panel-complaints .chart",
    "#panel-cycle-time .chart",
    "#panel-escaped-defects .chart",
    "#panel-scorecards .chart",
    "#panel-capabilities .chart",
    "#panel-before-after .chart",
)
SCHOOL_CHARTS = ("#panel-gain .chart", "#panel-sla .chart")
# The cards drawn from the one request for the filter's panels (before/after has its own).
RD_PANEL_FIELDS = {
    "#panel-funnel": "funnel",
    "#panel-on-time": "onTime",
    "#panel-late-by-cause": "lateByCause",
    "#panel-complaints": "complaints",
    "#panel-cycle-time": "cycleTime",
    "#panel-escaped-defects": "escapedDefects",
    "#panel-scorecards": "scorecardDistribution",
    "#panel-capabilities": "capabilityHeatmap",
}
# True once the chart in `selector` draws its first series as bars (grouped by unit or level).
CHART_IS_BARS = """(selector) => {
  const el = document.querySelector(selector);
  const chart = el && window.echarts && window.echarts.getInstanceByDom(el);
  return Boolean(chart) && (chart.getOption().series || [])[0]?.type === 'bar';
}"""
# An employees file with one good row and two bad ones: a missing name; an e-mail and a
# hire date that are not one.
EMPLOYEES_CSV = (
    "工号,姓名,邮箱,职级,入职日期\n"
    "WEB-001,测试甲,web1@example.com,senior,2024-01-05\n"
    "WEB-002,,web2@example.com,senior,2024-01-05\n"
    "WEB-003,测试丙,not-an-email,senior,2024-13-40\n"
)


async def test_logging_in_shows_the_api_error_then_the_dashboard(
    open_page: OpenPage, rd: DemoTenant
) -> None:
    web = await open_page()
    page = web.page

    await web.login(rd.slug, rd.email("admin"), password="not-the-password")
    await expect(page.locator(".login-form .notice.error")).to_contain_text(
        "the organisation, email or password is wrong"
    )
    await web.shot("1-wrong-password")

    await web.login(rd.slug, rd.email("admin"))
    await expect(page.locator("[data-nav=dashboard]")).to_have_attribute("aria-current", "page")
    await expect(page.locator("h1")).to_have_text("Delivery and quality")
    await web.shot("2-logged-in")
    assert web.errors == []


async def test_the_rd_dashboard_draws_every_panel_from_the_demo_data(
    open_page: OpenPage, rd: DemoTenant
) -> None:
    web = await open_page()
    await web.login(rd.slug, rd.email("admin"))

    for selector in RD_CHARTS:
        await web.wait_for_chart(selector)
    await expect(web.page.locator("#funnel .kpi")).to_have_count(4)
    await web.shot("1-dashboard")
    # One request reads every panel of the filter (the server shares one SQL statement
    # between them), one more the before/after panel.
    panels, before_after = split_before_after(web.queries("rdDashboard"))
    assert len(panels) == 1, panels
    assert len(before_after) == 1, before_after
    assert all(selects(panels[0], field) for field in RD_PANEL_FIELDS.values()), panels[0]

    on_time = await web.chart_series("#panel-on-time .chart")
    rates = [value for value in on_time[0]["data"] if value is not None]
    assert rates, on_time
    assert all(0 <= rate <= 1 for rate in rates)
    complaints = {s["name"]: s for s in await web.chart_series("#panel-complaints .chart")}
    assert {"Complaint rate", "Upper limit", "Lower limit"} <= set(complaints)
    # n is shown with every group: the axis labels carry it.
    await expect(web.page.locator("#panel-on-time .card-foot")).to_contain_text("n = ")

    # Grouping by level redraws the panels with one group per level.
    await web.page.select_option("#filter-group-by", "LEVEL")
    await web.page.wait_for_function(CHART_IS_BARS, arg="#panel-cycle-time .chart")
    for selector in RD_CHARTS:
        await web.wait_for_chart(selector)
    await expect(web.page.locator("#filter-group-by")).to_have_value("LEVEL")
    by_level = await web.chart_series("#panel-cycle-time .chart")
    assert by_level[0]["type"] == "bar"
    await web.shot("2-by-level")
    panels, before_after = split_before_after(web.queries("rdDashboard"))
    assert (len(panels), len(before_after)) == (2, 2)
    assert web.errors == []


async def test_a_failed_panel_shows_its_error_in_its_card_only(
    open_page: OpenPage, rd: DemoTenant
) -> None:
    web = await open_page()
    page = web.page
    failures = {"cycleTime": 1}

    async def fail_cycle_time_once(route: Route) -> None:
        # What the server answers when one panel's resolver fails: the error with the
        # field's path, and (its fields being non-null) no data left for the dashboard.
        body = route.request.post_data_json if route.request.method == "POST" else None
        query = str(body.get("query", "")) if isinstance(body, dict) else ""
        if failures["cycleTime"] and selects(query, "cycleTime") and "beforeAfter" not in query:
            failures["cycleTime"] -= 1
            error = {
                "message": "Cycle time could not be read",
                "path": ["rdDashboard", "cycleTime"],
            }
            await route.fulfill(json={"data": None, "errors": [error]})
        else:
            await route.fallback()

    await page.route("**/graphql", fail_cycle_time_once)
    await web.login(rd.slug, rd.email("admin"))

    # The failed panel says why; every other panel is drawn.
    failed = page.locator("#panel-cycle-time .notice.error")
    await expect(failed).to_contain_text("Cycle time could not be read")
    for selector in RD_CHARTS:
        if not selector.startswith("#panel-cycle-time"):
            await web.wait_for_chart(selector)
    await expect(page.locator("#funnel .kpi")).to_have_count(4)
    await expect(page.locator("#dashboard-panels .notice.error")).to_have_count(1)
    # The others were asked again without the failed field: its null had emptied the answer.
    panels, _ = split_before_after(web.queries("rdDashboard"))
    assert len(panels) == 2, panels
    assert not selects(panels[1], "cycleTime")
    assert all(selects(panels[1], f) for f in RD_PANEL_FIELDS.values() if f != "cycleTime")
    await web.shot("1-one-panel-failed")

    # Its retry reads the panels again, and this time the panel draws.
    await failed.get_by_role("button").click()
    await web.wait_for_chart("#panel-cycle-time .chart")
    await expect(page.locator("#dashboard-panels .notice.error")).to_have_count(0)

    # An error of the whole request (here a period ending before it starts, refused by the
    # server) shows in every card.
    await page.fill("#filter-to", "2020-01-01")
    cards = page.locator("#dashboard-panels > .card")
    await expect(cards).to_have_count(len(RD_PANEL_FIELDS) + 1)
    await expect(page.locator("#dashboard-panels .notice.error")).to_have_count(
        len(RD_PANEL_FIELDS) + 1
    )
    for selector in [*RD_PANEL_FIELDS, "#panel-before-after"]:
        await expect(page.locator(f"{selector} .notice.error")).to_contain_text(
            "The period ends before it starts"
        )
    await web.shot("2-request-failed")
    assert web.errors == []


async def test_the_school_dashboard_draws_its_panels(
    open_page: OpenPage, school: DemoTenant
) -> None:
    web = await open_page(locale="zh-CN")
    await web.login(school.slug, school.email("admin"))

    await expect(web.page.locator("[data-nav=dashboard]")).to_have_text("看板")
    await expect(web.page.locator("h1")).to_have_text("教学与服务")
    for selector in SCHOOL_CHARTS:
        await web.wait_for_chart(selector)
    sla = {s["name"]: s for s in await web.chart_series("#panel-sla .chart")}
    assert set(sla) == {"24 小时内批改作业", "1 小时内答复问题"}
    await expect(web.page.locator("#panel-gain")).to_contain_text("相关不等于因果")
    await web.shot("1-dashboard")
    # Its panels come in one request.
    assert len(web.queries("schoolDashboard")) == 1
    assert web.errors == []


async def test_the_language_switch_changes_every_label_and_is_remembered(
    open_page: OpenPage, rd: DemoTenant
) -> None:
    web = await open_page(locale="en-US")
    page = web.page
    await web.login(rd.slug, rd.email("hr"))
    await expect(page.locator("[data-nav=dashboard]")).to_have_text("Dashboard")
    await web.wait_for_chart("#panel-on-time .chart")
    await web.shot("1-english")

    await page.click("button[data-lang=zh]")
    await expect(page.locator("[data-nav=dashboard]")).to_have_text("看板")
    await expect(page.locator("[data-nav=people]")).to_have_text("人员")
    await expect(page.locator("h1")).to_have_text("交付与质量")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await web.wait_for_chart("#panel-on-time .chart")
    await web.shot("2-chinese")

    # Remembered across a reload (and the session with it).
    await page.reload()
    await expect(page.locator("[data-nav=dashboard]")).to_have_text("看板")
    await expect(page.locator("#logout")).to_have_text("退出登录")

    await page.click("button[data-lang=en]")
    await expect(page.locator("#logout")).to_have_text("Log out")
    await web.shot("3-english-again")
    assert web.errors == []


async def test_an_import_dry_run_shows_its_errors(
    open_page: OpenPage, rd: DemoTenant, tmp_path: Path
) -> None:
    web = await open_page()
    page = web.page
    sockets: list[WebSocket] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    await web.login(rd.slug, rd.email("admin"))
    await page.click("[data-nav=imports]")
    await expect(page.locator("h1")).to_have_text("Imports")

    # given: a new import key, downloaded from the page, and a file encrypted with it
    async with page.expect_download() as key_download:
        await page.click("#create-key")
    key_file: Download = await key_download.value
    bundle = load_bundle((await key_file.path()).read_bytes())
    assert bundle.tenant_slug == rd.slug
    ciphertext = encrypt_bytes(bundle.handle, bundle.associated_data, EMPLOYEES_CSV.encode())
    await web.shot("1-key-created")

    # when: it is uploaded through the file input for a dry run
    await page.select_option("#import-kind", "employees")
    encrypted = FilePayload(
        name="employees.csv.enc", mimeType="application/octet-stream", buffer=ciphertext
    )
    await page.set_input_files("#import-file", files=[encrypted])
    await page.click("#import-dry-run")

    # then: the run is followed live and its errors are listed in the API's words
    errors = page.locator("#import-errors tbody tr")
    await expect(errors).to_have_count(3, timeout=60_000)
    await expect(page.locator("#import-progress")).to_have_attribute("data-status", "SUCCEEDED")
    await expect(page.locator("#rows-invalid")).to_have_text("2")
    await expect(page.locator("#import-summary")).to_contain_text("1 rows would be written")
    await expect(errors.nth(0)).to_contain_text("Name is required")
    await expect(errors.nth(1)).to_contain_text("not-an-email")
    await expect(errors.nth(2)).to_contain_text("is not a calendar date")
    assert any(socket.url.endswith("/graphql") for socket in sockets)
    await web.shot("2-dry-run-errors")

    async with page.expect_download() as report_download:
        await page.click("#download-errors")
    report = await (await report_download.value).path()
    assert "not-an-email" in report.read_text(encoding="utf-8-sig")

    # Nothing was written: all or nothing, and it was a dry run.
    await page.click("button[data-lang=zh]")
    await expect(page.locator("#import-errors tbody tr").nth(0)).to_contain_text("姓名为必填项")
    await web.shot("3-errors-in-chinese")
    assert web.errors == []


async def test_a_scorecard_line_explains_itself(open_page: OpenPage, rd: DemoTenant) -> None:
    web = await open_page()
    page = web.page
    await web.login(rd.slug, rd.email("employee"))

    # An employee lands on their own profile: the scorecards against the level, then one
    # period's scorecard.
    await expect(page.locator("[data-nav=me]")).to_have_attribute("aria-current", "page")
    await web.wait_for_chart("#personal-dashboard .chart")
    series = {s["name"]: s for s in await web.chart_series("#personal-dashboard .chart")}
    assert {"Total", "Level median", "Level P25–P75"} <= set(series)
    await expect(page.locator("#scorecard-sentence")).to_contain_text("points")
    await web.shot("1-profile")

    scored = page.locator("#scorecard-lines tbody tr").filter(has=page.locator(".badge.ok"))
    await scored.first.locator("button.explain").click()

    drawer = page.locator("dialog#explanation")
    await expect(drawer).to_be_visible()
    await expect(drawer.locator("#explanation-sentence")).to_contain_text("data points")
    await expect(drawer.locator("#explanation-facts tbody tr").first).to_be_visible()
    await expect(drawer.locator("#explanation-facts-used")).to_contain_text("n = ")
    await expect(drawer.locator("#explanation-baseline")).to_contain_text("n = ")
    await expect(drawer.locator("#explanation-target")).to_contain_text("100 points")
    await expect(drawer.locator("#explanation-rules")).to_be_visible()
    await web.shot("2-explanation")

    await page.keyboard.press("Escape")
    await expect(drawer).to_have_count(0)
    await page.click("#explain-scorecard")
    await expect(page.locator("dialog#explanation")).to_contain_text("How the total came about")
    await web.shot("3-total-explained")
    assert web.errors == []


async def test_a_request_is_matched_to_people(open_page: OpenPage, rd: DemoTenant) -> None:
    web = await open_page()
    page = web.page
    await web.login(rd.slug, rd.email("sales"))
    await page.click("[data-nav=matching]")
    await expect(page.locator("#match-form")).to_be_visible()

    await page.locator(".need-skill").select_option(index=1)
    await page.locator(".need-level").select_option("1")
    await page.fill("#match-size", "3")
    await page.click("#match-submit")

    results = page.locator("#match-results")
    await expect(results).to_be_visible()
    await expect(results.locator(".candidate").first).to_be_visible()
    await expect(results.locator(".candidate").first).to_contain_text("n = ")
    await web.shot("1-candidates")
    assert web.errors == []


async def test_the_dashboard_works_on_a_tablet(open_page: OpenPage, rd: DemoTenant) -> None:
    web = await open_page(viewport=TABLET)
    page = web.page
    await web.login(rd.slug, rd.email("hr"))
    await expect(page.locator("[data-nav=dashboard]")).to_be_visible()

    await web.wait_for_chart("#panel-cycle-time .chart")
    await web.wait_for_chart("#panel-capabilities .chart")
    # Nothing sticks out sideways, and the sidebar is the compact rail.
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= TABLET["width"]
    sidebar = await page.locator(".sidebar").bounding_box()
    assert sidebar is not None
    assert sidebar["width"] < 120
    # A chart fills its card's width.
    chart = await page.locator("#panel-cycle-time .chart").bounding_box()
    assert chart is not None
    assert chart["width"] > 500
    await web.shot("1-dashboard")

    await page.select_option("#filter-preset", "24m")
    await web.wait_for_chart("#panel-on-time .chart")
    await web.shot("2-two-years")
    assert web.errors == []


def selects(query: str, field: str) -> bool:
    """Whether the GraphQL document selects ``field`` (a whole word of it)."""
    return re.search(rf"\b{re.escape(field)}\b", query) is not None


def split_before_after(queries: list[str]) -> tuple[list[str], list[str]]:
    """Dashboard documents: those of the panels, and those of the before/after panel."""
    before_after = [query for query in queries if selects(query, "beforeAfter")]
    return [query for query in queries if query not in before_after], before_after
