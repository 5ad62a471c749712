"""ereje_site_audit: HTML and sitemap parsing (stdlib html.parser) and what it reports."""

from __future__ import annotations

import datetime
import struct
import urllib.parse
import zlib

import ereje_site_audit as audit
import pytest

BASELINE = {
    "languages": ["kk", "ru", "en"],
    "required_languages": ["kk", "ru"],
    "max_response_ms": 1000,
    "sitemap": "/sitemap.xml",
    "symbols": [{"id": "state-flag"}, {"id": "logo"}],
    "images": {"formats": ["jpeg", "png"], "min_width": 1200, "min_height": 800},
    "navigation": {"container": "main-nav", "pages": ["about"]},
    "pages": [
        {"name": "home", "path": "/{lang}/", "sections": ["news-feed"], "controls": ["MVD-19-a"]},
        {"name": "about", "path": "/{lang}/about", "sections": ["founding-date"], "controls": ["KTBU-9.7-a"]},
        {"name": "statistics", "path": "/{lang}/statistics", "sections": ["statistics"], "max_age_days": 92},
    ],
}


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def page(
    lang: str, slug: str, sections: list[str], *, langs=("kk", "ru", "en"), photo="/p.png", nav=True
) -> str:
    alternates = "".join(f'<link rel="alternate" hreflang="{o}" href="/{o}/{slug}">' for o in langs)
    menu = f'<nav id="main-nav"><a href="/{lang}/about">About</a></nav>' if nav else "<nav></nav>"
    body = "".join(f'<section id="{s}"><h2>{s}</h2><p>text</p></section>' for s in sections)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{alternates}</head><body>'
        f'<header><img id="state-flag" src="/flag.svg" alt="flag"><img id="logo" src="/logo.svg" alt="logo">'
        f'{menu}</header><main>{body}<figure><img src="{photo}" alt="photo"></figure></main></body></html>'
    )


class FakeFetcher:
    """Answers from a dict {path: (status, body)} instead of the network."""

    def __init__(self, site: dict[str, tuple[int, bytes]], ms: int = 5):
        self.site, self.ms = site, ms

    def url(self, path: str) -> str:
        return urllib.parse.urljoin("https://site.test/", path)

    def get(self, url: str):
        status, body = self.site.get(urllib.parse.urlsplit(url).path, (404, b""))
        return status, body, self.ms, ""


def good_site(today: datetime.date) -> dict[str, tuple[int, bytes]]:
    site = {
        "/flag.svg": (200, b"<svg xmlns='http://www.w3.org/2000/svg'></svg>"),
        "/logo.svg": (200, b"<svg></svg>"),
    }
    site["/p.png"] = (200, png(1200, 800))
    entries = []
    for lang in ("kk", "ru", "en"):
        site[f"/{lang}/"] = (200, page(lang, "", ["news-feed"]).encode())
        site[f"/{lang}/about"] = (200, page(lang, "about", ["founding-date"]).encode())
        site[f"/{lang}/statistics"] = (200, page(lang, "statistics", ["statistics"]).encode())
        entries.append(
            f"<url><loc>https://x/{lang}/statistics</loc><lastmod>{today.isoformat()}</lastmod></url>"
        )
    site["/sitemap.xml"] = (200, ("<urlset>" + "".join(entries) + "</urlset>").encode())
    return site


TODAY = datetime.date(2026, 11, 22)

# ---- parsing ----------------------------------------------------------------------------------


def test_page_parser_reads_lang_ids_alternates_images_and_links():
    parsed = audit.parse_page(page("ru", "about", ["founding-date"]))
    assert parsed.lang == "ru"
    assert parsed.ids["founding-date"] is True
    assert set(parsed.alternates) == {"kk", "ru", "en"}
    assert [i["id"] for i in parsed.images] == ["state-flag", "logo", ""]
    assert parsed.links["main-nav"] == ["/ru/about"]


def test_page_parser_tells_empty_elements_from_filled_ones():
    parsed = audit.parse_page(
        '<html lang="kk"><body><section id="empty"> </section><div id="img"><img src="/a.png"></div>'
        '<p id="unclosed">text<section id="outer"><b>x</b></section></body></html>'
    )
    assert parsed.ids == {"empty": False, "img": True, "outer": True, "unclosed": True}


def test_page_parser_survives_stray_end_tags_and_self_closing_tags():
    parsed = audit.parse_page('<html lang="en"></span><div id="a"><br/><input id="q"/></div></p>')
    assert parsed.ids == {"q": True, "a": True}


def test_sitemap_parser_maps_paths_to_lastmod():
    xml = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://www.univ.kz/kk/statistics</loc><lastmod>2026-10-01</lastmod></url>"
        "<url><loc> https://www.univ.kz/ru/ </loc></url></urlset>"
    )
    assert audit.parse_sitemap(xml) == {"/kk/statistics": "2026-10-01", "/ru/": ""}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-10-01", datetime.date(2026, 10, 1)),
        ("2026-10-01T12:00:00+06:00", datetime.date(2026, 10, 1)),
        ("", None),
        ("yesterday", None),
    ],
)
def test_lastmod_dates(value, expected):
    assert audit.parse_lastmod(value) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(1200, 800), ("png", 1200, 800)),
        (jpeg(1600, 900), ("jpeg", 1600, 900)),
        (b"GIF89a" + struct.pack("<HH", 10, 20), ("gif", 10, 20)),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ("webp", 0, 0)),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', ("svg", 0, 0)),
        (b"hello", ("unknown", 0, 0)),
    ],
    ids=["png", "jpeg", "gif", "webp", "svg", "unknown"],
)
def test_image_info(data, expected):
    assert audit.image_info(data) == expected


# ---- findings ---------------------------------------------------------------------------------


def test_a_complete_site_has_no_findings():
    findings, pages = audit.audit(FakeFetcher(good_site(TODAY)), BASELINE, TODAY)
    assert findings == []
    assert len(pages) == 9
    assert all(p["status"] == 200 for p in pages)


def kinds(findings):
    return sorted((f["page"], f["lang"], f["kind"]) for f in findings)


def test_removed_section_is_reported_for_its_page_and_language():
    site = good_site(TODAY)
    site["/kk/about"] = (200, page("kk", "about", []).encode())
    findings, _ = audit.audit(FakeFetcher(site), BASELINE, TODAY)
    assert kinds(findings) == [("about", "kk", "missing-section")]
    assert findings[0]["controls"] == ["KTBU-9.7-a"]
    assert "section 'founding-date' is missing" in findings[0]["message"]


def test_missing_translation_is_reported_with_the_languages_that_exist():
    site = good_site(TODAY)
    del site["/en/about"]
    for lang in ("kk", "ru"):
        site[f"/{lang}/about"] = (200, page(lang, "about", ["founding-date"], langs=("kk", "ru")).encode())
    findings, _ = audit.audit(FakeFetcher(site), BASELINE, TODAY)
    assert kinds(findings) == [
        ("about", "en", "missing-translation"),
        ("about", "kk", "missing-alternate"),
        ("about", "ru", "missing-alternate"),
    ]
    missing = next(f for f in findings if f["kind"] == "missing-translation")
    assert missing["controls"] == ["KTBU-11.6-a"]
    assert "exists in kk, ru" in missing["message"]


def test_a_missing_russian_page_also_breaks_mvd_25():
    site = good_site(TODAY)
    del site["/ru/about"]
    findings, _ = audit.audit(FakeFetcher(site), BASELINE, TODAY)
    missing = next(f for f in findings if f["kind"] == "missing-translation")
    assert missing["controls"] == ["KTBU-11.6-a", "MVD-25-a"]


def test_stale_statistics_are_reported():
    site = good_site(TODAY - datetime.timedelta(days=120))
    findings, _ = audit.audit(FakeFetcher(site), BASELINE, TODAY)
    assert kinds(findings) == [("statistics", lang, "stale") for lang in ("en", "kk", "ru")]
    assert "120 days ago (limit 92)" in findings[0]["message"]
    assert findings[0]["controls"] == ["MVD-22-a"]


def test_page_missing_from_the_sitemap_is_reported():
    site = good_site(TODAY)
    site["/sitemap.xml"] = (200, b"<urlset></urlset>")
    findings, _ = audit.audit(FakeFetcher(site), BASELINE, TODAY)
    assert {f["kind"] for f in findings} == {"not-in-sitemap"}


def test_undersized_and_wrong_format_photos_are_reported():
    site = good_site(TODAY)
    site["/p.png"] = (200, png(600, 400))
    findings, _ = audit.audit(FakeFetcher(site), BASELINE, TODAY)
    assert {f["kind"] for f in findings} == {"image-size"}
    assert "600x400, smaller than 1200x800" in findings[0]["message"]
    site["/p.png"] = (200, b"GIF89a" + struct.pack("<HH", 2000, 2000))
    findings, _ = audit.audit(FakeFetcher(site), BASELINE, TODAY)
    assert {f["kind"] for f in findings} == {"image-format"}


def test_missing_symbol_and_menu_entry_are_reported_on_the_home_page():
    site = good_site(TODAY)
    site["/kk/"] = (200, page("kk", "", ["news-feed"], nav=False).replace('id="logo"', 'id="x"').encode())
    findings, _ = audit.audit(FakeFetcher(site), BASELINE, TODAY)
    assert kinds(findings) == [("home", "kk", "missing-navigation"), ("home", "kk", "missing-symbol")]


def test_slow_pages_are_reported():
    findings, _ = audit.audit(FakeFetcher(good_site(TODAY), ms=2500), BASELINE, TODAY)
    assert {f["kind"] for f in findings} == {"slow"}
    assert len(findings) == 9
    assert findings[0]["controls"] == ["KNMU-3-c"]


def test_wrong_html_lang_is_reported():
    site = good_site(TODAY)
    site["/en/about"] = (200, page("ru", "about", ["founding-date"]).encode())
    findings, _ = audit.audit(FakeFetcher(site), BASELINE, TODAY)
    assert kinds(findings) == [("about", "en", "wrong-language")]


def test_findings_are_grouped_by_page_then_language():
    f = [audit.Finding("about", "kk", "u", "k", [], "m1"), audit.Finding("about", "en", "u", "k", [], "m2")]
    assert audit.group(f) == {"about": {"kk": ["m1"], "en": ["m2"]}}


def test_the_failure_names_the_first_problem_of_every_control_it_breaks():
    """Evidence per control: 40 missing images ahead of one missing section must not hide it."""
    emblem = "image /assets/state-emblem.svg answers HTTP 404"
    images = [{"message": f"page{i} [kk]: {emblem}", "controls": ["MVD-23-a"]} for i in range(40)]
    charter = "documents [kk]: section 'charter' is missing"
    section = {"message": charter, "controls": ["MVD-19-a", "KNMU-5-a"]}
    message = audit.problems([*images, section])
    assert message.startswith("41 content problems: ")
    assert charter in message
    assert f"page0 [kk]: {emblem}" in message
    assert message.endswith("; and 21 more")
    assert message.count("; ") == 20
