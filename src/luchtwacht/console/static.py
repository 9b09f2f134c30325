"""The console's web client, served by the console server from the built ``web/dist`` folder.

``make web`` (run by ``make demo`` and ``make test``) bundles ``web/`` with npm into ``web/dist``:
the page, its script and stylesheet, and the offline basemap. :func:`mount_web` puts that folder
on the console's FastAPI app at ``/``, after the ``/api`` routes, which keep precedence. Without
a build the API runs alone.

Every file goes out with a Content-Security-Policy that lets the page load from the node and
nothing else: the browser itself refuses any outside script, style, font, image, tile or
connection, so an offline site cannot hang on a CDN and a compromised feed cannot make the
console call out. The picture stream runs in a worker from the node (``/stream.js``); MapLibre
needs ``blob:`` for its worker and ``data:``/``blob:`` images.
"""

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

WEB_DIST = Path(__file__).resolve().parents[3] / "web" / "dist"
"""Where ``make web`` puts the built client in a source checkout."""

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",  # fetches and the same-origin WebSocket (CSP3 'self' covers ws:)
        "worker-src 'self' blob:",  # the page's stream worker (/stream.js); MapLibre's
        "child-src blob:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


class _WebClient:
    """The built client's files (``index.html`` at ``/``), each with the console's CSP."""

    def __init__(self, dist: Path, app: FastAPI) -> None:
        self.files = StaticFiles(directory=dist, html=True)
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a WebSocket to anything but /api/stream
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "no such stream"})
            return
        if scope["path"].startswith("/api/"):  # an API path no route took: 405 or the API's 404
            allowed = self._methods(scope)
            if allowed:
                await JSONResponse(
                    {"detail": "Method Not Allowed"},
                    status_code=405,
                    headers={"Allow": ", ".join(sorted(allowed))},
                )(scope, receive, send)
            else:
                await JSONResponse({"detail": "Not Found"}, status_code=404)(scope, receive, send)
            return

        async def send_with_csp(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.files(scope, receive, send_with_csp)

    def _methods(self, scope: Scope, routes: Sequence[BaseRoute] | None = None) -> set[str]:
        """The methods of the API routes whose path matches (none: the path is unknown).

        Routers included without a prefix (the replay's) are looked into.
        """
        out: set[str] = set()
        for route in self.app.router.routes if routes is None else routes:
            inner = getattr(getattr(route, "original_router", None), "routes", None)
            if inner is not None:
                out |= self._methods(scope, inner)
                continue
            methods = getattr(route, "methods", None)
            if methods and route.matches(scope)[0] is Match.PARTIAL:
                out |= set(methods)
        return out


def mount_web(app: FastAPI, dist: Path) -> bool:
    """Serve the built web client in ``dist`` at ``/`` on ``app``; False if it is not built.

    Call it after the API routes are registered: a mount at ``/`` only sees what they do not match.
    """
    if not (dist / "index.html").is_file():
        return False
    app.mount("/", _WebClient(dist, app), name="web")
    return True
