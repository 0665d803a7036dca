"""The web page's server: a Starlette app with one websocket per browser tab.

    GET /           the page (instructed_rl/interactive/web/static/index.html)
    GET /static/... its script and style (served by the package: the page works offline)
    WS  /ws         one tab's episode: JSON messages in, one JSON reply each

Client messages: ``{"type": "world", "game", "split", "corpus", "seed"}`` (make a world),
``{"type": "run", "text"}`` (start an instruction), ``{"type": "step"}`` (one step),
``{"type": "gif"}`` (the episode as a GIF). Replies: ``hello`` (on connect), ``world``,
``start``, ``step``, ``gif``, or ``error`` with a one-line ``message``; the connection stays
open after an error. The browser drives the pace (it asks for the next step when it wants
it), so play / pause / step / speed live in the page and a slow tab never queues steps.

Each connection owns a :class:`~instructed_rl.interactive.web.page.PageSession`, dropped when the tab
closes. Session work (model, world, PNG) runs on one worker thread: the agent is shared by
every tab and serves one step at a time, and the event loop stays free for the sockets.

Requests from another origin are refused (HTTP 403, or the websocket handshake refused): a
page elsewhere cannot drive this server through the visitor's browser. When bound to
loopback, the ``Host`` header must name loopback too (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from instructed_rl.errors import UserError
from instructed_rl.interactive.web.page import PageSession, Shared

STATIC = Path(__file__).resolve().parent / "static"
MAX_MESSAGE_BYTES = 16_384  # an instruction is at most 200 characters
MAX_SESSIONS = 64  # open tabs; each holds a world and its episode's frames
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("instructed_rl.interactive.web")


def host_name(host: str) -> str:
    """``"127.0.0.1:8765"`` -> ``"127.0.0.1"``, ``"[::1]:8765"`` -> ``"::1"``."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    return host_name(host).lower() in LOOPBACK_NAMES or host_name(host).startswith("127.")


class SameOrigin:
    """ASGI middleware: refuse a request whose ``Origin`` is not this server's own (``http://<Host>``),
    and, with ``loopback_only``, one whose ``Host`` is not a loopback name."""

    def __init__(self, app, *, loopback_only: bool) -> None:
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            problem = self.problem(dict(scope["headers"]))
            if problem:
                log.warning("refused %s %s: %s", scope["type"], scope.get("path"), problem)
                if scope["type"] == "websocket":
                    await receive()  # websocket.connect
                    await send({"type": "websocket.close", "code": 1008, "reason": problem})
                else:
                    body = f"refused: {problem}\n".encode()
                    await send({"type": "http.response.start", "status": 403,
                                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                            (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def problem(self, headers: dict[bytes, bytes]) -> str | None:
        host = headers.get(b"host", b"").decode("latin-1")
        if self.loopback_only and not is_loopback(host):
            return f"Host {host!r} is not this machine's loopback address"
        origin = headers.get(b"origin")
        if origin is not None and origin.decode("latin-1") not in (f"http://{host}", f"https://{host}"):
            return f"Origin {origin.decode('latin-1')!r} is not this page's own (http://{host})"
        return None


def create_app(shared: Shared, *, loopback_only: bool = True):
    """The ASGI app for one loaded agent; ``loopback_only`` when the server listens on loopback."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket, WebSocketDisconnect

    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="instructed-rl-page")
    sessions: set[PageSession] = set()

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def episode(websocket: WebSocket) -> None:
        await websocket.accept()
        if len(sessions) >= MAX_SESSIONS:
            await websocket.send_json({"type": "error", "message": f"too many open tabs ({MAX_SESSIONS}). "
                                       "Fix: close some tabs of this page and reload"})
            await websocket.close(code=1013)
            return
        loop = asyncio.get_running_loop()
        page = PageSession(shared)
        sessions.add(page)
        try:
            await websocket.send_json(page.hello())
            while True:
                raw = await websocket.receive_text()
                reply = await handle(loop, page, raw)
                await websocket.send_text(json.dumps(reply))
        except WebSocketDisconnect:
            pass
        finally:
            sessions.discard(page)
            await loop.run_in_executor(worker, page.close)  # a closed tab frees its world and frames

    async def handle(loop, page: PageSession, raw: str) -> dict:
        try:
            if len(raw) > MAX_MESSAGE_BYTES:
                raise UserError(f"message too long ({len(raw)} characters). Fix: type a shorter instruction")
            try:
                message = json.loads(raw)
            except json.JSONDecodeError:
                raise UserError("the page sent something that is not JSON. Fix: reload the page") from None
            kind = message.get("type") if isinstance(message, dict) else None
            if kind not in ("world", "run", "step", "gif"):
                raise UserError(f"unknown request {kind!r}. Fix: reload the page")
            if kind == "gif":  # slow (every frame); off the step worker, on the session's own snapshot
                return await asyncio.to_thread(page.gif, message)
            return await loop.run_in_executor(worker, getattr(page, kind), message)
        except UserError as error:
            return {"type": "error", "message": " ".join(str(error).split())}
        except Exception as error:  # a bug: the tab sees one line, the server log the traceback, the server lives on
            log.error("request failed:\n%s", traceback.format_exc())
            return {"type": "error", "message": f"internal error ({type(error).__name__}: {error}); "
                    "the server keeps running. Fix: reset the world, or report it with the server's log"}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        worker.shutdown(wait=False, cancel_futures=True)

    app = Starlette(routes=[
        Route("/", index),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        WebSocketRoute("/ws", episode),
    ], lifespan=lifespan)
    app.state.sessions = sessions
    return SameOrigin(app, loopback_only=loopback_only)
