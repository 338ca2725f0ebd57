"""The report email as its readers get it: the bytes a mail client parses, in English and
Japanese, and the HTML body in headless Chromium at phone (375 px) and email (600 px)
width, with images blocked and in forced dark mode.

Built from the real run of the shared sample (``pipeline_run``): the English email reads
the headline the report stage wrote; the Japanese one reads a headline built by the real
:func:`~churnlab.report.build_headline` from the same run's ``kpis.csv`` and
``renewal_map.csv`` with ``report.language=ja`` (what a Japanese run's report stage
writes), so no second pipeline run is needed. The ``sanity`` tests feed pages that break
each browser rule, so every check is shown to be able to fail.
"""

from __future__ import annotations

import base64
import dataclasses
import email
import io
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from PIL import Image
from selenium.webdriver.common.by import By

from churnlab.config import load_params
from churnlab.delivery import DeliverySettings, send_run
from churnlab.delivery._body import email_context
from churnlab.delivery._message import MAX_HTML_BYTES
from churnlab.report import Headline
from churnlab.report.headline import build_headline
from churnlab.report.templating import environment
from churnlab.run import RunFolder
from churnlab.vocabulary import Vocabulary, vocabulary
from tests.browser import (
    FORCED_DARK_FILTER,
    alt_boxes,
    browser,
    contrast_ratio,
    forced_dark,
    text_blocks,
)
from tests.helpers import copy_run

LANGUAGES = ("en", "ja")
WIDTHS = (375, 600)
#: WCAG 2 AA for body text; every text block must keep it, light and forced dark.
MIN_CONTRAST = 4.5
VIEWPORT_HEIGHT = 1000
#: A money amount as the one format writes it, per language (``$1.61M``, ``161万円``).
MONEY = {
    "en": re.compile(r"-?\$\d[\d,]*(?:\.\d+)?[KMB]?"),
    "ja": re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:億|万)?円"),
}
_UNITS = {"K": 1e3, "M": 1e6, "B": 1e9, "万": 1e4, "億": 1e8}


@dataclasses.dataclass(frozen=True)
class Mail:
    """One built email: the run it came from, its raw bytes, and the parsed message."""

    language: str
    run: RunFolder
    raw: bytes
    msg: EmailMessage

    @property
    def headline(self) -> Headline:
        return Headline.read(self.run.headline)

    @property
    def words(self) -> Vocabulary:
        return vocabulary(self.headline.language, self.headline.currency)

    @property
    def html(self) -> str:
        return self.msg.get_body(preferencelist=("html",)).get_content()

    @property
    def text(self) -> str:
        return self.msg.get_body(preferencelist=("plain",)).get_content()


def _japanese(run: RunFolder) -> None:
    """Rewrite the run's headline as a ``report.language=ja`` report stage writes it."""
    english = Headline.read(run.headline)
    cfg = load_params(run.params, overrides=["report.language=ja", "report.currency=JPY"])

    def table(path: Path) -> pd.DataFrame | None:
        return pd.read_csv(path, dtype={"account_id": str, "name": str}) if path.exists() else None

    headline = build_headline(  # as the report stage calls it (report/render.py)
        pd.read_csv(run.kpis),
        table(run.renewal_map),
        cfg,
        as_of=english.as_of,
        run_id=english.run_id,
        horizon_days=english.horizon_days,
        warning=english.warning,
        scores=table(run.scores),
        monthly=table(run.monthly_at_risk),
    )
    sparklines = {t.key: t.sparkline for t in english.kpis}
    tiles = [dataclasses.replace(t, sparkline=sparklines.get(t.key)) for t in headline.kpis]
    headline.replace(kpis=tiles, charts=english.charts).write(run.headline)


@pytest.fixture(scope="module")
def mails(pipeline_run, tmp_path_factory) -> dict[str, Mail]:
    """The report email of the real run in each language, as ``churnlab send --dry-run``
    writes it (the bytes a client receives)."""
    settings = DeliverySettings.from_params(recipients=["vp-cs@example.com"])
    out = {}
    for language in LANGUAGES:
        run = copy_run(pipeline_run, tmp_path_factory.mktemp(language) / "reports", latest=False)
        if language == "ja":
            _japanese(run)
        raw = send_run(run.path, settings, dry_run=True).eml_path.read_bytes()
        msg = email.message_from_bytes(raw, policy=policy.default)
        out[language] = Mail(language, run, raw, msg)  # type: ignore[arg-type]
    return out


def _money_values(text: str, language: str) -> list[tuple[str, float]]:
    """Every money amount in ``text`` and the value it reads as."""
    found = []
    for token in MONEY[language].findall(text):
        digits = re.sub(r"[^\d.\-]", "", token)
        unit = next((u for u in _UNITS if u in token), None)
        found.append((token, float(digits) * (_UNITS[unit] if unit else 1.0)))
    return found


def _block(soup: BeautifulSoup, row: Any) -> str:
    """The text of the account block that names ``row``."""
    name = soup.find("b", string=str(row.name or row.account_id))
    return " ".join(name.find_parent("td").get_text(" ").split())


# ----------------------------------------------------------------------------- the bytes


@pytest.mark.parametrize("language", LANGUAGES)
def test_headers_and_bodies_are_encoded_for_every_client(mails, language):
    mail = mails[language]
    headline, words = mail.headline, mail.words
    # the subject travels as ASCII (RFC 2047 encoded words when needed) and decodes to the
    # catalogue's subject in the run's language, its money in the body's one format
    header = re.search(rb"^Subject:(.*(?:\n[ \t].*)*)", mail.raw, re.MULTILINE).group(1)
    assert header.isascii()
    expected = words.text(
        "email.subject",
        as_of=headline.as_of,
        arr_at_risk=words.money(headline.arr_at_risk),
        days=headline.horizon_days,
    )
    assert mail.msg["Subject"] == expected
    if language == "ja":
        assert b"=?utf-8?b?" in header.lower() and "解約リスクのある ARR" in mail.msg["Subject"]
    # text parts: UTF-8; Japanese (any non-ASCII text) never quoted-printable
    texts = [p for p in mail.msg.walk() if p.get_content_maintype() == "text"]
    kinds = [p.get_content_type() for p in texts]
    assert kinds[:3] == ["text/plain", "text/html", "text/html"]
    assert kinds[3:] == ["text/csv"] * (1 + bool(headline.top_monthly))
    for part in texts:
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] in ("base64", "8bit", "7bit")
    assert b"quoted-printable" not in mail.raw.lower()
    if language == "ja":
        assert texts[0]["Content-Transfer-Encoding"] in ("base64", "8bit")
        assert texts[1]["Content-Transfer-Encoding"] in ("base64", "8bit")
    # the decoded HTML body is what Gmail measures (it clips above 102 KB)
    html_part = mail.msg.get_body(preferencelist=("html",))
    size = len(html_part.get_payload(decode=True))
    assert 5_000 < size <= MAX_HTML_BYTES, size
    assert len(html_part.get_payload()) <= MAX_HTML_BYTES  # as it travels, encoded
    assert f'<html lang="{language}">' in mail.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_html_is_one_column_of_tables_with_inline_styles_and_cid_images(mails, language):
    mail = mails[language]
    soup = BeautifulSoup(mail.html, "html.parser")
    assert not soup.find_all(["style", "script", "link", "div"])  # no <style> for layout
    assert not soup.find_all(attrs={"class": True})
    column = soup.body.find("table").find("table")
    assert column["width"] == "600" and "max-width:600px" in column["style"]
    # every cell paints its own background and text colour (forced dark inverts blocks)
    for td in soup.find_all("td"):
        assert td.get("bgcolor"), td
        assert "background-color:" in td["style"] and re.search(r"(^|;)color:", td["style"]), td
    # images are related parts (cid:), never inline data, each with a size and alt text
    related = mail.msg.get_body(preferencelist=("html",))
    cids = {
        p["Content-ID"].strip("<>") for p in mail.msg.walk() if p.get_content_maintype() == "image"
    }
    images = soup.find_all("img")
    assert images and {i["src"].removeprefix("cid:") for i in images} == cids
    assert "data:" not in mail.html and related.get_content_type() == "text/html"
    for img in images:
        assert img["alt"].strip() and img["width"] and img["height"]
    # every chart sits under its heading, named like the chart of the report
    headline = mail.headline
    charts = [i for i in images if i.find_parent("td").find("h2")]
    assert [c.find_previous("h2").get_text() for c in charts] == [
        mail.words.chart_title(name) for name in ("retention_trend", "health_by_tier")
    ]
    assert len(images) - len(charts) == sum(1 for t in headline.kpis if t.sparkline)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_body_says_what_a_vp_reads_in_one_money_format(mails, language):
    mail = mails[language]
    headline, words = mail.headline, mail.words
    soup = BeautifulSoup(mail.html, "html.parser")
    page = " ".join(soup.get_text(" ").split())
    risk = words.money(headline.arr_at_risk)
    assert risk in page and risk in mail.text and risk in mail.msg["Subject"]
    for tile in headline.kpis:
        assert tile.label in page
    for row in headline.top_renewals[:3]:
        assert str(row.name) in page and str(row.name) in mail.text
        assert words.money(row.expected_arr_at_risk) in page
    # the alt texts name the key figure: the sparkline's first and last month, GRR and NRR
    grr = headline.kpi("gross_revenue_retention")
    alts = [img["alt"] for img in soup.find_all("img")]
    first = next(v for v in grr.series if v is not None)
    assert any(words.rate(first) in a and grr.display in a for a in alts), alts
    assert any(
        words.rate(grr.value) in a and words.chart_title("retention_trend") in a for a in alts
    )
    # the ARR at risk of the whole book and its parts (contract renewals, monthly, later)
    if headline.arr_at_risk_scope == "book":
        parts = [
            (headline.arr_at_risk_renewals, headline.renewals_in_window),
            (headline.arr_at_risk_monthly, headline.monthly_accounts),
            (headline.arr_at_risk_other, headline.other_accounts),
        ]
        assert sum(accounts for _, accounts in parts) == headline.accounts_scored > 0
        for value, accounts in parts:
            assert not accounts or words.money(value) in page
    # monthly accounts have no contract: no renewal date is shown for them
    for row in headline.top_monthly[:3]:
        assert row.renewal_date is None or words.date(row.renewal_date) not in _block(soup, row)
    # one money format: every amount the email writes, the reasons' included, is what
    # Vocabulary.money writes for it
    own = page + " " + mail.text + " " + mail.msg["Subject"]
    amounts = _money_values(own, language)
    assert len(amounts) > 40
    for token, value in amounts:
        assert words.money(value) == token, token


def test_every_word_comes_from_the_catalogue(mails):
    """Render both templates with every string of the context replaced by a dash and
    ``t`` returning a dash: no letter may remain (a literal word in a template would)."""
    mail = mails["en"]

    def dashed(value: Any) -> Any:
        if isinstance(value, str):
            return "-" if value else ""
        if isinstance(value, dict):
            return {k: dashed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [dashed(v) for v in value]
        return value

    headline = mail.headline.replace(warning="the model ranks no better than chance")
    image = {"key": "k", "relative": "r", "alt": "a", "cid": "c", "width": 1, "height": 1}
    images = [{**image, "kpi": t.key, "title": None} for t in headline.kpis]
    images.append({**image, "kpi": None, "title": "a chart"})
    tables = {"renewals": "x.csv", "monthly": "y.csv"}
    context = email_context(headline, mail.words, images, [Path("report.html")], tables)
    assert context["renewals"] and context["monthly"] and context["what_changed"]
    assert context["charts"] and context["csv_notes"] and context["box"]["parts"]
    env = environment()
    for name in ("email.html.j2", "email.txt.j2"):
        out = env.get_template(name).render({**dashed(context), "t": lambda *a, **k: "-"})
        text = BeautifulSoup(out, "html.parser").get_text() if name.endswith("html.j2") else out
        assert "-" in text
        assert not re.findall(r"[^\W\d_]+", text), (name, re.findall(r"[^\W\d_]+", text)[:10])
    # and the catalogues have the same email keys
    assert set(vocabulary("en").catalogue["email"]) == set(vocabulary("ja").catalogue["email"])


def test_japanese_body_is_japanese(mails):
    ja, en = mails["ja"], mails["en"]
    for key in ("email.at_risk_title", "email.why"):
        assert ja.words.text(key) in ja.html and ja.words.text(key) in ja.text
        assert en.words.text(key) not in ja.html
    assert "解約リスクのある ARR" in ja.html and "年" in ja.text  # dates in Japanese form


def test_the_csv_attachments_hold_the_top_accounts_only(mails):
    mail = mails["en"]
    headline, folder = mail.headline, mail.run
    sent = {
        p.get_filename(): pd.read_csv(io.StringIO(p.get_content()), dtype={"account_id": str})
        for p in mail.msg.iter_attachments()
        if p.get_content_type() == "text/csv"
    }
    tables = [("renewal_map_top.csv", folder.renewal_map, len(headline.top_renewals))]
    if headline.top_monthly:
        tables.append(
            ("monthly_at_risk_top.csv", folder.monthly_at_risk, len(headline.top_monthly))
        )
    assert sorted(sent) == sorted(name for name, _, _ in tables)
    for name, path, rows in tables:
        full = pd.read_csv(path, dtype={"account_id": str})
        assert 0 < rows == len(sent[name]) <= len(full)
        pd.testing.assert_frame_equal(sent[name], full.head(rows), check_dtype=False)
        assert name in mail.text
    assert len(mail.raw) < 2_000_000  # the report (the largest part) and two small tables


def test_what_changed_next_step_and_owner_are_shown(mails, tmp_path):
    """The headline's newer fields reach both bodies (here forced, whatever the run says)."""
    mail = mails["en"]
    real = mail.headline
    first, *rest = real.top_renewals
    headline = real.replace(
        what_changed=["Logo churn rose in <Tech touch> & low touch."],
        top_renewals=[
            dataclasses.replace(first, next_step="Escalate the ticket", csm_owner="Aiko <CSM>"),
            *rest,
        ],
    )
    run = copy_run(mail.run, tmp_path / "reports", latest=False)
    headline.write(run.headline)
    settings = DeliverySettings.from_params(recipients=["vp-cs@example.com"])
    msg = email.message_from_bytes(
        send_run(run.path, settings, dry_run=True).eml_path.read_bytes(), policy=policy.default
    )
    html = msg.get_body(preferencelist=("html",)).get_content()
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Logo churn rose in &lt;Tech touch&gt; &amp; low touch." in html
    assert "Escalate the ticket" in html and "Aiko &lt;CSM&gt;" in html
    assert "Logo churn rose in <Tech touch> & low touch." in text and "Aiko <CSM>" in text
    words = mail.words
    assert words.text("email.what_changed") in html and words.text("email.next_step") in text
    # and the real run's own sentences, next steps and owners, where it has them
    for sentence in real.what_changed:
        assert sentence in mail.text
    for row in real.top_renewals:
        for value in (row.next_step, row.csm_owner):
            assert not value or str(value) in mail.text


def test_a_bare_headline_still_makes_a_short_valid_email(mails, tmp_path):
    """Snapshot-like data: one tile without history, no scores, no charts, no accounts."""
    mail = mails["en"]
    real = mail.headline
    tile = dataclasses.replace(real.kpis[0], sparkline=None, series=[], change_display="")
    bare = real.replace(
        kpis=[tile], top_renewals=[], top_monthly=[], charts={}, what_changed=[], shape="snapshot"
    )
    run = copy_run(mail.run, tmp_path / "reports", latest=False)
    bare.write(run.headline)
    settings = DeliverySettings.from_params(recipients=["vp-cs@example.com"], attach_csv=False)
    raw = send_run(run.path, settings, dry_run=True).eml_path.read_bytes()
    msg = email.message_from_bytes(raw, policy=policy.default)
    html = msg.get_body(preferencelist=("html",)).get_content()
    soup = BeautifulSoup(html, "html.parser")
    assert not soup.find_all("img") and not soup.find_all(
        "h2", string=mail.words.text("email.at_risk_title")
    )
    assert tile.display in soup.get_text() and msg["Subject"].endswith(
        f"{tile.label} {tile.display}"
    )
    assert "n/a" not in soup.get_text()


# ----------------------------------------------------------------------------- Chromium


def _page(mail: Mail, folder: Path, *, images: bool) -> Path:
    """The HTML body as a file a browser opens: cid: images inlined when ``images``."""
    html = mail.html
    if images:
        for part in mail.msg.walk():
            if part.get_content_maintype() == "image":
                data = base64.b64encode(part.get_payload(decode=True)).decode("ascii")
                cid = part["Content-ID"].strip("<>")
                html = html.replace(f"cid:{cid}", f"data:image/png;base64,{data}")
    path = folder / f"{mail.language}-{'images' if images else 'blocked'}.html"
    path.write_text(html, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def driver():
    with browser(600) as session:
        yield session


@pytest.fixture(scope="module")
def blocked_driver():
    with browser(600, block_images=True) as session:
        yield session


def _open(driver, path: Path, width: int) -> None:
    driver.set_window_size(width, VIEWPORT_HEIGHT)
    driver.get(path.resolve().as_uri())


_CELLS_JS = """
return Array.from(document.querySelectorAll('td')).map((td) => {
  const r = td.getBoundingClientRect(); const s = getComputedStyle(td);
  return {x: r.left + 2, y: r.top + 2 + window.scrollY, pad: parseFloat(s.paddingTop),
          bg: s.backgroundColor};
});
"""


@pytest.fixture(scope="module")
def rendered(mails, driver, tmp_path_factory) -> dict[tuple[str, int], dict[str, Any]]:
    """Each body with its images, opened once per language and width: layout facts, the
    images' boxes and every text block; for English at 600 px also the colour each cell's
    padding shows with the forced-dark filter on (to check the model of the inversion)."""
    folder = tmp_path_factory.mktemp("pages")
    out = {}
    for language in LANGUAGES:
        page = _page(mails[language], folder, images=True)
        for width in WIDTHS:
            _open(driver, page, width)
            inner, scroll = driver.execute_script(
                "return [window.innerWidth, document.documentElement.scrollWidth]"
            )
            facts = {
                "inner": inner,
                "scroll": scroll,
                "boxes": alt_boxes(driver),
                "blocks": text_blocks(driver),
            }
            if (language, width) == ("en", 600):
                cells = driver.execute_script(_CELLS_JS)
                driver.execute_script(
                    f"document.documentElement.style.filter = '{FORCED_DARK_FILTER}'"
                )
                shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
                facts["dark_cells"] = [  # the cells of the first screen, by their padding
                    {**c, "seen": shot.getpixel((round(c["x"]), round(c["y"])))}
                    for c in cells
                    if c["pad"] >= 4 and c["y"] < shot.height
                ]
            out[(language, width)] = facts
    return out


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_fits_phone_and_email_width_without_horizontal_scroll(rendered, language, width):
    facts = rendered[(language, width)]
    assert facts["inner"] == width and facts["scroll"] <= width, facts["scroll"]
    boxes = facts["boxes"]
    assert boxes and all(b["loaded"] for b in boxes)
    assert all(b["left"] >= 0 and b["left"] + b["width"] <= width for b in boxes)


def _alt_problems(driver, width: int) -> list[str]:
    """Every image whose alt text does not show in full, in words."""
    problems = []
    for box, img in zip(alt_boxes(driver), driver.find_elements(By.TAG_NAME, "img"), strict=True):
        where = f"{box['alt'][:40]!r} at {width} px"
        if box["loaded"]:
            problems.append(f"loaded although images are blocked: {where}")
        if not box["alt"].strip():
            problems.append(f"no alt text: {where}")
        if box["left"] < 0 or box["left"] + box["width"] > width:
            problems.append(f"outside the viewport: {where}")
        if box["needed"] > box["height"] + 1:
            problems.append(
                f"alt text cut: needs {box['needed']:.0f} of {box['height']:.0f} px: {where}"
            )
        # ink right of the 16 px icon in the image's own screenshot: the alt text was drawn
        shot = np.asarray(Image.open(io.BytesIO(img.screenshot_as_png)).convert("L"))
        ink = int((shot[:, 18:] < 160).sum())
        if ink < 30:
            problems.append(f"no alt text drawn ({ink} dark pixels): {where}")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
def test_with_images_blocked_every_alt_text_shows(mails, blocked_driver, tmp_path, language):
    page = _page(mails[language], tmp_path, images=True)  # the data: images are blocked too
    count = len(BeautifulSoup(mails[language].html, "html.parser").find_all("img"))
    for width in WIDTHS:
        _open(blocked_driver, page, width)
        assert len(alt_boxes(blocked_driver)) == count
        assert _alt_problems(blocked_driver, width) == []


def _contrast_problems(blocks: list[dict[str, Any]]) -> list[str]:
    """Every text block without its own colours or below 4.5:1, light or forced dark."""
    problems = []
    for block in blocks:
        name = f"{block['tag']} {block['text'][:40]!r}"
        fg, bg = block["color"], block["background"]
        if bg is None or not block["background_in_cell"] or not block["color_in_cell"]:
            problems.append(f"no background or colour of its own cell: {name}")
            continue
        if fg["alpha"] != 1 or bg["alpha"] != 1:
            problems.append(f"translucent colour: {name}")
        light = contrast_ratio(fg["rgb"], bg["rgb"])
        dark = contrast_ratio(forced_dark(fg["rgb"]), forced_dark(bg["rgb"]))
        if min(light, dark) < MIN_CONTRAST:
            problems.append(f"contrast {light:.2f} light, {dark:.2f} forced dark: {name}")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_forced_dark_keeps_every_text_block_legible(rendered, language, width):
    """Forced dark mode = ``filter: invert(1) hue-rotate(180deg)`` on ``<html>``.

    Method: for every element with its own text (and every image's alt text) take the
    computed text colour and the first opaque background walking up from it, which
    must be set inside its own table cell, with an inline text colour there too (a
    client that recolours blocks keeps the pair together). The filter maps each colour
    by a fixed function (:func:`tests.browser.forced_dark`: invert each sRGB channel,
    then the spec's hue-rotate matrix, clamped), so the forced-dark pair is that
    function of both colours; WCAG contrast must be >= 4.5:1 for the light and for the
    inverted pair. The function is checked against Chromium's rendering in
    :func:`test_the_model_of_forced_dark_matches_chromium`.
    """
    blocks = rendered[(language, width)]["blocks"]
    assert len(blocks) > 30
    assert _contrast_problems(blocks) == []


@pytest.mark.slow
def test_the_model_of_forced_dark_matches_chromium(rendered):
    """With the filter on, the padding of every cell shows the colour
    :func:`~tests.browser.forced_dark` predicts for its background (within 2 levels)."""
    cells = rendered[("en", 600)]["dark_cells"]
    assert len(cells) > 10
    colours = set()
    for cell in cells:
        rgb = [int(v) for v in re.findall(r"\d+", cell["bg"])[:3]]
        expected = forced_dark(rgb)
        assert all(abs(s - e) <= 2 for s, e in zip(cell["seen"], expected, strict=True)), cell
        colours.add(tuple(rgb))
    assert len(colours) >= 3  # the page, the column and the ARR-at-risk box at least


def _sanity_page(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sanity.html"
    path.write_text(f"<!doctype html><html><body style='margin:0'>{body}</body></html>")
    return path


@pytest.mark.slow
def test_sanity_low_contrast_and_borrowed_colours_are_caught(driver, tmp_path):
    cell = "<table><tr><td bgcolor='#fff' style='background-color:#fff;color:#222;'>{}</td></tr></table>"
    body = (
        cell.format("<p style='color:#999999;'>grey on white</p>")  # 2.8:1
        + "<p>no cell of its own</p>"
    )
    _open(driver, _sanity_page(tmp_path, body), 600)
    problems = _contrast_problems(text_blocks(driver))
    assert any("grey on white" in p and "contrast 2.8" in p for p in problems), problems
    assert any("no background or colour of its own cell" in p and "no cell" in p for p in problems)


@pytest.mark.slow
def test_sanity_cut_or_missing_alt_text_is_caught(blocked_driver, tmp_path):
    long = "A long alt text that cannot fit in a small box of twenty pixels " * 2
    body = (
        f"<img src='data:image/png;base64,AAAA' alt='{long}' width='140' height='20' style='display:block'>"
        "<img src='data:image/png;base64,AAAA' alt='' width='140' height='40' style='display:block'>"
    )
    _open(blocked_driver, _sanity_page(tmp_path, body), 600)
    problems = _alt_problems(blocked_driver, 600)
    assert any(p.startswith("alt text cut") for p in problems), problems
    assert any(p.startswith("no alt text") for p in problems), problems
