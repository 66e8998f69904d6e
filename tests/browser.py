"""What the browser tests share: Debian's Chromium driven by Playwright, the built site served on 127.0.0.1, pages
watched from their first request.

The tests are in two files, so that pytest-xdist can run them on two workers at once: `test_browser.py` tours every
page, `test_browser_reader.py` checks what a reader does on a few of them.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright
from sitebuild import ARTIFACTS

# Debian's build of chrome-headless-shell: Chromium's engine without the desktop browser around it, Chrome's old
# headless mode. Puppeteer's guide calls it "more performant for automation tasks", while it "does not match the
# behavior of the regular Chrome completely" (https://pptr.dev/guides/headless-modes/); the offline copy's test opens
# pages in the full /usr/bin/chromium. Measured on the 2-core machine, 24 pages each opened in a fresh context: 39 s
# of CPU against 69 s for the full browser.
CHROMIUM = Path("/usr/bin/chromium-headless-shell")
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
SCREENSHOTS = ARTIFACTS / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def missing_page_handler(directory: str) -> type[http.server.SimpleHTTPRequestHandler]:
    """A handler that serves the built site as a static host does: a missing path gets its language's 404 page."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            if code != 404:
                super().send_error(code, message, explain)
                return
            language_page = Path(directory) / "zh" / "404.html"
            page = language_page if self.path.startswith("/zh/") and language_page.is_file() else None
            body = (page or Path(directory) / "404.html").read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    return Handler


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free port of 127.0.0.1, as a static host does (``missing_page_handler``)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), missing_page_handler(str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    thread.join()


@contextmanager
def launch() -> Iterator[Any]:
    """Debian's Chromium, headless, with the screenshots' folder ready."""
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"no {CHROMIUM}: run scripts/setup-system.sh (make setup does)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What a page did while it was open: console errors, failed requests, requests to other hosts, bytes."""

    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    handlers: dict[str, Any] = field(default_factory=dict)

    def attach(self, page: Any) -> None:
        def on_console(message: Any) -> None:
            if message.type == "error":
                self.errors.append(f"console: {message.text} ({message.location.get('url')})")

        def on_request(request: Any) -> None:
            url = urlsplit(request.url)
            if url.scheme in {"http", "https", "ws", "wss"}:
                self.requests.append(request)
                if url.hostname != "127.0.0.1":
                    self.foreign.append(request.url)

        def on_response(response: Any) -> None:
            if response.status >= 400:
                self.failed.append(f"HTTP {response.status}: {response.url}")

        self.handlers = {
            "console": on_console,
            "pageerror": lambda error: self.errors.append(f"uncaught: {error}"),
            "request": on_request,
            "requestfailed": lambda request: self.failed.append(f"failed: {request.url}"),
            "response": on_response,
        }
        for event, handler in self.handlers.items():
            page.on(event, handler)

    def detach(self, page: Any) -> None:
        for event, handler in self.handlers.items():
            page.remove_listener(event, handler)

    def urls(self) -> list[str]:
        return [request.url for request in self.requests]

    def bytes(self) -> int:
        """Bytes of every response body received (uncompressed: the test server sends no gzip)."""
        return sum(max(request.sizes()["responseBodySize"], 0) for request in self.requests)


def open_page(browser: Any, url: str, viewport: dict[str, int] = DESKTOP, **options: Any) -> tuple[Any, Watch]:
    """A page in a fresh context (an empty cache, as a first visit), watched from its first request."""
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    watch = Watch()
    watch.attach(page)
    page.goto(url, wait_until="networkidle")
    return page, watch


def close(page: Any) -> None:
    context = page.context
    page.close()
    context.close()
