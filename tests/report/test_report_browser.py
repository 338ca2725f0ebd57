"""The executive report in a real browser: headless Chromium at email width (800 px).

One browser session serves the whole module. Chromium and ChromeDriver are installed by
``make test`` (``make browser``); when they are missing the tests fail with that hint
rather than skip. The ``sanity`` tests feed throwaway pages that break each rule, so
every check used on the report is shown to be able to fail.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from churnlab.run import CHARTS
from tests.browser import (
    PageCheck,
    browser,
    check_page,
    chrome_options,
    main,
    open_report,
)

pytestmark = [pytest.mark.slow]

WIDTH = 800


def _pixel_stats(png: bytes) -> tuple[float, int, float]:
    """``(std of grey levels, distinct RGB colours, fraction of non-white pixels)``."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int64)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    non_white = (rgb < 245).any(axis=-1).mean()
    return float(rgb.mean(axis=-1).std()), int(np.unique(packed).size), float(non_white)


def _layout_problems(page: PageCheck) -> list[str]:
    """Everything the report must not do, in words (empty when the page is fine)."""
    f = page.facts
    problems = [f"console error: {m}" for m in page.console_errors]
    if f["scroll_width"] > f["inner_width"] + 1:
        problems.append(f"horizontal overflow: {f['scroll_width']} > {f['inner_width']} px")
    problems += [f"image not loaded: {src}" for src in f["broken_images"]]
    problems += [f"external reference: {src}" for src in f["external_sources"]]
    problems += [f"external stylesheet: {href}" for href in f["stylesheet_hrefs"]]
    problems += [f"network request: {url}" for url in f["resources_fetched"]]
    return problems


@pytest.fixture(scope="module")
def driver():
    # A missing chromium/chromedriver raises RuntimeError("... run `make browser` ...").
    with browser(WIDTH) as session:
        yield session


@pytest.fixture(scope="module")
def report_page(driver, pipeline_run) -> PageCheck:
    """The report of the real pipeline run on the shared sample."""
    return check_page(driver, pipeline_run.report)


def _page(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "page.html"
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"
    )
    return path


def test_report_loads_without_errors_overflow_or_network(report_page):
    assert _layout_problems(report_page) == []
    assert report_page.facts["inner_width"] == WIDTH
    assert report_page.facts["scripts"] == 0
    # 4 sparklines (the rate and ARR tiles have 12 months of history) + every section chart
    assert report_page.facts["images"] == 4 + len(CHARTS)


def test_report_screenshot_is_full_page_and_not_blank(report_page):
    image = Image.open(io.BytesIO(report_page.png))
    assert image.width == WIDTH
    assert image.height == min(report_page.page_height, 6000)
    assert report_page.page_height > 1500  # tiles, tables and five charts
    std, colours, non_white = _pixel_stats(report_page.png)
    assert std > 10, std
    assert colours > 500, colours
    assert 0.05 < non_white < 0.9, non_white


def test_sanity_blank_page_fails_the_blank_check(driver, tmp_path):
    std, colours, non_white = _pixel_stats(check_page(driver, _page(tmp_path, "")).png)
    assert std < 1 and colours <= 2 and non_white < 0.001


def test_sanity_console_error_and_overflow_are_caught(driver, tmp_path):
    body = "<script>console.error('boom from test')</script><div style='width:1500px'>x</div>"
    problems = _layout_problems(check_page(driver, _page(tmp_path, body)))
    assert any("console error" in p and "boom from test" in p for p in problems), problems
    assert any(p.startswith("horizontal overflow: 15") for p in problems), problems


def test_sanity_broken_inline_image_is_caught(driver, tmp_path):
    page = check_page(driver, _page(tmp_path, "<img src='data:image/png;base64,AAAAnotapng'>"))
    assert _layout_problems(page) == ["image not loaded: data:image/png;base64,AAAAnotapng"]


def test_sanity_external_image_is_caught(driver, tmp_path):
    # Port 9 (discard) on loopback: refused at once, nothing leaves the machine.
    page = check_page(driver, _page(tmp_path, "<img src='http://127.0.0.1:9/logo.png'>"))
    problems = _layout_problems(page)
    assert "external reference: http://127.0.0.1:9/logo.png" in problems
    assert "image not loaded: http://127.0.0.1:9/logo.png" in problems
    assert any(p.startswith("console error") for p in problems), problems


def test_chrome_options_are_headless_isolated_and_email_width(tmp_path):
    options = chrome_options(tmp_path, width=WIDTH)
    args = set(options.arguments)
    assert {"--headless=new", "--no-sandbox", "--disable-quic", "--no-first-run"} <= args
    assert f"--user-data-dir={tmp_path}" in args
    assert f"--window-size={WIDTH},1200" in args
    assert options.to_capabilities()["goog:loggingPrefs"] == {"browser": "ALL"}
    assert Path(options.binary_location).name == "chromium"


def test_missing_binaries_name_the_fix(monkeypatch, tmp_path):
    import tests.browser as shot

    monkeypatch.setattr(shot.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"chromedriver.*make browser"):
        open_report(_page(tmp_path, "x"))
    monkeypatch.setattr(shot, "CHROMIUM_CANDIDATES", ())
    with pytest.raises(RuntimeError, match=r"chromium not found.*make browser"):
        chrome_options(tmp_path)


def test_command_line_writes_png_and_reports_errors(tmp_path, capsys):
    good = tmp_path / "good.html"
    good.write_text("<!doctype html><html><body><h1 style='color:#c00'>Report</h1></body></html>")
    out = tmp_path / "docs" / "report.png"
    assert main([str(good), str(out), "--width", "640"]) == 0
    assert Image.open(out).width == 640
    assert "wrote" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.html"), str(out)]) == 1
    assert "report not found" in capsys.readouterr().err


HOSTILE = ['=HYPERLINK("http://evil.example","click")', "-Minus Co", "+Plus GmbH", "L" * 10_000]


@pytest.fixture(scope="module")
def hostile_run(pipeline_run, pipeline_cfg, tmp_path_factory):
    """The real run whose four riskiest renewals have names a spreadsheet or a page fears.

    Stage 03 writes its tables with csvsafe.write_csv; the report and the email read them
    back: the names go the producer's way, then the real report and email are made.
    """
    from churnlab import csvsafe
    from churnlab.report import render_report
    from tests.helpers import copy_run

    run = copy_run(pipeline_run, tmp_path_factory.mktemp("hostile") / "reports")
    renewals = csvsafe.read_csv(run.renewal_map, dtype={"account_id": str})
    names = dict(zip(renewals["account_id"].head(len(HOSTILE)), HOSTILE, strict=True))
    for path in (run.scores, run.renewal_map, run.renewal_map_top):
        table = csvsafe.read_csv(path, dtype={"account_id": str})
        table["name"] = table["account_id"].map(names).fillna(table["name"])
        csvsafe.write_csv(table, path)
    render_report(run, pipeline_cfg)
    return run


def test_names_show_as_written_and_a_long_name_does_not_widen_the_page(driver, hostile_run):
    # #22 items 3 and 4: the report showed the spreadsheet escape ('-Minus Co) and a
    # 10,000-character name pushed ARR, risk and health off the page
    from churnlab.delivery import DeliverySettings, build_message
    from churnlab.report import Headline

    on_disk = hostile_run.renewal_map.read_text(encoding="utf-8")
    assert "'-Minus Co" in on_disk and "'+Plus GmbH" in on_disk  # the CSV stays safe
    shown = [r.name for r in Headline.read(hostile_run.headline).top_renewals[:4]]
    assert shown == HOSTILE
    html = hostile_run.report.read_text(encoding="utf-8")
    assert "-Minus Co" in html and "+Plus GmbH" in html and "=HYPERLINK(" in html
    assert "'-Minus Co" not in html and "'+Plus" not in html and "'=HYPERLINK" not in html
    assert f'title="{HOSTILE[3]}"' in html and "L" * 79 + "…" in html
    assert _layout_problems(check_page(driver, hostile_run.report)) == []

    settings = DeliverySettings.from_params(recipients=["vp-cs@example.com"])
    message = build_message(hostile_run.path, settings, preview=True)
    body = message.get_body(preferencelist=("html",)).get_content()
    assert "-Minus Co" in body and "'-Minus Co" not in body and "'+Plus" not in body
    assert "L" * 10_000 not in body and "L" * 79 + "…" in body
