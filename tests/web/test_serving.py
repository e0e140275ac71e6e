"""How Renshi serves its web app, without a browser: the page and its files with a strict
Content-Security-Policy, the API's routes untouched beside them, no inline script, and both
languages' dictionaries complete for every label the app asks for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from api.web import STATIC_DIR

I18N = STATIC_DIR / "i18n"
# Label keys the app's modules name: "<namespace>.<key>" string literals.
KEY_LITERAL = re.compile(r"""["'`]([a-z]+\.[A-Za-z0-9_./ -]+)["'`]""")


def _directives(header: str) -> dict[str, list[str]]:
    parts = [part.strip().split() for part in header.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


async def test_the_page_has_a_strict_content_security_policy(http: httpx.AsyncClient) -> None:
    response = await http.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = _directives(response.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_static_files_are_served_with_the_same_policy(http: httpx.AsyncClient) -> None:
    script = await http.get("/static/js/main.js")
    echarts = await http.get("/static/vendor/echarts/echarts.min.js")
    missing = await http.get("/static/js/nothing-here.js")

    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "script-src 'self'" in script.headers["content-security-policy"]
    assert echarts.status_code == 200
    assert echarts.content.startswith(b"\n/*\n* Licensed to the Apache Software Foundation")
    assert missing.status_code == 404


async def test_the_api_routes_keep_working_beside_the_app(http: httpx.AsyncClient) -> None:
    health = await http.get("/healthz")
    graphql = await http.post("/graphql", json={"query": "{ viewer { kind } }"})

    assert health.json() == {"status": "ok"}
    assert graphql.json() == {"data": {"viewer": None}}
    assert "content-security-policy" not in graphql.headers


def test_the_page_has_no_inline_script() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S)
    tags = re.findall(r"<script\b[^>]*>", html)

    assert tags
    assert all('src="/static/' in tag for tag in tags)
    assert all(body.strip() == "" for body in scripts)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers either


def test_both_languages_label_everything_the_app_names() -> None:
    en = json.loads((I18N / "en.json").read_text(encoding="utf-8"))
    zh = json.loads((I18N / "zh.json").read_text(encoding="utf-8"))
    namespaces = {key.split(".", 1)[0] for key in en}
    used = {
        key
        for path in Path(STATIC_DIR / "js").rglob("*.js")
        for key in KEY_LITERAL.findall(path.read_text(encoding="utf-8"))
        if key.split(".", 1)[0] in namespaces
    }

    assert set(en) == set(zh)
    assert sorted(used - set(en)) == []
    assert all(value.strip() for value in [*en.values(), *zh.values()])


def test_echarts_is_vendored_with_its_licence() -> None:
    vendor = STATIC_DIR / "vendor" / "echarts"

    assert (vendor / "echarts.min.js").stat().st_size > 500_000
    assert "Apache License" in (vendor / "LICENSE").read_text(encoding="utf-8")
    assert "Apache ECharts" in (vendor / "NOTICE").read_text(encoding="utf-8")
