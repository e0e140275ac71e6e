"""The web app Renshi serves itself: its static files and the headers they go out with.

The app is plain ES modules, CSS and a vendored Apache ECharts under ``static/`` (no build
step, no CDN): ``/`` answers the page, ``/static/...`` its files. It speaks to Renshi only
through the public GraphQL API and the import endpoints, like any other client.

Every answer of the app carries a strict Content-Security-Policy: scripts from this origin
only and no inline script, connections to this origin only (``/graphql`` over HTTP and
WebSocket, the import endpoints), no frames, no plugins.
"""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"
INDEX = STATIC_DIR / "index.html"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # ECharts positions its tooltips through style attributes in the markup it writes:
        # styles may be inline, scripts never.
        "style-src 'self' 'unsafe-inline'",
        # data: and blob: for the charts' "save as image" and the error report download.
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    # The files have no content hashes in their names: the browser revalidates each time
    # (a 304 from the ETag), so a new release is never mixed with an old cached module.
    "cache-control": "no-cache",
}


class _SecuredStatic:
    """The static files, answered with the app's security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, secured_send)


async def _index(request: Request) -> Response:
    return FileResponse(INDEX, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


def web_routes() -> list[BaseRoute]:
    """The app's routes, to be placed after the API's so that these never shadow them."""
    return [
        Route("/", _index, methods=["GET", "HEAD"]),
        Mount("/static", app=_SecuredStatic(StaticFiles(directory=STATIC_DIR)), name="static"),
    ]
