"""Open ``report.html`` (or an email body) in headless Chromium: screenshot, errors, checks.

Used by the browser tests of the report and of the email, and to make ``docs/report.png``::

    python -m tests.browser reports/latest/report.html docs/report.png --width 800

The email checks of mail-client conditions: images blocked (the profile's content
setting, as a client that does not load images), forced dark mode (the whole page
inverted, :data:`FORCED_DARK_FILTER`, as Gmail for iOS and Outlook for Windows do), and
the WCAG contrast of every text block (:func:`text_blocks`, :func:`contrast_ratio`).

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
from typing import Any

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
    user_data_dir: str | Path,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    *,
    block_images: bool = False,
) -> Options:
    """Headless, quiet, offline-minded Chromium options with browser console logging.

    Parameters
    ----------
    user_data_dir : str or Path
        An empty directory used as the profile (nothing from a real profile leaks in).
    width, height : int
        Window size in CSS pixels; 800 wide shows the report at email width.
    block_images : bool
        Load no image at all (the profile's image content setting: "block"), as a mail
        client that does not load images: each ``<img>`` shows its alt text.

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
    if block_images:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.images": 2}
        )
    return options


@contextmanager
def browser(
    width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT, *, block_images: bool = False
) -> Iterator[webdriver.Chrome]:
    """Start headless Chromium with a throwaway profile; always quit and clean up.

    Parameters
    ----------
    width, height : int
        Initial window size in CSS pixels.
    block_images : bool
        Load no image (see :func:`chrome_options`).

    Yields
    ------
    selenium.webdriver.Chrome
    """
    service = Service(executable_path=chromedriver_binary())
    profile = tempfile.mkdtemp(prefix="churnlab-chromium-")
    driver = None
    try:
        options = chrome_options(profile, width, height, block_images=block_images)
        driver = webdriver.Chrome(service=service, options=options)
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


# ----------------------------------------------------------------------------- email checks

#: Forced dark mode as mail clients do it to a light email: every colour inverted, hues
#: kept (Gmail for iOS; Outlook for Windows inverts light backgrounds and dark text alike).
FORCED_DARK_FILTER = "invert(1) hue-rotate(180deg)"
# hue-rotate(180deg): the feColorMatrix "hueRotate" matrix of Filter Effects 1 with
# cos = -1, sin = 0 (rows give R, G, B of the output from R, G, B of the input)
_HUE_ROTATE_180 = (
    (0.213 - 0.787, 0.715 + 0.715, 0.072 + 0.072),
    (0.213 + 0.213, 0.715 - 0.285, 0.072 + 0.072),
    (0.213 + 0.213, 0.715 + 0.715, 0.072 - 0.928),
)

RGB = tuple[float, float, float]


def forced_dark(rgb: Sequence[float]) -> RGB:
    """The colour ``rgb`` (0-255 sRGB) becomes under :data:`FORCED_DARK_FILTER`.

    ``invert(1)`` maps each channel ``c`` to ``255 - c``; ``hue-rotate(180deg)`` then
    multiplies by the spec's matrix and clamps to [0, 255], in sRGB as Chromium applies
    CSS filter functions (the email browser test checks this against rendered pixels).
    """
    inverted = [1.0 - float(c) / 255.0 for c in rgb[:3]]
    rotated = [sum(m * c for m, c in zip(row, inverted, strict=True)) for row in _HUE_ROTATE_180]
    r, g, b = (255.0 * min(1.0, max(0.0, c)) for c in rotated)
    return r, g, b


def relative_luminance(rgb: Sequence[float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour (channels 0-255)."""

    def linear(c: float) -> float:
        c = float(c) / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: Sequence[float], background: Sequence[float]) -> float:
    """WCAG 2 contrast ratio of two colours, from 1 (same) to 21 (black on white)."""
    lighter, darker = sorted(
        (relative_luminance(foreground), relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


# Every block of text of the page (an element with its own text, or an image's alt
# text): its colour, the first opaque background found walking up from it, and whether
# that background and an inline text colour are set within the element's own table cell.
_TEXT_BLOCKS_JS = """
const parse = (c) => {
  const m = /rgba?\\(([^)]+)\\)/.exec(c || '');
  if (!m) return null;
  const p = m[1].split(',').map(Number);
  return {rgb: p.slice(0, 3), alpha: p.length > 3 ? p[3] : 1};
};
const blocks = [];
for (const el of [document.body, ...document.body.querySelectorAll('*')]) {
  const img = el.tagName === 'IMG';
  const text = img ? (el.getAttribute('alt') || '')
    : Array.from(el.childNodes).filter((n) => n.nodeType === 3)
        .map((n) => n.textContent).join(' ').trim();
  if (!text) continue;
  const style = getComputedStyle(el);
  if (style.display === 'none' || style.visibility === 'hidden') continue;
  const cell = el.closest('td');
  let node = el, background = null, owner = null;
  for (; node && node.nodeType === 1; node = node.parentElement) {
    const bg = parse(getComputedStyle(node).backgroundColor);
    if (bg && bg.alpha > 0) { background = bg; owner = node; break; }
  }
  let inline = false;
  for (node = el; node && node.nodeType === 1; node = node.parentElement) {
    if (node.style && node.style.color) { inline = true; break; }
    if (node === cell) break;
  }
  blocks.push({
    text: text.replace(/\\s+/g, ' ').slice(0, 80), tag: el.tagName.toLowerCase(),
    color: parse(style.color), background: background,
    background_in_cell: !!(owner && cell && cell.contains(owner)),
    color_in_cell: inline, font_size: parseFloat(style.fontSize),
  });
}
return blocks;
"""


def text_blocks(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """Every text block of the loaded page with its colour and background (see the JS).

    Each item: ``text`` (first 80 characters), ``tag``, ``color`` and ``background``
    (``{"rgb": [r, g, b], "alpha": a}``; ``background`` None when no ancestor has one),
    ``background_in_cell`` / ``color_in_cell`` (set within its own ``<td>``), ``font_size``.
    """
    return list(driver.execute_script(_TEXT_BLOCKS_JS))


# Each image's box and the height its alt text needs in that box: Chromium draws a
# blocked image's alt text after a 16 px icon, wrapped to the box, in the image's font.
_ALT_BOXES_JS = """
return Array.from(document.images).map((img) => {
  const box = img.getBoundingClientRect();
  const style = getComputedStyle(img);
  const probe = document.createElement('div');
  probe.style.cssText = 'position:absolute;left:0;top:0;visibility:hidden;padding:0;' +
    'width:' + box.width + 'px;font:' + style.font + ';line-height:' + style.lineHeight + ';';
  const icon = document.createElement('span');
  icon.style.cssText = 'float:left;width:16px;height:16px;';
  probe.appendChild(icon);
  probe.appendChild(document.createTextNode(img.getAttribute('alt') || ''));
  document.body.appendChild(probe);
  const needed = probe.getBoundingClientRect().height;
  probe.remove();
  return {
    alt: img.getAttribute('alt') || '', left: box.left + window.scrollX,
    top: box.top + window.scrollY, width: box.width, height: box.height,
    needed: needed, loaded: img.complete && img.naturalWidth > 0,
  };
});
"""


def alt_boxes(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """Every image of the loaded page: its box (page coordinates), alt text, whether it
    loaded, and ``needed``: the height its alt text takes when drawn in that box."""
    return list(driver.execute_script(_ALT_BOXES_JS))


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
