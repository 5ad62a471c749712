#!/usr/bin/python3
"""Ansible module: audit a live site against a declarative content baseline."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ereje_site_audit
short_description: Audit a live website against the university's content baseline
description:
  - Fetches every declared page in every declared language and reports exactly what is missing,
    per page and language, each finding naming the control it breaks.
  - Required sections are element ids that must be present and not empty (KTBU-9.7-a, KNMU-5-a, MVD-19-a).
  - Every language version must exist and list the others as hreflang alternates (KTBU-11.6-a, MVD-25-a).
  - Pages with C(max_age_days) must appear in the sitemap with a recent enough lastmod (MVD-22-a).
  - The home page shows the state symbols and the logo (MVD-23-a); the main menu links the declared
    pages (KNMU-5-a).
  - Raster images must be of the allowed formats and at least the minimum size (KTBU-annex-a); SVG is
    vector and exempt.
  - Each page must answer within C(max_response_ms) (KNMU-3-c).
  - Only reads: the module never changes anything, so it behaves the same in check mode.
options:
  base_url:
    description: Scheme, host and port of the site, e.g. C(https://127.0.0.1) or C(http://127.0.0.1:8081).
    type: str
    required: true
  baseline:
    description:
      - The content baseline (see roles/web_host/defaults/main.yml, C(web_host_content_baseline)).
      - Keys C(languages), C(required_languages), C(pages) (C(name), C(path) with C({lang}), C(sections),
        C(controls), C(max_age_days)), C(sitemap), C(symbols), C(images), C(navigation), C(max_response_ms).
    type: dict
    required: true
  validate_certs:
    description: Verify the site's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: CA certificate file to verify the site with (a private CA).
    type: path
  timeout:
    description: Seconds allowed for each request.
    type: int
    default: 15
  today:
    description: Date (YYYY-MM-DD) freshness is measured from; today by default.
    type: str
  fail_on_findings:
    description: Fail the task when anything is missing.
    type: bool
    default: false
author: Ereje
"""

EXAMPLES = r"""
- name: Audit the live site
  ereje.compliance.ereje_site_audit:
    base_url: https://www.univ.example.kz
    baseline: "{{ web_host_content_baseline }}"
    fail_on_findings: true
"""

RETURN = r"""
ok:
  description: True when nothing is missing.
  type: bool
  returned: always
findings:
  description: One entry per problem, with page, lang, url, kind, controls and a message.
  type: list
  elements: dict
  returned: always
missing:
  description: The findings' messages grouped by page, then by language.
  type: dict
  returned: always
failed_controls:
  description: The control IDs the findings break (empty when nothing is missing); the audit fails only these.
  type: list
  elements: str
  returned: always
msg:
  description: The problems when there are any, else what was read (pages, languages, slowest answer).
  type: str
  returned: always
pages:
  description: Every page fetched, with its HTTP status and response time in milliseconds.
  type: list
  elements: dict
  returned: always
"""

import datetime
import ssl
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ereje.compliance.plugins.module_utils.dates import as_date

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class PageParser(HTMLParser):
    """What the audit needs from one HTML page: lang, ids (and whether they are empty),
    hreflang alternates, images, and the links inside each element that has an id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lang = ""
        self.ids: dict[str, bool] = {}
        self.alternates: dict[str, str] = {}
        self.images: list[dict[str, str]] = []
        self.links: dict[str, list[str]] = {}
        self._stack: list[list] = []  # [tag, id, has_content]

    def _content(self):
        for entry in self._stack:
            entry[2] = True

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "").strip()
        if tag == "link" and "alternate" in a.get("rel", "").lower().split() and a.get("hreflang"):
            self.alternates[a["hreflang"].strip()] = a.get("href", "")
        if tag == "img":
            self.images.append({"src": a.get("src", ""), "id": a.get("id", ""), "alt": a.get("alt", "")})
        if tag == "a" and a.get("href"):
            for entry in self._stack:
                if entry[1]:
                    self.links.setdefault(entry[1], []).append(a["href"])
        if tag in VOID:
            if tag in ("img", "input", "embed"):
                self._content()
            if a.get("id"):
                self.ids[a["id"]] = tag in ("img", "input", "embed")
            return
        self._stack.append([tag, a.get("id", ""), False])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_data(self, data):
        if data.strip():
            self._content()

    def handle_endtag(self, tag):
        if not any(entry[0] == tag for entry in self._stack):
            return  # stray end tag
        while self._stack:
            name, ident, content = self._stack.pop()
            if ident:
                self.ids[ident] = self.ids.get(ident, False) or content
            if name == tag:
                break

    def close(self):
        super().close()
        while self._stack:
            _, ident, content = self._stack.pop()
            if ident:
                self.ids[ident] = self.ids.get(ident, False) or content


def parse_page(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


class SitemapParser(HTMLParser):
    """<url><loc>…</loc><lastmod>…</lastmod></url> entries of a sitemap.xml."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.entries: list[dict[str, str]] = []
        self._field = ""
        self._entry: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        tag = tag.split(":")[-1]
        if tag == "url":
            self._entry = {"loc": "", "lastmod": ""}
        elif tag in ("loc", "lastmod") and self._entry is not None:
            self._field = tag

    def handle_data(self, data):
        if self._entry is not None and self._field:
            self._entry[self._field] += data.strip()

    def handle_endtag(self, tag):
        tag = tag.split(":")[-1]
        if tag in ("loc", "lastmod"):
            self._field = ""
        elif tag == "url" and self._entry is not None:
            self.entries.append(self._entry)
            self._entry = None


def parse_sitemap(xml: str) -> dict[str, str]:
    """{path: lastmod} of the sitemap's URLs (paths, so the host name does not matter)."""
    parser = SitemapParser()
    parser.feed(xml)
    parser.close()
    return {urllib.parse.urlsplit(e["loc"]).path or "/": e["lastmod"] for e in parser.entries}


def parse_lastmod(value: str) -> datetime.date | None:
    """The date of a sitemap's lastmod (a date, or a full W3C time whose date is enough)."""
    return as_date(value.strip()[:10])


def image_info(data: bytes) -> tuple[str, int, int]:  # noqa: PLR0911 (one return per format)
    """(format, width, height) from the first bytes of an image; ("unknown", 0, 0) if unreadable."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "gif", width, height
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", 0, 0
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return "bmp", width, abs(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return "jpeg", width, height
            i += 2 + length
        return "jpeg", 0, 0
    if data.lstrip()[:5] in (b"<?xml", b"<svg ") or b"<svg" in data[:512]:
        return "svg", 0, 0
    return "unknown", 0, 0


class Finding(dict):
    def __init__(self, page, lang, url, kind, controls, message):  # noqa: PLR0917
        super().__init__(page=page, lang=lang, url=url, kind=kind, controls=list(controls), message=message)


def page_findings(page: dict, lang: str, url: str, parsed: PageParser, baseline: dict) -> list[Finding]:
    """Findings for one fetched page: language, sections, alternates (no network)."""
    name, controls = page["name"], page.get("controls", [])
    out = []
    if parsed.lang.split("-")[0].lower() != lang.lower():
        out.append(
            Finding(
                name,
                lang,
                url,
                "wrong-language",
                ["KTBU-11.6-a"],
                f"{name} [{lang}]: <html lang> is '{parsed.lang}', not '{lang}'",
            )
        )
    for section in page.get("sections", []):
        if section not in parsed.ids:
            out.append(
                Finding(
                    name,
                    lang,
                    url,
                    "missing-section",
                    controls,
                    f"{name} [{lang}]: section '{section}' is missing",
                )
            )
        elif not parsed.ids[section]:
            out.append(
                Finding(
                    name,
                    lang,
                    url,
                    "empty-section",
                    controls,
                    f"{name} [{lang}]: section '{section}' is empty",
                )
            )
    for other in baseline.get("languages", []):
        if other != lang and other not in parsed.alternates:
            out.append(
                Finding(
                    name,
                    lang,
                    url,
                    "missing-alternate",
                    language_controls(other, baseline),
                    f"{name} [{lang}]: no hreflang alternate for '{other}' (translation missing?)",
                )
            )
    return out


def language_controls(lang: str, baseline: dict) -> list[str]:
    return ["KTBU-11.6-a"] + (["MVD-25-a"] if lang in baseline.get("required_languages", []) else [])


def freshness_findings(pages, languages, sitemap: dict[str, str], today: datetime.date) -> list[Finding]:
    out = []
    for page in pages:
        if not page.get("max_age_days"):
            continue
        for lang in languages:
            path = page["path"].replace("{lang}", lang)
            name = page["name"]
            controls = ["MVD-22-a"]
            if path not in sitemap:
                out.append(
                    Finding(
                        name,
                        lang,
                        path,
                        "not-in-sitemap",
                        controls,
                        f"{name} [{lang}]: {path} is not in the sitemap (no lastmod to check)",
                    )
                )
                continue
            lastmod = parse_lastmod(sitemap[path])
            if lastmod is None:
                out.append(
                    Finding(
                        name,
                        lang,
                        path,
                        "no-lastmod",
                        controls,
                        f"{name} [{lang}]: sitemap has no valid lastmod for {path}",
                    )
                )
            elif (today - lastmod).days > page["max_age_days"]:
                out.append(
                    Finding(
                        name,
                        lang,
                        path,
                        "stale",
                        controls,
                        f"{name} [{lang}]: last updated {lastmod.isoformat()}, "
                        f"{(today - lastmod).days} days ago (limit {page['max_age_days']})",
                    )
                )
    return out


def image_findings(name, lang, url, src, data: bytes, rules: dict) -> list[Finding]:  # noqa: PLR0917
    fmt, width, height = image_info(data)
    if fmt == "svg":
        return []
    control = [rules.get("control", "KTBU-annex-a")]
    formats = rules.get("formats", ["jpeg", "png"])
    if fmt not in formats:
        return [
            Finding(
                name,
                lang,
                url,
                "image-format",
                control,
                f"{name} [{lang}]: image {src} is {fmt}, not {'/'.join(formats)}",
            )
        ]
    min_w, min_h = rules.get("min_width", 0), rules.get("min_height", 0)
    if width < min_w or height < min_h:
        return [
            Finding(
                name,
                lang,
                url,
                "image-size",
                control,
                f"{name} [{lang}]: image {src} is {width}x{height}, smaller than {min_w}x{min_h}",
            )
        ]
    return []


def group(findings: list[Finding]) -> dict:
    out: dict = {}
    for f in findings:
        out.setdefault(f["page"], {}).setdefault(f["lang"], []).append(f["message"])
    return out


class Fetcher:
    def __init__(self, base_url, validate_certs=True, ca_path=None, timeout=15):
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        if validate_certs:
            self.ctx = ssl.create_default_context(cafile=ca_path)
            self.ctx.check_hostname = not ca_path
        else:
            self.ctx = ssl.create_default_context()
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
        self.cache: dict[str, tuple[int, bytes, int, str]] = {}

    def url(self, path: str) -> str:
        return urllib.parse.urljoin(self.base + "/", path)

    def get(self, url: str) -> tuple[int, bytes, int, str]:
        if url in self.cache:
            return self.cache[url]
        start = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=self.timeout, context=self.ctx) as r:
                body, status, ctype = r.read(), r.status, r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            body, status, ctype = b"", e.code, ""
        except (urllib.error.URLError, OSError) as e:
            body, status, ctype = str(getattr(e, "reason", e)).encode(), 0, ""
        result = (status, body, int((time.monotonic() - start) * 1000), ctype)
        self.cache[url] = result
        return result


def _finding(page, lang, url, kind, controls, message) -> Finding:  # noqa: PLR0917
    return Finding(page, lang, url, kind, controls, message)


def image_problems(fetch: Fetcher, name: str, lang: str, url: str, parsed: PageParser, rules: dict) -> list:  # noqa: PLR0917
    out = []
    for img in parsed.images:
        if not img["src"] or img["src"].startswith("data:"):
            continue
        status, data, _, _ = fetch.get(urllib.parse.urljoin(url, img["src"]))
        if status != 200:
            control = [rules.get("control", "KTBU-annex-a")]
            msg = f"{name} [{lang}]: image {img['src']} answers HTTP {status}"
            out.append(_finding(name, lang, url, "broken-image", control, msg))
        else:
            out += image_findings(name, lang, url, img["src"], data, rules)
    return out


def translation_findings(pages, languages, status_of, fetch: Fetcher, baseline: dict) -> list[Finding]:
    """A page that answers in some languages but not in others lacks a translation."""
    out = []
    for page in pages:
        name = page["name"]
        present = [lang for lang in languages if status_of.get((name, lang)) == 200]
        for lang in languages:
            status = status_of.get((name, lang))
            if status == 200:
                continue
            url = fetch.url(page["path"].replace("{lang}", lang))
            if present:
                msg = f"{name} [{lang}]: translation missing (HTTP {status}); exists in {', '.join(present)}"
                out.append(
                    _finding(name, lang, url, "missing-translation", language_controls(lang, baseline), msg)
                )
            else:
                msg = f"{name} [{lang}]: page missing (HTTP {status})"
                out.append(_finding(name, lang, url, "missing-page", page.get("controls", []), msg))
    return out


def home_findings(name: str, lang: str, url: str, parsed: PageParser, baseline: dict, fetch) -> list[Finding]:  # noqa: PLR0917
    """State symbols and logo shown and loading; the main menu links the declared pages."""
    out = []
    ids = {img["id"]: img for img in parsed.images if img["id"]}
    for symbol in baseline.get("symbols", []):
        control = [symbol.get("control", "MVD-23-a")]
        img = ids.get(symbol["id"])
        if img is None:
            msg = f"{name} [{lang}]: image '{symbol['id']}' (state symbol or logo) is missing"
            out.append(_finding(name, lang, url, "missing-symbol", control, msg))
        elif fetch is not None and fetch.get(urllib.parse.urljoin(url, img["src"]))[0] != 200:
            msg = f"{name} [{lang}]: image '{symbol['id']}' ({img['src']}) does not load"
            out.append(_finding(name, lang, url, "missing-symbol", control, msg))
    nav = baseline.get("navigation")
    if nav:
        hrefs = parsed.links.get(nav["container"], [])
        links = {urllib.parse.urlsplit(urllib.parse.urljoin(url, h)).path for h in hrefs}
        by_name = {p["name"]: p for p in baseline.get("pages", [])}
        for target in nav.get("pages", []):
            path = by_name[target]["path"].replace("{lang}", lang) if target in by_name else target
            if path not in links:
                msg = f"{name} [{lang}]: main menu '{nav['container']}' has no link to {path}"
                out.append(
                    _finding(name, lang, url, "missing-navigation", [nav.get("control", "KNMU-5-a")], msg)
                )
    return out


def audit(fetch: Fetcher, baseline: dict, today: datetime.date) -> tuple[list[Finding], list[dict]]:
    languages = baseline.get("languages", [])
    pages = baseline.get("pages", [])
    max_ms = baseline.get("max_response_ms", 0)
    findings: list[Finding] = []
    fetched: list[dict] = []
    status_of: dict[tuple[str, str], int] = {}
    for index, page in enumerate(pages):
        name = page["name"]
        for lang in languages:
            url = fetch.url(page["path"].replace("{lang}", lang))
            status, body, ms, _ = fetch.get(url)
            status_of[(name, lang)] = status
            fetched.append({"page": name, "lang": lang, "url": url, "status": status, "ms": ms})
            if status != 200:
                continue
            parsed = parse_page(body.decode("utf-8", "replace"))
            findings += page_findings(page, lang, url, parsed, baseline)
            if max_ms and ms > max_ms:
                msg = f"{name} [{lang}]: answered in {ms} ms (limit {max_ms} ms)"
                findings.append(_finding(name, lang, url, "slow", ["KNMU-3-c"], msg))
            findings += image_problems(fetch, name, lang, url, parsed, baseline.get("images", {}))
            if index == 0:  # the first page is the home page
                findings += home_findings(name, lang, url, parsed, baseline, fetch)
    findings += translation_findings(pages, languages, status_of, fetch, baseline)
    sitemap_path = baseline.get("sitemap")
    if sitemap_path and any(p.get("max_age_days") for p in pages):
        status, body, _, _ = fetch.get(fetch.url(sitemap_path))
        sitemap = parse_sitemap(body.decode("utf-8", "replace")) if status == 200 else {}
        if status != 200:
            msg = f"sitemap {sitemap_path} answers HTTP {status}"
            findings.append(
                _finding("sitemap", "-", fetch.url(sitemap_path), "missing-sitemap", ["MVD-22-a"], msg)
            )
        findings += freshness_findings(pages, languages, sitemap, today)
    return findings, fetched


def main():
    module = AnsibleModule(
        argument_spec={
            "base_url": {"type": "str", "required": True},
            "baseline": {"type": "dict", "required": True},
            "validate_certs": {"type": "bool", "default": True},
            "ca_path": {"type": "path"},
            "timeout": {"type": "int", "default": 15},
            "today": {"type": "str"},
            "fail_on_findings": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    today = as_date(p["today"]) if p["today"] else datetime.date.today()
    if today is None:
        module.fail_json(msg=f"today must be a date like 2026-11-22, not {p['today']!r}")
    if not p["baseline"].get("languages") or not p["baseline"].get("pages"):
        module.fail_json(msg="baseline needs 'languages' and 'pages' (see web_host_content_baseline)")
    fetch = Fetcher(p["base_url"], p["validate_certs"], p["ca_path"], p["timeout"])
    findings, fetched = audit(fetch, p["baseline"], today)
    result = {
        "changed": False,
        "ok": not findings,
        "findings": findings,
        "missing": group(findings),
        "pages": fetched,
        # Each finding names the controls it breaks: the audit fails those, not every control
        # this task checks (a missing Kazakh statistics page is not a slow site).
        "failed_controls": sorted({c for f in findings for c in f["controls"]}),
        "msg": evidence(fetched, p["baseline"]),
    }
    if findings and p["fail_on_findings"]:
        result["msg"] = problems(findings)
        module.fail_json(**result)
    module.exit_json(**result)


def problems(findings: list[dict], shown: int = 20) -> str:
    """The failure message: how many problems, the first one of every control they break (so the
    evidence of each failed control names its own problem, however many others there are), then
    the others in page order, up to ``shown`` in all."""
    first: list[dict] = []
    for control in sorted({c for f in findings for c in f["controls"]}):
        finding = next(f for f in findings if control in f["controls"])
        if finding not in first:
            first.append(finding)
    ordered = first + [f for f in findings if f not in first]
    listed = "; ".join(f["message"] for f in ordered[: max(shown, len(first))])
    more = len(findings) - max(shown, len(first))
    return f"{len(findings)} content problems: {listed}" + (f"; and {more} more" if more > 0 else "")


def evidence(fetched: list[dict], baseline: dict) -> str:
    """What was read: how many pages in which languages, and the slowest answer."""
    languages = ", ".join(str(lang) for lang in baseline.get("languages", []))
    slowest = max((f["ms"] for f in fetched if isinstance(f.get("ms"), (int, float))), default=None)
    pages = len({f["page"] for f in fetched})
    text = f"{len(fetched)} page(s) fetched ({pages} page(s) in {languages}), every mandatory item found"
    return text + (f"; slowest answer {slowest} ms" if slowest is not None else "")


if __name__ == "__main__":
    main()
