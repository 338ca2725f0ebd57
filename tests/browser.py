"""Open ``report.html`` in headless Chromium: full-page screenshot and console errors.

Used by the browser test of the report and to make ``docs/report.png``::

    python -m tests.browser reports/latest/report.html docs/report.png --width 800

The browser is Debian's ``chromium`` driven through ``chromedriver`` (``make browser``
installs both). Each session gets a fresh, empty profile in a temporary directory
that is removed afterwards, and the driver is always quit.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

DEFAULT_WIDTH = 800  # email width: the report must read well at this size
DEFAULT_HEIGHT = 1200
MAX_HEIGHT = 6000  # cap of the full-page screenshot, in CSS pixels
CHROMIUM_CANDIDATES = ("/usr/bin/chromium",)

_FIX = "run `make browser` (installs Debian's chromium and chromium-driver)"


def chromium_binary() -> str:
    """Return the path of the Chromium executable.

    Raises
    ------
    RuntimeError
        When neither ``/usr/bin/chromium`` nor ``chromium`` on ``PATH`` exists.
    """
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium")
    if found is None:
        raise RuntimeError(f"chromium not found (looked at /usr/bin/chromium and PATH); {_FIX}")
    return found


def chromedriver_binary() -> str:
    """Return the path of ``chromedriver`` on ``PATH``.

    Raises
    ------
    RuntimeError
        When ``chromedriver`` is not on ``PATH``.
    """
    found = shutil.which("chromedriver")
    if found is None:
        raise RuntimeError(f"chromedriver not found on PATH; {_FIX}")
    return found


def chrome_options(
    user_data_dir: str | Path, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT
) -> Options:
    """Headless, quiet, offline-minded Chromium options with browser console logging.

    Parameters
    ----------
    user_data_dir : str or Path
        An empty directory used as the profile (nothing from a real profile leaks in).
    width, height : int
        Window size in CSS pixels; 800 wide shows the report at email width.

    Returns
    -------
    selenium.webdriver.chrome.options.Options
    """
    options = Options()
    options.binary_location = chromium_binary()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--hide-scrollbars",
        f"--user-data-dir={user_data_dir}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@contextmanager
def browser(width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT) -> Iterator[webdriver.Chrome]:
    """Start headless Chromium with a throwaway profile; always quit and clean up.

    Parameters
    ----------
    width, height : int
        Initial window size in CSS pixels.

    Yields
    ------
    selenium.webdriver.Chrome
    """
    service = Service(executable_path=chromedriver_binary())
    profile = tempfile.mkdtemp(prefix="churnlab-chromium-")
    driver = None
    try:
        driver = webdriver.Chrome(service=service, options=chrome_options(profile, width, height))
        driver.set_window_size(width, height)
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """Drain the browser console log and return the SEVERE messages.

    Reading the log empties it, so call it once before loading a page to start clean.
    """
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def full_page_screenshot(
    driver: webdriver.Chrome, max_height: int = MAX_HEIGHT
) -> tuple[bytes, int]:
    """Resize the window to the page height (capped) and return ``(png, page_height)``.

    ``page_height`` is ``document.body.scrollHeight`` before the cap.
    """
    width = driver.execute_script("return window.innerWidth")
    page_height = int(
        driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
        )
    )
    outer = driver.get_window_size()
    chrome_height = outer["height"] - driver.execute_script("return window.innerHeight")
    chrome_width = outer["width"] - width
    driver.set_window_size(width + chrome_width, min(page_height, max_height) + chrome_height)
    return driver.get_screenshot_as_png(), page_height


@dataclass(frozen=True)
class PageCheck:
    """What a loaded page looked like: screenshot, console errors and layout facts."""

    png: bytes
    console_errors: list[str]
    page_height: int
    facts: dict[str, object] = field(default_factory=dict)


# Layout and loading facts gathered in the page (the report itself has no JavaScript).
_FACTS_JS = """
const imgs = Array.from(document.images);
const external = (u) => !!u && !u.startsWith('data:');
const resources = performance.getEntriesByType('resource').map((e) => e.name);
return {
  inner_width: window.innerWidth,
  scroll_width: document.documentElement.scrollWidth,
  images: imgs.length,
  broken_images: imgs.filter((i) => !(i.complete && i.naturalWidth > 0))
                     .map((i) => (i.getAttribute('src') || '').slice(0, 60)),
  external_sources: Array.from(document.querySelectorAll('[src],link[href]'))
      .map((el) => el.getAttribute('src') || el.getAttribute('href'))
      .filter(external),
  stylesheet_hrefs: Array.from(document.styleSheets).map((s) => s.href).filter((h) => h),
  resources_fetched: resources.filter(external),
  scripts: document.scripts.length,
};
"""


def check_page(
    driver: webdriver.Chrome, path: str | Path, max_height: int = MAX_HEIGHT
) -> PageCheck:
    """Load a local HTML file in an open browser and collect screenshot, errors and facts.

    Parameters
    ----------
    driver : selenium.webdriver.Chrome
        A session from :func:`browser`.
    path : str or Path
        The HTML file to open.
    max_height : int
        Cap of the screenshot height in CSS pixels.

    Returns
    -------
    PageCheck
    """
    url = Path(path).resolve().as_uri()
    driver.get_log("browser")  # drop messages left over from an earlier page
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, DEFAULT_HEIGHT)
    driver.get(url)
    facts = driver.execute_script(_FACTS_JS)
    png, page_height = full_page_screenshot(driver, max_height)
    return PageCheck(png, console_errors(driver), page_height, facts)


def open_report(path: str | Path, width: int = DEFAULT_WIDTH) -> tuple[bytes, list[str], int]:
    """Open one HTML report in a fresh headless Chromium.

    Parameters
    ----------
    path : str or Path
        The ``report.html`` to open.
    width : int
        Viewport width in CSS pixels.

    Returns
    -------
    tuple of (bytes, list of str, int)
        Full-page PNG screenshot, SEVERE console messages, ``document.body.scrollHeight``.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"report not found: {path}")
    with browser(width) as driver:
        result = check_page(driver, path)
    return result.png, result.console_errors, result.page_height


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.browser REPORT.html OUT.png [--width 800]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.browser",
        description="Write a full-page PNG screenshot of an HTML report (headless Chromium).",
    )
    parser.add_argument("report", type=Path, help="the report.html to open")
    parser.add_argument("out", type=Path, help="the PNG file to write")
    parser.add_argument("--width", type=int, default=DEFAULT_WIDTH, help="viewport width in px")
    args = parser.parse_args(argv)
    try:
        png, errors, height = open_report(args.report, args.width)
    except (RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(png)
    print(f"wrote {args.out} ({args.width} px wide, page height {height} px)")
    for message in errors:
        print(f"console error: {message}", file=sys.stderr)
    return 2 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
