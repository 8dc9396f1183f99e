r"""The built site renders in a real browser, offline.

Headless Chromium (Debian's package; ``tools/install_browser.sh``, run by ``make test``, installs it
as root; ``$CHROMIUM`` names another binary) loads every
page of the site built by ``built_site`` (``tests/test_book.py``) from an HTTP server on
127.0.0.1, driven directly over the Chrome DevTools Protocol (``websocket-client``).
Host resolution for every host but 127.0.0.1 is disabled, and every request the
browser makes is recorded, so a page that needs the network fails here.

Besides loading cleanly, every page is read as a reader sees it after MathJax has run: no raw
Markdown (table rows of pipes, ``**bold**``) or raw TeX (``$…$``, ``\(``, ``\boldsymbol``, ...) in its
visible text, and no line of a code cell or an output cut off behind a scrollbar.

Screenshots of the key pages go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import websocket
from bs4 import BeautifulSoup
from test_book import build_site  # the one build of this test session (module-level cache)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
MISSING_CHROMIUM = (
    f"Chromium not found ({CHROMIUM}): the browser tests need it. As root, `make test` installs it "
    "(tools/install_browser.sh); otherwise install it with `sudo apt-get install -y chromium` (Debian 12), "
    "or set CHROMIUM=/path/to/chromium, or run the other tests with "
    "`.venv/bin/python -m pytest -m 'not slow and not browser'`."
)
# Pages whose screenshots are kept (when they exist in the build).
KEY_PAGES = {
    "intro": "book/intro.html",
    "theorem": "notebooks/05_identifiability_theorem.html",
    "summary": "notebooks/12_summary.html",
    "audit": "notebooks/13_audit_your_model.html",
    "status": "book/status.html",
}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--window-size=1280,1600",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
]
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-error"}


@pytest.fixture(scope="session")
def built_site():
    return build_site()


# --- a local web server -----------------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (ephemeral port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(built_site):
    with serve(built_site.html) as url:
        yield url


# --- a minimal Chrome DevTools Protocol client -----------------------------------------


class Browser:
    """Headless Chromium with one page, driven over CDP."""

    def __init__(self, workdir: Path):
        if not Path(CHROMIUM).exists():
            raise RuntimeError(MISSING_CHROMIUM)
        self.profile = Path(tempfile.mkdtemp(prefix="profile-", dir=workdir))
        self.log = open(workdir / "chromium.log", "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"chromium did not start; see {workdir / 'chromium.log'}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        targets = json.loads(opener.open(f"http://127.0.0.1:{port}/json/list", timeout=30).read())
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], suppress_origin=True, timeout=60)
        self._id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        while True:
            for msg in self.events[seen:]:
                if msg["method"] == method:
                    return msg
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise TimeoutError(method)
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> list[dict]:
        """Load ``url``, wait for load, MathJax and images; return the CDP events of the load."""
        self.events = []
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        self.evaluate(WAIT_JS)
        time.sleep(0.2)  # let late events (e.g. failed requests) arrive
        self.call("Runtime.evaluate", expression="0")
        return list(self.events)

    def screenshot(self, path: Path) -> None:
        """The whole page (up to 6000 px tall) at 1280 px wide."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        height = int(min(max(size["height"], 800), 6000))
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=height, deviceScaleFactor=1, mobile=False)
        try:
            self.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
            shot = self.call("Page.captureScreenshot", format="png")
        finally:
            self.call("Emulation.clearDeviceMetricsOverride")
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            if hasattr(self, "ws"):
                self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)


WAIT_JS = """
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  return true;
})()
"""

INSPECT_JS = r"""
(() => {
  const main = document.querySelector('main') || document.body;
  const skip = el => !el || el.closest('script,style,pre,code,mjx-container,textarea,noscript,.highlight');
  // math MathJax did not typeset: \( \[ $$ delimiters left in the text
  const DELIMITERS = /\\\(|\\\[|\$\$/;
  // TeX that never reached MathJax: $...$ (dollarmath not applied), a control word such as \boldsymbol
  const TEX = [/\$[^$\s][^$]*\$/, /\\[A-Za-z]{2,}/];
  // raw Markdown: a table row of pipes (| a | b |), a separator row (|---|, or |—| after smartquotes), **bold**
  const MARKDOWN = [/\|[^|\n]+\|[^|\n]+\|/, /\|\s*:?[-–—]{1,3}:?\s*\|/, /\*\*[^*\s][^*]*\*\*/];
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const rawTex = [], leakedTex = [], rawMarkdown = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (skip(node.parentElement)) continue;
    const text = node.textContent;
    if (DELIMITERS.test(text)) rawTex.push(text.trim().slice(0, 120));
    if (TEX.some(re => re.test(text))) leakedTex.push(text.trim().slice(0, 120));
    if (MARKDOWN.some(re => re.test(text))) rawMarkdown.push(text.trim().slice(0, 120));
  }
  // lines cut off: a code block or output narrower than its content, or any box (a table's, a
  // formula's) that scrolls or clips horizontally because its content is wider than the page
  const code = new Set(main.querySelectorAll('pre, div.cell_output > div, div.highlight'));
  const cutOff = [...main.querySelectorAll('*')]
      .filter(el => code.has(el) || getComputedStyle(el).overflowX !== 'visible')
      .filter(el => !el.matches('span.math, span.math *'))  // inline math: MathJax's spacing, nothing hidden
      .filter(el => el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
      .map(el => `${el.scrollWidth}px in ${el.clientWidth}px: ` + el.textContent.trim().slice(0, 100));
  return {
    title: document.title,
    mathElements: document.querySelectorAll('span.math, div.math').length,
    mjx: document.querySelectorAll('mjx-container').length,
    untypeset: [...document.querySelectorAll('span.math, div.math')]
        .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80)),
    rawTex,
    leakedTex,
    rawMarkdown,
    cutOff,
    pres: main.querySelectorAll('pre').length,
    errorOutputs: [...document.querySelectorAll(
        '.cell_output .stderr, .cell_output .traceback, .cell_output .error, .output.stderr, .output.traceback')]
        .map(e => e.textContent.trim().slice(0, 300)),
    images: [...document.images].map(img => ({src: img.src, ok: img.complete && img.naturalWidth > 0})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  };
})()
"""


REFRESH = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)"', re.IGNORECASE)


def _site_pages(html: Path) -> list[str]:
    """Every HTML page of the site, but for pure redirects (checked in test_redirects_resolve)."""
    skip = {"_static", "_sources", "_images", "reports", "_downloads"}
    return sorted(
        p.relative_to(html).as_posix()
        for p in html.rglob("*.html")
        if not (set(p.relative_to(html).parts) & skip) and not REFRESH.match(p.read_text(errors="replace").strip())
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    b = Browser(tmp_path_factory.mktemp("chromium"))
    yield b
    b.close()


def visit(browser: Browser, url: str) -> dict:
    """Load one page; return what it shows (INSPECT_JS) and what it requested."""
    events = browser.goto(url)
    info = browser.evaluate(INSPECT_JS)
    sent = [e["params"] for e in events if e["method"] == "Network.requestWillBeSent"]
    urls = {p["requestId"]: p["request"]["url"] for p in sent}
    info["requests"] = [p["request"]["url"] for p in sent]
    info["failed"] = [
        (urls.get(e["params"]["requestId"], "?"), e["params"].get("errorText"))
        for e in events
        if e["method"] == "Network.loadingFailed" and not e["params"].get("canceled")
    ]
    info["http_errors"] = [
        (e["params"]["response"]["url"], e["params"]["response"]["status"])
        for e in events
        if e["method"] == "Network.responseReceived" and e["params"]["response"]["status"] >= 400
        and not e["params"]["response"]["url"].endswith("/favicon.ico")
    ]
    info["js_errors"] = [
        e["params"]["exceptionDetails"].get("exception", {}).get("description")
        or e["params"]["exceptionDetails"].get("text")
        for e in events
        if e["method"] == "Runtime.exceptionThrown"
    ]
    return info


def outside_requests(info: dict) -> list[str]:
    return [
        url for url in info["requests"]
        if urlsplit(url).scheme not in LOCAL_SCHEMES and urlsplit(url).hostname != "127.0.0.1"
    ]


@pytest.fixture(scope="module")
def visits(built_site, server, browser):
    """Load every page once; keep what each page showed and requested."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = {}
    for page in _site_pages(built_site.html):
        try:
            out[page] = visit(browser, f"{server}/{page}")
        except Exception as err:
            raise RuntimeError(f"loading {page} failed") from err
        for name, key_page in KEY_PAGES.items():
            if page == key_page:
                browser.screenshot(SCREENSHOTS / f"{name}.png")
    return out


def _report(problems: dict) -> str:
    return "\n".join(f"{page}: {items}" for page, items in problems.items())


# --- the checks -----------------------------------------------------------------------


BAD_PAGE = """<!doctype html><html><head><title>bad</title></head><body><main>
<p>Raw math: \\(x^2\\) and $$y$$.</p>
<div class="cell_output"><div class="output stderr"><pre>Traceback (most recent call last)</pre></div></div>
<img src="missing.png"> <img src="https://example.invalid/logo.png">
<a href="nowhere.html">a dead link</a>
</main></body></html>"""

# One fault per check of what a reader sees; each page must be caught by exactly its check.
LEAKS = {
    "pipes": ("rawMarkdown", "<p>| property | verdict | | --- | --- | | parallelism | all |</p>"),
    "separator": ("rawMarkdown", "<p>|---|</p>"),
    "smart separator": ("rawMarkdown", "<p>|—|</p>"),
    "bold": ("rawMarkdown", "<p>the **verdict** is</p>"),
    "dollar": ("leakedTex", "<p>a vector $v$ of the span</p>"),
    "boldsymbol": ("leakedTex", "<p>the embedding \\boldsymbol{f}(x)</p>"),
    "mathbf": ("leakedTex", "<p><em>\\mathbf g</em> of a token</p>"),
    "cut-off output": ("cutOff", '<div class="cell_output"><div class="output stream"><pre>'
                       + "verdict: " + "x" * 400 + "</pre></div></div>"),
    "scrolling table": ("cutOff", '<div style="overflow-x: auto"><table><tr><td>'
                        + "</td><td>".join(["a_long_benchmark_name"] * 12) + "</td></tr></table></div>"),
}
CLEAN = """<p>Rendered: <span class="math">\\(x\\)</span>, a | b, a cost of 5 $ and a <code>$HOME</code>;
<code>|---|</code> in code is fine.</p><div class="highlight"><pre>**kwargs, "$x$", "\\boldsymbol"</pre></div>"""


def _leak_page(body: str) -> str:
    mathjax = '<script src="/mathjax/tex-svg-full.js"></script>'
    css = '<link rel="stylesheet" href="/companion.css">'
    return f"<!doctype html><html><head><meta charset='utf-8'><title>leak</title>{css}{mathjax}</head><body><main>{body}</main></body></html>"


def test_the_checks_can_fail(browser, tmp_path):
    """The browser harness itself: a page with each fault is caught by each check."""
    (tmp_path / "bad.html").write_text(BAD_PAGE)
    with serve(tmp_path) as url:
        info = visit(browser, f"{url}/bad.html")
    assert info["rawTex"], "raw TeX not detected"
    assert info["errorOutputs"], "error output not detected"
    assert sum(not i["ok"] for i in info["images"]) == 2, info["images"]
    assert "https://example.invalid/logo.png" in outside_requests(info), info["requests"]
    assert any(status == 404 for _, status in info["http_errors"]), info["http_errors"]
    assert any(h.endswith("/nowhere.html") for h in info["links"])


@pytest.mark.parametrize("fault", sorted(LEAKS))
def test_the_reader_checks_can_fail(browser, tmp_path, fault):
    """A page leaking raw Markdown or TeX, or with a cut-off output line, is caught by its check
    (and only by it), with the book's own MathJax and CSS loaded; a clean page passes them all."""
    (tmp_path / "mathjax").mkdir()
    shutil.copy(ROOT / "book" / "_vendor" / "mathjax" / "tex-svg-full.js", tmp_path / "mathjax")
    # the cut-off page must be caught WITHOUT the book's CSS (with it, the line wraps: see below)
    if fault != "cut-off output":
        shutil.copy(ROOT / "book" / "_static" / "companion.css", tmp_path)
    key, body = LEAKS[fault]
    (tmp_path / "leak.html").write_text(_leak_page(body))
    (tmp_path / "clean.html").write_text(_leak_page(CLEAN))
    with serve(tmp_path) as url:
        leak = visit(browser, f"{url}/leak.html")
        clean = visit(browser, f"{url}/clean.html")
    assert leak[key], f"{fault} not detected by {key}: {leak}"
    checks = ("rawTex", "leakedTex", "rawMarkdown", "cutOff")
    assert [k for k in checks if leak[k]] == [key], leak
    assert not any(clean[k] for k in checks), clean
    assert clean["mjx"] == 1, "MathJax did not typeset the clean page"


def test_the_book_css_wraps_long_lines(browser, tmp_path):
    """The same over-long output line, with book/_static/companion.css, wraps and is not cut off."""
    shutil.copy(ROOT / "book" / "_static" / "companion.css", tmp_path / "companion.css")
    (tmp_path / "wide.html").write_text(_leak_page(LEAKS["cut-off output"][1]))
    with serve(tmp_path) as url:
        info = visit(browser, f"{url}/wide.html")
    assert info["pres"] == 1 and not info["cutOff"], info["cutOff"]


def test_every_page_of_the_book_is_visited(built_site, visits):
    for doc in built_site.toc_docs():
        assert f"{doc}.html" in visits
    assert "book/intro.html" in visits and "genindex.html" in visits


def test_redirects_resolve(built_site):
    index = built_site.html / "index.html"
    match = REFRESH.match(index.read_text().strip())
    assert match, "index.html should redirect to the intro"
    assert (built_site.html / match.group(1)).is_file()


def test_math_is_typeset(visits):
    problems = {}
    for page, info in visits.items():
        issues = info["untypeset"] + info["rawTex"]
        if info["mathElements"] and not info["mjx"]:
            issues.append(f"{info['mathElements']} math elements, no mjx-container")
        if issues:
            problems[page] = issues[:5]
    assert not problems, "raw TeX left (MathJax did not typeset):\n" + _report(problems)
    assert sum(info["mjx"] for info in visits.values()) > 50


def test_no_raw_markdown_or_tex_in_pages(visits):
    """No page shows Markdown or TeX source as text: table rows of pipes, **bold**, $...$, \\boldsymbol.

    Until helper "pages"' branch is merged, this FAILS on notebooks/12_summary.html: its summary table
    is emitted with display(Markdown(...)) and renders as one paragraph of raw pipes and TeX. That is
    the bug this check exists for (issue 12, point 2); do not xfail it.
    """
    problems = {}
    for page, info in visits.items():
        leaks = [f"markdown: {t}" for t in info["rawMarkdown"]] + [f"tex: {t}" for t in info["leakedTex"]]
        if leaks:
            problems[page] = leaks[:5]
    assert not problems, "raw Markdown or TeX in the visible text:\n" + _report(problems)


def test_no_code_line_is_cut_off(visits):
    """Every line of every code cell and output, and every table, is visible: no box is wider inside
    than outside (book/_static/companion.css wraps long lines; a horizontal scrollbar would hide the end)."""
    problems = {page: info["cutOff"][:3] for page, info in visits.items() if info["cutOff"]}
    assert not problems, "code or output lines cut off:\n" + _report(problems)
    assert sum(info["pres"] for info in visits.values()) > 50, "too few code blocks seen: the check saw nothing"


def test_no_error_output_in_cells(visits):
    problems = {page: info["errorOutputs"] for page, info in visits.items() if info["errorOutputs"]}
    assert not problems, "cells with stderr/error/traceback output:\n" + _report(problems)


def test_no_javascript_errors(visits):
    problems = {page: info["js_errors"] for page, info in visits.items() if info["js_errors"]}
    assert not problems, _report(problems)


def test_every_image_loads(visits):
    problems = {page: [i["src"] for i in info["images"] if not i["ok"]] for page, info in visits.items()}
    problems = {page: bad for page, bad in problems.items() if bad}
    assert not problems, "images that did not load:\n" + _report(problems)


@functools.lru_cache(maxsize=None)
def _ids(path: Path) -> frozenset[str]:
    soup = BeautifulSoup(path.read_text(encoding="utf-8", errors="replace"), "html.parser")
    return frozenset([t["id"] for t in soup.find_all(id=True)] + [t["name"] for t in soup.find_all("a", attrs={"name": True})])


def test_internal_links_resolve(built_site, visits, server):
    origin = urlsplit(server).netloc
    problems: dict[str, list[str]] = {}
    checked = 0
    for page, info in visits.items():
        for href in set(info["links"]):
            parts = urlsplit(href)
            if parts.scheme not in ("http", "https") or parts.netloc != origin:
                continue
            checked += 1
            target = built_site.html / unquote(parts.path).lstrip("/")
            if parts.path.endswith("/"):
                target = target / "index.html"
            if not target.is_file():
                problems.setdefault(page, []).append(f"{href} (no file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _ids(target):
                problems.setdefault(page, []).append(f"{href} (no anchor)")
    assert checked > 100
    assert not problems, "broken internal links:\n" + _report(problems)


def test_no_request_leaves_the_machine(visits):
    problems = {}
    for page, info in visits.items():
        outside = outside_requests(info)
        local_failures = info["failed"] + info["http_errors"]
        if outside or local_failures:
            problems[page] = outside + local_failures
    assert not problems, "requests that left 127.0.0.1 or failed:\n" + _report(problems)
    assert all(info["requests"] for info in visits.values())


def test_key_page_screenshots_are_kept(built_site, visits):
    for name, page in KEY_PAGES.items():
        if (built_site.html / page).exists():
            shot = SCREENSHOTS / f"{name}.png"
            assert shot.exists() and shot.stat().st_size > 10_000, shot
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
