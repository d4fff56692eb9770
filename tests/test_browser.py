"""The built docs and the command's report pages, rendered in headless Chromium.

Each page is loaded over a local HTTP server (as a reader's `mkdocs serve` or
`python -m http.server` would show it) through the DevTools protocol; the
test fails on any console error or uncaught exception, on an `<img>` that did
not load (`naturalWidth == 0`), on a Markdown or plain-text table that did not
become a `<table>`, and (theory pages) on equations MathJax did not typeset.
Full-page screenshots go to `$FLOWREP_ARTIFACTS` (default `ci-artifacts/`).

Marked `browser` (not in the default run). `.ci/run` builds the docs, installs
Debian's `chromium` when it is absent and runs this file. Inputs:

- `FLOWREP_DOCS_SITE`: a built site (`mkdocs build`); without it the test
  builds one when mkdocs is installed (the `docs` extra).
- `FLOWREP_DEMO_REPORT`: an existing `flowrep demo` report directory; without
  it the test runs `python -m flowrep demo --quick`.
- `FLOWREP_CHROMIUM`: the browser (default: `chromium` on PATH).
"""

import contextlib
import functools
import http.server
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any

import pytest


pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]

# Raw Markdown tables (a `|---|` rule) or runs of aligned columns outside a
# <table>/<pre>/<code> mean a table was not rendered as one.
CHECK_JS = r"""
(() => {
  const imgs = [...document.images].map(i => ({src: i.currentSrc || i.src,
      ok: i.complete && i.naturalWidth > 0}));
  const bad_tables = [];
  for (const el of document.querySelectorAll("p, div, li, span")) {
    if (el.closest("table, pre, code, .highlight, .jp-OutputArea, .output_area")) continue;
    const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join("");
    if (/\|\s*:?-{3,}/.test(own) || /(\S {3,}\S.*){3,}/.test(own))
      bad_tables.push(own.slice(0, 120));
  }
  return {
    imgs, bad_tables,
    tables: document.querySelectorAll("table").length,
    math: document.querySelectorAll("mjx-container").length,
    raw_math: document.querySelectorAll(".arithmatex").length,
    height: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight),
    title: document.title,
  };
})()
"""


def _artifacts() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("FLOWREP_ARTIFACTS") or ROOT / "ci-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Page:
    """One DevTools page session: send commands, collect console errors."""

    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.errors: list[str] = []
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def _record(self, msg: dict[str, Any]) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in (
            "error",
            "assert",
        ):
            args = params.get("args", [])
            self.errors.append(
                "console."
                + params["type"]
                + ": "
                + " ".join(str(a.get("value", a.get("description", ""))) for a in args)
            )
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.errors.append(
                "exception: "
                + str(d.get("exception", {}).get("description") or d.get("text"))
            )
        elif (
            method == "Log.entryAdded"
            and params.get("entry", {}).get("level") == "error"
        ):
            e = params["entry"]
            self.errors.append(f"log: {e.get('text')} {e.get('url', '')}")
        elif method:
            self.events.append(msg)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._record(msg)

    def wait_event(self, method: str, timeout: float = 60) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        deadline = time.monotonic() + timeout
        self.ws.settimeout(timeout)
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self._record(msg)
            if msg.get("method") == method:
                return
        raise TimeoutError(method)

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        out = self.call(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=await_promise,
        )
        if "exceptionDetails" in out:
            raise RuntimeError(
                f"evaluating {expression[:60]!r}: {out['exceptionDetails']}"
            )
        return out["result"].get("value")

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        # MathJax (docs pages) typesets after load; wait for it where present
        self.evaluate(
            "window.MathJax && MathJax.startup && MathJax.startup.promise"
            " ? MathJax.startup.promise.then(() => true) : true",
            await_promise=True,
        )
        self.evaluate(
            "new Promise(r => setTimeout(() => r(true), 300))", await_promise=True
        )

    def screenshot(self, path: pathlib.Path, height: int) -> None:
        h = max(600, min(int(height), 12000))
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=h,
            deviceScaleFactor=1,
            mobile=False,
        )
        data = self.call("Page.captureScreenshot", format="png")["data"]
        import base64

        path.write_bytes(base64.b64decode(data))
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )


@pytest.fixture(scope="module")
def chromium():
    exe = (
        os.environ.get("FLOWREP_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not exe:
        pytest.skip(
            "no Chromium: install Debian's `chromium` (apt-get install -y chromium, as root; "
            ".ci/run does this) or set FLOWREP_CHROMIUM"
        )
    pytest.importorskip("websocket", reason="needs websocket-client (the dev extra)")
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="flowrep-chromium-")
    proc = subprocess.Popen(
        [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/json/version", timeout=2
                ):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{exe} did not start (exit code {proc.poll()})")
                time.sleep(0.25)
        yield port
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(chromium):
    req = urllib.request.Request(
        f"http://127.0.0.1:{chromium}/json/new?about:blank", method="PUT"
    )
    with urllib.request.urlopen(req, timeout=10) as fh:
        target = json.load(fh)
    p = _Page(target["webSocketDebuggerUrl"])
    yield p
    p.ws.close()
    with contextlib.suppress(OSError):
        urllib.request.urlopen(
            f"http://127.0.0.1:{chromium}/json/close/{target['id']}", timeout=10
        ).close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A local HTTP server over a folder holding the docs site and two reports."""
    root = tmp_path_factory.mktemp("served")
    site = os.environ.get("FLOWREP_DOCS_SITE")
    if site:
        site_path = pathlib.Path(site)
        if not (site_path / "index.html").exists():
            pytest.fail(
                f"FLOWREP_DOCS_SITE={site} holds no index.html: run `mkdocs build` first"
            )
    else:
        pytest.importorskip(
            "mkdocs",
            reason="no FLOWREP_DOCS_SITE and no mkdocs (the docs extra) to build one",
        )
        site_path = root / "site-build"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mkdocs",
                "build",
                "--quiet",
                "--site-dir",
                str(site_path),
            ],
            cwd=ROOT,
            check=True,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        )
    (root / "docs").symlink_to(site_path, target_is_directory=True)
    reports = root / "reports"
    reports.mkdir()
    demo = os.environ.get("FLOWREP_DEMO_REPORT")
    if demo:
        shutil.copytree(demo, reports / "demo")
    else:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "flowrep",
                "demo",
                "--quick",
                "--out",
                str(reports / "demo"),
            ],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "flowrep",
            "reproduce",
            "admissibility-table",
            "--out",
            str(reports / "admissibility-table"),
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


def _check(
    page: _Page, url: str, shot: str, *, min_tables: int = 0, math: bool = False
) -> dict[str, Any]:
    page.open(url)
    info = page.evaluate(CHECK_JS)
    page.screenshot(_artifacts() / shot, info["height"])
    assert not page.errors, f"{url}: console errors: {page.errors}"
    broken = [i["src"] for i in info["imgs"] if not i["ok"]]
    assert not broken, f"{url}: images that did not load: {broken}"
    assert not info["bad_tables"], (
        f"{url}: tables not rendered as <table>: {info['bad_tables']}"
    )
    assert info["tables"] >= min_tables, (
        f"{url}: {info['tables']} tables, expected >= {min_tables}"
    )
    if math:
        assert info["math"] > 0, f"{url}: no equation typeset by MathJax"
    return info


def test_docs_index(page, served):
    info = _check(page, f"{served}/docs/index.html", "docs-index.png")
    assert info["imgs"], "the docs' front page shows the demo figure"


def test_docs_api_page(page, served):
    info = _check(
        page, f"{served}/docs/api/transport/index.html", "docs-api-transport.png"
    )
    assert "Transport" in info["title"]


def test_docs_theory_equations(page, served):
    _check(
        page,
        f"{served}/docs/theory/ridgelets/index.html",
        "docs-theory-ridgelets.png",
        min_tables=1,
        math=True,
    )


def test_demo_report(page, served):
    info = _check(
        page, f"{served}/reports/demo/index.html", "report-demo.png", min_tables=1
    )
    assert len(info["imgs"]) >= 3, "the demo report shows its figures"


def test_admissibility_report_tables(page, served):
    _check(
        page,
        f"{served}/reports/admissibility-table/index.html",
        "report-admissibility-table.png",
        min_tables=2,
    )


def test_reports_index(page, served):
    info = _check(
        page, f"{served}/reports/index.html", "report-index.png", min_tables=1
    )
    assert info["title"] == "flowrep reports"
