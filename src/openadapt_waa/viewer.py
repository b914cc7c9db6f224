"""The live viewer: a small web page that follows a run as the callback plugin writes it.

The callback plugin appends one JSON event a line to ``<run dir>/events.jsonl``. The viewer
tails that file (or several: a setup run then a benchmark run merge into one view), folds the
events into the run state with the collection's own reducer (``apply_event``, ``hub.Hub``) and
pushes them to browsers with Server-Sent Events. It starts before the run does, so the page says
"Initializing..." at once and fills in as events arrive.

Endpoints (all on 127.0.0.1 by default):

- ``GET /``: the page (``static/index.html``, no build step, no network access).
- ``GET /api/events[?since=ID]``: SSE. On connect one ``event: state`` with the full snapshot
  (the ``/api/state`` document), then one ``event: waa`` per run event:
  ``{"id", "run", "event", "lines", "hosts": {name: host state}, "run_state", "run_info"}``. ``id`` is the
  viewer's own sequence over all run dirs (each run's ``seq`` starts at 1); with ``since`` (or
  the ``Last-Event-ID`` header a reconnecting EventSource sends) the events after that id are
  replayed instead of the snapshot, when they are still held.
- ``GET /api/state``: the snapshot ``{"id", "state", "runs", "phases", "boot_stages", "log",
  "viewer"}``: ``state`` is the folded state of all followed runs (``new_state`` shape).
- ``GET /api/benchmark-live``: ``benchmark_live(state)``, the shape OpenAdapt's viewer polls.
- ``GET /screenshots/<run>/<path>``: a file from that run dir's ``screenshots/``.

Usage::

    viewer = Viewer([run_dir])          # or Viewer(watch_root=runs_root)
    url = viewer.start()                # serving when it returns
    open_browser(url)
    ...                                 # run the playbook; the page follows it
    viewer.stop()
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import socket
import sys
import threading
import time
import urllib.request
import webbrowser
from pathlib import Path
from typing import Iterable, TextIO

from openadapt_waa.hub import Hub, _dumps

from ansible_collections.openadapt.waa.plugins.plugin_utils._run_files import runs_home

STATIC_DIR = Path(__file__).resolve().parent / "static"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never send 127.0.0.1 to a proxy
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]


# -- the web app ---------------------------------------------------------------------------------
class _Subscriber:
    def __init__(self, maxsize: int):
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=maxsize)

    def put(self, item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # a browser that cannot keep up: resend the snapshot instead
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait("resync")


class Broadcaster:
    """Pumps the hub from the server's event loop and fans records out to SSE streams."""

    def __init__(self, hub: Hub, poll_interval: float = 0.1, queue_size: int = 5000):
        self.hub = hub
        self.poll_interval = poll_interval
        self.queue_size = queue_size
        self.subscribers: set[_Subscriber] = set()
        self.closing = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._task = asyncio.get_running_loop().create_task(self._pump())

    async def close(self) -> None:
        self.closing = True
        for sub in list(self.subscribers):
            sub.put("close")
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    def subscribe(self) -> _Subscriber:
        sub = _Subscriber(self.queue_size)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: _Subscriber) -> None:
        self.subscribers.discard(sub)

    async def _pump(self) -> None:
        while not self.closing:
            try:
                records = self.hub.poll()
            except Exception as err:  # keep serving whatever happens to one read
                print("waa viewer: reading events failed: %s" % err, file=sys.stderr)
                records = []
            for record in records:
                for sub in list(self.subscribers):
                    sub.put(record)
            if not self.hub.more_pending:
                await asyncio.sleep(self.poll_interval)
            else:
                await asyncio.sleep(0)


# Connections at once when the viewer listens beyond loopback (each SSE client holds one).
REMOTE_CONNECTION_LIMIT = 32


TOKEN_COOKIE = "waa_viewer_token"


class TokenGate:
    """ASGI middleware: every request must carry the run's token, as ``?token=`` (the printed URL)
    or as the cookie a page opened with it got, so that the page's own requests carry it too."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        import hmac
        from http.cookies import SimpleCookie
        from urllib.parse import parse_qs

        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        cookie_header = dict(scope.get("headers") or []).get(b"cookie", b"").decode("latin-1")
        cookies = SimpleCookie()
        try:
            cookies.load(cookie_header)
        except Exception:  # a malformed header is no token
            cookies = SimpleCookie()
        cookie = cookies[TOKEN_COOKIE].value if TOKEN_COOKIE in cookies else ""
        if not (hmac.compare_digest(query, self.token) or hmac.compare_digest(cookie, self.token)):
            body = b"This viewer needs its token: open the URL it printed (with ?token=...).\n"
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
            return await send({"type": "http.response.body", "body": body})
        if query and not cookie:
            set_cookie = ("%s=%s; Path=/; HttpOnly; SameSite=Strict" % (TOKEN_COOKIE, self.token)).encode()

            async def send_with_cookie(message):
                if message["type"] == "http.response.start":
                    message = dict(message, headers=list(message.get("headers") or []) + [(b"set-cookie", set_cookie)])
                await send(message)

            return await self.app(scope, receive, send_with_cookie)
        return await self.app(scope, receive, send)


def create_app(hub: Hub, poll_interval: float = 0.1, allowed_hosts: list[str] | None = None,
               token: str | None = None):
    """The Starlette app over ``hub`` (the broadcaster starts with the app's lifespan); with
    ``token``, every request must carry it (TokenGate)."""
    from contextlib import asynccontextmanager

    from sse_starlette.sse import EventSourceResponse, ServerSentEvent
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    broadcaster = Broadcaster(hub, poll_interval=poll_interval)

    @asynccontextmanager
    async def lifespan(_app):
        await broadcaster.start()
        try:
            yield
        finally:
            await broadcaster.close()

    no_store = {"Cache-Control": "no-store"}

    async def index(_request):
        return FileResponse(STATIC_DIR / "index.html", headers=no_store)

    async def api_state(_request):
        return Response(_dumps(hub.snapshot()), media_type="application/json", headers=no_store)

    async def api_benchmark_live(request):
        raw = request.query_params.get("since")
        try:
            since = float(raw) if raw not in (None, "") else None
            if since is not None and not math.isfinite(since):
                raise ValueError(raw)
        except ValueError:
            return JSONResponse({"error": "since must be a time: epoch seconds, or milliseconds (Date.now())"},
                                status_code=400, headers=no_store)
        return JSONResponse(hub.benchmark_live(since), headers=no_store)

    async def api_health(_request):
        return JSONResponse({"ok": True, "id": hub.last_id})

    async def screenshot(request):
        path = hub.screenshot_file(request.path_params["run"], request.path_params["path"])
        if path is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(path, headers=no_store)

    def _since(request) -> int | None:
        raw = request.query_params.get("since") or request.headers.get("last-event-id")
        try:
            return int(raw) if raw not in (None, "") else None
        except ValueError:
            return None

    async def api_events(request):
        since = _since(request)

        def snapshot_event(snap: dict) -> ServerSentEvent:
            return ServerSentEvent(data=_dumps(snap), event="state", id=str(snap["id"]), retry=1000)

        async def stream():
            # Subscribe and take the snapshot (or the replay) with nothing awaited in between, so
            # no event published meanwhile is lost or sent twice.
            sub = broadcaster.subscribe()
            initial = hub.records_after(since) if since is not None else None
            first = hub.snapshot() if initial is None else None
            sent = since or 0
            try:
                if first is not None:
                    sent = first["id"]
                    yield snapshot_event(first)
                else:
                    yield ServerSentEvent(comment="replay", retry=1000)
                    for record in initial:
                        sent = record.id
                        yield ServerSentEvent(data=record.data, event="waa", id=str(record.id))
                while not broadcaster.closing:
                    item = await sub.queue.get()
                    if item == "close":
                        break
                    if item == "resync" or getattr(item, "kind", None) == "reset":
                        snap = hub.snapshot()
                        sent = snap["id"]
                        yield snapshot_event(snap)
                    elif item.id > sent:
                        sent = item.id
                        yield ServerSentEvent(data=item.data, event="waa", id=str(item.id))
            finally:
                broadcaster.unsubscribe(sub)

        return EventSourceResponse(stream(), ping=10, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    routes = [
        Route("/", index),
        Route("/index.html", index),
        Route("/api/state", api_state),
        Route("/api/benchmark-live", api_benchmark_live),
        Route("/api/health", api_health),
        Route("/api/events", api_events),
        Route("/screenshots/{run}/{path:path}", screenshot),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else []
    if token:
        middleware.append(Middleware(TokenGate, token=token))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.hub = hub
    app.state.broadcaster = broadcaster
    return app


# -- the server thread -----------------------------------------------------------------------------
class Viewer:
    """The live viewer for one or more run dirs, served by uvicorn in a background thread.

    ``Viewer([run_dir])`` follows the given run dirs (they may not exist yet; add more with
    ``add_run_dir``); ``Viewer(watch_root=runs_dir)`` follows the newest run dir there and every
    one created later. ``port=0`` picks a free port. Bound to 127.0.0.1 unless told otherwise
    (the page shows screenshots of the VM's desktop: keep it on loopback, use an SSH tunnel).
    """

    def __init__(self, run_dirs: Iterable[Path | str] | Path | str | None = None, *, watch_root: Path | str | None = None,
                 host: str = "127.0.0.1", port: int = 0, poll_interval: float = 0.1, latest: int = 1):
        if isinstance(run_dirs, (str, os.PathLike)):
            run_dirs = [run_dirs]
        if not run_dirs and not watch_root:
            raise ValueError("Viewer needs run_dirs or watch_root")
        self.hub = Hub(run_dirs or [], watch_root=watch_root, latest=latest)
        self.host = host
        self.port = port
        loopback = host in ("127.0.0.1", "localhost", "::1")
        # Beyond loopback others can reach the page (the VM's desktop, logs): a random token per
        # viewer, in the printed URL, lets only whoever has that URL in.
        self.token = None if loopback else secrets.token_urlsafe(24)
        self.app = create_app(self.hub, poll_interval=poll_interval, allowed_hosts=LOOPBACK_NAMES if loopback else None,
                              token=self.token)
        self.url: str | None = None
        self.base_url: str | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def add_run_dir(self, path: Path | str) -> str:
        """Follow one more run dir (it may not exist yet); returns its name in screenshot URLs."""
        return self.hub.add_run_dir(path)

    def start(self, timeout: float = 15.0) -> str:
        """Serve in a background thread; returns the page URL once the server answers."""
        import uvicorn

        if self._thread:
            return self.url
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        shown = "[%s]" % self.host if family == socket.AF_INET6 else self.host
        self.base_url = "http://%s:%d/" % (shown, self.port)
        self._query = "?token=%s" % self.token if self.token else ""
        self.url = self.base_url + self._query  # the page, with the token when there is one
        # Off loopback the page is reachable by others: bound the connections it holds open.
        limit = None if self.host in ("127.0.0.1", "localhost", "::1") else REMOTE_CONNECTION_LIMIT
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=3, ws="none", limit_concurrency=limit)
        self._server = uvicorn.Server(config)

        def serve():
            try:
                self._server.run(sockets=[sock])
            except BaseException as err:  # reported by start()
                self._error = err
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name="waa-viewer", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._error or not self._thread.is_alive():
                raise RuntimeError("The viewer failed to start: %s" % (self._error or "server exited"))
            if self._server.started:
                try:
                    with _NO_PROXY.open(self.base_url + "api/health" + self._query, timeout=2) as resp:
                        if resp.status == 200:
                            return self.url
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("The viewer did not answer within %.0f s at %s" % (timeout, self.url))

    def stop(self, timeout: float = 10.0) -> None:
        """Close the SSE streams, stop the server and wait for its thread."""
        if not self._server:
            return
        server, self._server = self._server, None
        broadcaster = self.app.state.broadcaster
        if broadcaster.loop and broadcaster.loop.is_running():
            # End the SSE streams first: uvicorn waits for open responses before it stops.
            try:
                asyncio.run_coroutine_threadsafe(broadcaster.close(), broadcaster.loop).result(timeout=3)
            except Exception:
                pass
        server.should_exit = True
        if self._thread:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *_exc):
        self.stop()


def _has_display() -> bool:
    if sys.platform.startswith(("win", "darwin")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_browser(url: str, stream: TextIO | None = None) -> bool:
    """Print the URL (to stderr by default, so --json output stays clean) and open a browser
    when there is one: never a console browser, never an error when headless or over SSH."""
    stream = stream or sys.stderr
    print("Live viewer: %s" % url, file=stream, flush=True)
    if os.environ.get("WAA_NO_BROWSER") or not _has_display():
        return False
    try:
        browser = webbrowser.get()
        if isinstance(browser, webbrowser.GenericBrowser) and not isinstance(browser, webbrowser.BackgroundBrowser):
            return False  # a terminal browser (lynx, w3m) would take over the terminal
        return bool(browser.open(url, new=2))
    except Exception:
        return False


def main(argv: list[str] | None = None) -> int:
    """``python -m openadapt_waa.viewer [RUN_DIR ...] [--root DIR] [--port N]``: serve until Ctrl+C."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m openadapt_waa.viewer", description=main.__doc__)
    parser.add_argument("run_dirs", nargs="*", type=Path)
    parser.add_argument("--root", type=Path, help="follow the newest run dir here and every new one")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    root = args.root
    if not args.run_dirs and not root:
        root = Path(runs_home())
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("Warning: the viewer listens on %s, beyond loopback: whoever has its URL (with its token) sees the "
              "VM's desktop screenshots and logs (at most %d connections). Prefer 127.0.0.1 and an SSH tunnel."
              % (args.host, REMOTE_CONNECTION_LIMIT), file=sys.stderr, flush=True)
    viewer = Viewer(args.run_dirs, watch_root=root, host=args.host, port=args.port)
    url = viewer.start()
    if args.no_browser:
        print("Live viewer: %s" % url, file=sys.stderr, flush=True)
    else:
        open_browser(url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        viewer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
