"""Open the HTML report in a real browser, as a reader would, and say what is wrong with it.

Headless Chromium (Debian's ``chromium``) is started with a private profile and driven over
the Chrome DevTools Protocol (a local WebSocket, no network): the page is loaded at a given
width, and :func:`check_in_browser` collects console errors and uncaught exceptions, images
that did not decode, links to an anchor that does not exist and relative links to a file the
run folder lacks, and whether the content is wider than the window. It also saves a
full-page screenshot. Chromium runs with networking off for the page: a report that needs
the internet shows it here as a failed load.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BrowserCheck", "BrowserError", "check_in_browser", "find_chromium"]

#: What the page reports about itself once loaded (run in the page by Runtime.evaluate).
_PAGE_FACTS = r"""
(() => {
  const ids = new Set([...document.querySelectorAll('[id]')].map(e => e.id));
  const anchors = [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href').slice(1));
  const relative = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))
    .filter(h => !h.startsWith('#') && !/^[a-z]+:/i.test(h));
  const images = [...document.images].map(i => ({alt: (i.alt || '').slice(0, 60),
                                                 ok: i.complete && i.naturalWidth > 0}));
  return JSON.stringify({
    missing_anchors: [...new Set(anchors.filter(a => a && !ids.has(decodeURIComponent(a))))],
    relative_links: [...new Set(relative)],
    broken_images: images.filter(i => !i.ok).map(i => i.alt),
    n_images: images.length,
    scroll_width: document.documentElement.scrollWidth,
    scroll_height: document.documentElement.scrollHeight,
  });
})()
"""


class BrowserError(RuntimeError):
    """Chromium could not be started or did not answer."""


@dataclass(frozen=True)
class BrowserCheck:
    """What a reader's browser found on the page.

    Attributes
    ----------
    console_errors
        Console messages of level error and uncaught exceptions, as the browser gave them.
    broken_images
        The alt text of each image that did not load or decode.
    missing_anchors
        ``#id`` links whose target is not on the page.
    missing_files
        Relative links to files that do not exist beside the page.
    width, scroll_width
        The window's width and the content's; content wider than the window scrolls sideways.
    n_images, height
        How many images the page has, and its full height in CSS pixels.
    screenshot
        Where the full-page screenshot was written (None if not asked for).
    """

    console_errors: tuple[str, ...]
    broken_images: tuple[str, ...]
    missing_anchors: tuple[str, ...]
    missing_files: tuple[str, ...]
    width: int
    scroll_width: int
    n_images: int
    height: int
    screenshot: Path | None

    @property
    def ok(self) -> bool:
        return not (self.console_errors or self.broken_images or self.missing_anchors or self.missing_files
                    or self.scroll_width > self.width)


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Session:
    """One CDP connection to a page target (flattened session on the browser socket)."""

    def __init__(self, ws_url: str, timeout: float):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.timeout = timeout
        self.next_id = 0
        self.session_id: str | None = None
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, *, session: bool = True) -> dict:
        self.next_id += 1
        msg: dict = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session_id:
            msg["sessionId"] = self.session_id
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise BrowserError(f"Chromium did not answer {method} within {self.timeout:g} s")

    def wait_for(self, method: str) -> None:
        deadline = time.monotonic() + self.timeout
        if any(e.get("method") == method for e in self.events):
            return
        while time.monotonic() < deadline:
            event = json.loads(self.ws.recv())
            self.events.append(event)
            if event.get("method") == method:
                return
        raise BrowserError(f"the page did not fire {method} within {self.timeout:g} s")


def _start(chromium: str, profile: Path, timeout: float) -> tuple[subprocess.Popen, str]:
    args = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--metrics-recording-only",
            f"--user-data-dir={profile}", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
            "about:blank"]
    log = profile / "chromium-stderr.log"  # a file, not a pipe, which a chatty browser could fill
    with log.open("w") as err:
        # its own process group: Chromium's renderer and helper processes end with it
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    deadline = time.monotonic() + timeout
    port_file = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrowserError(f"Chromium exited with code {proc.returncode}: {log.read_text()[-1500:]}")
        if port_file.is_file():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return proc, f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.1)
    _stop(proc)
    raise BrowserError(f"Chromium did not open its DevTools port within {timeout:g} s")


def check_in_browser(html_path: Path, *, width: int = 1280, height: int = 900, screenshot: Path | None = None,
                     timeout: float = 60.0, chromium: str | None = None) -> BrowserCheck:
    """Load ``html_path`` in headless Chromium at ``width`` CSS pixels and check it (see the
    module notes); write a full-page PNG screenshot to ``screenshot`` when given."""
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"no HTML file at {html_path}")
    chromium = chromium or find_chromium()
    if chromium is None:
        raise BrowserError("no Chromium on PATH (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="tace-chromium-", ignore_cleanup_errors=True) as tmp:
        proc, ws_url = _start(chromium, Path(tmp), timeout)
        try:
            cdp = _Session(ws_url, timeout)
            try:
                target = cdp.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
                cdp.session_id = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                          session=False)["sessionId"]
                for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
                    cdp.send(domain)
                cdp.send("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
                cdp.send("Page.navigate", {"url": html_path.as_uri()})
                cdp.wait_for("Page.loadEventFired")
                facts = json.loads(cdp.send("Runtime.evaluate", {"expression": _PAGE_FACTS,
                                                                 "returnByValue": True})["result"]["value"])
                shot = None
                if screenshot is not None:
                    full = cdp.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                               "clip": {"x": 0, "y": 0, "width": width,
                                                                        "height": facts["scroll_height"],
                                                                        "scale": 1}})
                    from ..io import atomic_write_bytes

                    shot = atomic_write_bytes(screenshot, base64.b64decode(full["data"]))
                errors = _errors(cdp.events)
            finally:
                cdp.ws.close()
        finally:
            _stop(proc)
    base = html_path.parent
    missing_files = tuple(h for h in facts["relative_links"]
                          if not (base / re.sub(r"[?#].*$", "", h)).exists())
    return BrowserCheck(errors, tuple(facts["broken_images"]), tuple(facts["missing_anchors"]), missing_files,
                        width, int(facts["scroll_width"]), int(facts["n_images"]), int(facts["scroll_height"]), shot)


def _stop(proc: subprocess.Popen) -> None:
    """End Chromium and every process it started (they share its process group)."""
    import contextlib
    import os
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.2)  # let the killed helpers release the profile folder before it is removed


def _errors(events: list[dict]) -> tuple[str, ...]:
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            out.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            out.append(f"{entry.get('source', '')}: {entry.get('text', '')} {entry.get('url', '')}".strip())
    return tuple(out)
