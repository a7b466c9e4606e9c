"""Check the built site: every internal link resolves, nothing is loaded from the network, and
the pages render in a real browser with their images and typeset equations.

    python docs/check_site.py docs/_build/html

1. Offline, over every HTML file: each relative ``href`` and ``src`` names a file of the site,
   each ``#anchor`` an ``id`` on its page; no script, style sheet, image or font is loaded from
   another host (the site must work with no network).
2. In headless Chromium (Debian's ``chromium`` and ``chromium-driver`` packages, driven with
   Selenium), the site served on a local port: the index, a notebook page, the paper map and
   the results
   load without a console error; each shows at least the images it must (Figure 2 on the
   index, the notebook's own figures, Figures 2 to 5 on the results page) and every image on
   them has loaded; MathJax has typeset the notebook page's and the paper map's equations.

Exit status 0 when all hold, 1 with one line per failure otherwise, 2 when the site or Chromium
is missing. Every wait has a deadline.
"""
import argparse
import functools
import html.parser
import http.server
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

PAGES = {  # page: (the fewest images it must show, must it hold typeset equations?)
    "index.html": (1, False),                                  # Figure 2
    "generated/notebooks/04_training_mnist.html": (1, True),   # the notebook's own figures
    "paper.html": (0, True),
    "results.html": (4, False),                                # Figures 2 to 5
}
DEADLINE = 90  # seconds for one page to load and typeset


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids, self.loads = [], set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append((tag, attrs[key]))
                if tag in ("script", "img", "link", "iframe", "source", "video", "audio"):
                    self.loads.append((tag, attrs[key]))


def check_links(root):
    """Failures of step 1, as sentences."""
    parsed = {}
    for page in sorted(root.rglob("*.html")):
        p = _Links()
        p.feed(page.read_text(encoding="utf-8", errors="replace"))
        parsed[page] = p
    failures = []
    for page, p in parsed.items():
        rel = page.relative_to(root)
        for tag, url in p.loads:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") or url.startswith("//"):
                failures.append(f"{rel}: <{tag}> loads {url} from the network")
        for tag, url in p.links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):
                continue  # external links are allowed to exist; they are not followed
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                failures.append(f"{rel}: <{tag}> links to {url}, which is not in the site")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else set()
                if unquote(parts.fragment) not in ids:
                    failures.append(f"{rel}: <{tag}> links to {url}, whose anchor is not "
                                    f"on that page")
    return failures, len(parsed)


def _serve(root):
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,2000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(DEADLINE)
    driver.set_script_timeout(DEADLINE)
    return driver


TYPESET = """
const done = arguments[arguments.length - 1];
const images = () => Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0]);
const report = () => done({images: images(),
                           math: document.querySelectorAll('mjx-container').length,
                           pending: document.querySelectorAll('.math').length,
                           mathjax: !!window.MathJax});
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(report, e => done({error: String(e)}));
} else { report(); }
"""


def check_browser(root, shots=None):
    """Failures of step 2, as sentences."""
    server = _serve(root)
    failures = []
    driver = _browser()
    try:
        for page, (min_images, needs_math) in PAGES.items():
            if not (root / page).is_file():
                failures.append(f"{page}: not in the site")
                continue
            driver.get(f"http://127.0.0.1:{server.server_port}/{page}")
            state = driver.execute_async_script(TYPESET)
            if "error" in state:
                failures.append(f"{page}: MathJax failed: {state['error']}")
                continue
            if len(state["images"]) < min_images:
                failures.append(f"{page}: {len(state['images'])} image(s), expected at least "
                                f"{min_images} (a notebook executed without its figures?)")
            broken = [src for src, ok in state["images"] if not ok]
            if broken:
                failures.append(f"{page}: {len(broken)} image(s) did not load: {broken[:3]}")
            if needs_math and not state["math"]:
                failures.append(f"{page}: no typeset equation (MathJax loaded: "
                                f"{state['mathjax']}, math elements: {state['pending']})")
            # the browser asks every host for /favicon.ico by itself: not the site's request
            errors = [e["message"] for e in driver.get_log("browser")
                      if e["level"] == "SEVERE" and "/favicon.ico" not in e["message"]]
            if errors:
                failures.append(f"{page}: console errors: {errors[:3]}")
            if shots:
                shots.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(shots / (page.replace("/", "_") + ".png")))
            print(f"  {page}: {len(state['images'])} images, {state['math']} typeset equations")
    finally:
        driver.quit()
        server.shutdown()
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built site (docs/_build/html)")
    parser.add_argument("--screenshots", type=Path, help="save a PNG of each page here")
    parser.add_argument("--links-only", action="store_true", help="skip the browser")
    args = parser.parse_args(argv)
    root = args.site.resolve()
    if not (root / "index.html").is_file():
        print(f"error: {args.site} holds no built site (no index.html): build it with the "
              f"README's docs command first", file=sys.stderr)
        return 2
    failures, n = check_links(root)
    print(f"links: {n} pages checked, {len(failures)} failure(s)")
    if not args.links_only:
        missing = [name for name in ("chromium", "chromedriver") if not shutil.which(name)]
        if missing:
            print(f"error: {' and '.join(missing)} not found: install Debian's packages with "
                  f"'apt-get install chromium chromium-driver' (or pass --links-only)",
                  file=sys.stderr)
            return 2
        failures += check_browser(root, args.screenshots)
    for f in failures:
        print(f"FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
