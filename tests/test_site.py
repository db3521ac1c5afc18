"""tools/build_site.py: the course website, built once, checked as files and in headless Chromium.

The browser part serves the site on 127.0.0.1 (a thread running http.server), loads the home page and
week 13's notebook page in Debian's chromium through its chromedriver (selenium, given the driver's path,
downloads nothing), and checks that no image is broken and that every same-site link resolves; it also
opens week 13's slide deck from the site and checks that reveal.js starts. It saves screenshots under
build/screenshots/ for review. `make test` installs Chromium first (`make browser`).
"""

import functools
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_site  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "build" / "screenshots"
NOTEBOOK_PAGE = "week13_course_summary.html"
DECK_PAGE = "slides/week13_course_summary.slides.html"
REVEAL_READY = "return Boolean(window.Reveal && Reveal.isReady && Reveal.isReady())"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
]
ASSET_TAGS = "script|link|img|iframe|source|video|audio"
REMOTE_ASSET = re.compile(rf"<(?:{ASSET_TAGS})\b[^>]*\s(?:src|href)=[\"'](?:https?:)?//", re.I)
REMOTE_CSS = re.compile(r"url\(\s*[\"']?(?:https?:)?//|@import\s+[\"'](?:https?:)?//", re.I)
BROKEN_IMAGES = "return Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0).map(i => i.src)"
LOADING_IMAGES = "return Array.from(document.images).filter(i => !i.complete).length"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs_jupyter", reason="make dev-setup installs mkdocs and mkdocs-jupyter")
    out = tmp_path_factory.mktemp("site")
    return build_site.build(out / "site")


@pytest.fixture(scope="module")
def server(site):
    """The site over HTTP on a free local port; yields its base address."""
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Debian's chromedriver, or a skip that says what is missing."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is not installed (run `make browser`: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="make dev-setup installs selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_pages(site):
    pages = {page.name for page in site.glob("*.html")}
    notebooks = {f"{path.stem}.html" for path in (ROOT / "notebooks").glob("week*.ipynb")}
    assert {"index.html", "glossary.html", "results.html", "colab.html", "slides.html"} | notebooks <= pages
    decks = {deck.name for deck in (site / "slides").glob("*.slides.html")}
    assert decks == {name.replace(".html", ".slides.html") for name in notebooks}, "one deck per notebook"
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Syllabus" in home and all(name in home for name in notebooks), "the syllabus links every notebook"
    notebook = (site / NOTEBOOK_PAGE).read_text(encoding="utf-8")
    assert "jp-OutputArea" in notebook and "data:image/png;base64," in notebook, "committed outputs and figures shown"
    assert 'src="assets/colab-badge.svg"' in notebook, "the Colab badge, as a local image"
    assert "first_cnn_test_accuracy" in (site / "results.html").read_text(encoding="utf-8")


def test_no_remote_asset(site):
    """No page or deck loads a script, stylesheet, font or image from another host (links to papers are fine)."""
    remote = []
    for page in [*site.glob("*.html"), *(site / "slides").glob("*.html")]:
        html = page.read_text(encoding="utf-8")
        remote += [f"{page.name}: {m.group(0)[:80]}" for m in REMOTE_ASSET.finditer(html)]
        remote += [f"{page.name}: {m.group(0)}" for m in REMOTE_CSS.finditer(html)]
        remote += [f"{page.name}: imports from cdnjs (nbconvert's mermaid loader)" for _ in re.finditer("cdnjs", html)]
    assert remote == []


def wait_for_images(driver, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while driver.execute_script(LOADING_IMAGES) and time.monotonic() < deadline:
        time.sleep(0.1)


def same_site_links(driver, base: str) -> set[str]:
    hrefs = driver.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    return {href for href in hrefs if href.startswith(base)}


def broken_links(links: set[str]) -> list[str]:
    """Links whose file does not answer 200, or whose #fragment is no id on that page."""
    broken, pages = [], {}
    for link in sorted(links):
        address, fragment = urldefrag(link)
        if address not in pages:
            try:
                with urllib.request.urlopen(address, timeout=10) as response:
                    pages[address] = response.read().decode("utf-8", "replace")
            except urllib.error.URLError as error:
                pages[address] = None
                broken.append(f"{urlsplit(address).path}: {error}")
        html = pages[address]
        if html is not None and fragment and not re.search(rf"\b(?:id|name)=[\"']{re.escape(fragment)}[\"']", html):
            broken.append(f"{urlsplit(address).path}#{fragment}: no such anchor")
    return broken


@pytest.mark.parametrize("page", ["index.html", NOTEBOOK_PAGE, "slides.html"])
def test_page_in_browser(browser, server, page):
    browser.get(server + page)
    wait_for_images(browser)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"site_{Path(page).stem}.png"))
    assert browser.title, "the page has loaded"
    assert browser.execute_script(BROKEN_IMAGES) == []
    links = same_site_links(browser, server)
    assert len(links) > 5, "the navigation links the other pages"
    assert broken_links(links) == []
    if page == NOTEBOOK_PAGE:
        assert browser.execute_script("return Boolean(window.MathJax && window.MathJax.Hub)"), "local MathJax loaded"


def test_deck_from_site_in_browser(browser, server):
    """A deck linked from the slides page starts reveal.js from the site's own files and shows its figures."""
    browser.get(server + DECK_PAGE)
    deadline = time.monotonic() + 10
    while not browser.execute_script(REVEAL_READY) and time.monotonic() < deadline:
        time.sleep(0.1)
    wait_for_images(browser)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"site_{Path(DECK_PAGE).stem}.png"))
    assert browser.execute_script(REVEAL_READY), "reveal.js started"
    assert browser.execute_script("return Reveal.getTotalSlides()") > 5, "the deck has its section slides"
    assert browser.execute_script(BROKEN_IMAGES) == []
