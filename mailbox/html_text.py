"""HTML mail to readable text (`html_to_text`).

A small linear tokenizer, not ``html.parser``: on CPython 3.11.7 ``html.parser`` needs ~100 s
for 90 KB of unclosed tags or quotes, and it is slower on ordinary mail too.
"""
from __future__ import annotations

import html
import re

# --------------------------------------------------------------------------------------
# HTML -> text
# --------------------------------------------------------------------------------------

_SKIP_TAGS = {"head", "title", "noscript", "template", "svg", "object", "iframe", "xml",
              "select"}
_PARA_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol",
              "pre", "dl", "hr", "center", "form", "fieldset", "figure", "address"}
_LINE_TAGS = {"div", "tr", "dd", "dt", "section", "article", "header", "footer", "nav",
              "aside", "main", "figcaption", "caption", "tbody", "thead", "tfoot"}
_WS_RE = re.compile(r"[ \t\r\n\f\xa0\u200b]+")
_BLANKS_RE = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")


# A small linear tokenizer rather than html.parser: html.parser costs ~10 µs per tag (a 7 KB
# tag-dense mail took ~4 ms; large Outlook mails tens of ms); this is 2-3x faster, needs no
# error recovery and stays linear on hostile input (every "<" looks ahead to the next ">"
# once; a ">" inside a quoted attribute value ends the tag early, a deliberate trade-off).
_TAG_NAME_RE = re.compile(r"/?([a-zA-Z][a-zA-Z0-9:_-]*+)")
_HTML_ATTR_RE = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*+)\s*=\s*("[^"]*+"|'[^']*+'|[^\s"'>]++)""")
_RAW_TEXT_TAGS = {"script", "style", "textarea", "xmp"}
_RAW_END_RE = {t: re.compile(rf"</{t}\s*>", re.I) for t in _RAW_TEXT_TAGS}


def _html_attrs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in _HTML_ATTR_RE.findall(text):
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        out.setdefault(name.lower(), html.unescape(value))
    return out


class _HTMLText:
    """Collects readable text: skips script/style/head, block elements become line breaks."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.trailing_nl = 0
        self.skip = 0
        self.pre = 0
        self.links: list[tuple[str, int]] = []

    def feed(self, markup: str) -> None:
        pos = 0
        n = len(markup)
        gt = -1  # position of the next ">" at or after the current "<", cached
        while pos < n:
            lt = markup.find("<", pos)
            if lt < 0:
                self.handle_data(markup[pos:])
                return
            if lt > pos:
                self.handle_data(markup[pos:lt])
            if markup.startswith("<!--", lt):
                end = markup.find("-->", lt + 4)
                pos = n if end < 0 else end + 3
                continue
            if gt < lt:
                gt = markup.find(">", lt)
                if gt < 0:
                    gt = n  # no ">" anywhere after this point
            m = _TAG_NAME_RE.match(markup, lt + 1, gt)
            if markup.startswith(("<!", "<?"), lt) and gt < n:
                pos = gt + 1  # doctype, CDATA marker, processing instruction
                continue
            if m is None or gt >= n:
                self.handle_data("<")  # a lone "<" is text
                pos = lt + 1
                continue
            pos = gt + 1
            tag = m.group(1).lower()
            if markup[lt + 1] == "/":
                self.handle_endtag(tag)
                continue
            attrs_text = markup[m.end():gt]
            self_closing = attrs_text.endswith("/")
            if tag in _RAW_TEXT_TAGS and not self_closing:
                end_m = _RAW_END_RE[tag].search(markup, pos)
                body_end, new_pos = (end_m.start(), end_m.end()) if end_m else (n, n)
                if tag in ("textarea", "xmp") and not self.skip:
                    self.handle_data(markup[pos:body_end])
                pos = new_pos
                continue
            attrs = _html_attrs(attrs_text) if tag in ("a", "img") else {}
            if self_closing:
                self.handle_startendtag(tag, attrs)
            else:
                self.handle_starttag(tag, attrs)

    def close(self) -> None:
        pass

    def _emit(self, text: str) -> None:
        """Append output, tracking how many newlines it currently ends with."""
        self.out.append(text)
        stripped = text.rstrip("\n")
        if stripped:
            self.trailing_nl = len(text) - len(stripped)
        else:
            self.trailing_nl += len(text)

    def _nl(self, n: int = 1) -> None:
        """End the current line (n=1) or paragraph (n=2) unless that is already done."""
        if self.out and self.trailing_nl < n:
            self._emit("\n" * (n - self.trailing_nl))

    def _at_line_start(self) -> bool:
        return not self.out or self.trailing_nl > 0

    def handle_starttag(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "body":
            self.skip = 0  # an unclosed <head>/<title> must not swallow the body
            return
        if tag in _SKIP_TAGS:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "br":
            self._emit("\n")  # explicit: <br><br> is a blank line
        elif tag == "li":
            self._nl()
            self._emit("- ")
        elif tag in _PARA_TAGS:
            self._nl(2)
            if tag == "pre":
                self.pre += 1
        elif tag in _LINE_TAGS:
            self._nl()
        elif tag in ("td", "th"):
            if not self._at_line_start():
                self._emit(" ")
        elif tag == "a":
            self.links.append((attrs.get("href", "").strip(), len(self.out)))
        elif tag == "img":
            alt = attrs.get("alt", "")
            if alt.strip():
                self._emit(f"[{_WS_RE.sub(' ', alt).strip()}]")

    def handle_startendtag(self, tag: str, attrs: dict[str, str]) -> None:
        if tag in _SKIP_TAGS:
            return  # <title/> opens nothing
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "img", "hr"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            if self.skip:
                self.skip -= 1
            return
        if self.skip:
            return
        if tag in _PARA_TAGS:
            self._nl(2)
            if tag == "pre" and self.pre:
                self.pre -= 1
        elif tag in _LINE_TAGS or tag == "li":
            self._nl()
        elif tag == "br":
            self._emit("\n")  # </br> is treated as <br> by browsers
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            if href.lower().startswith(("http://", "https://")):
                label = "".join(self.out[start:]).strip()
                if href not in label and label != href.split("://", 1)[1].rstrip("/"):
                    self._emit(f" <{href}>" if label else href)

    def handle_data(self, data: str) -> None:
        if self.skip or not data:
            return
        if "&" in data:
            data = html.unescape(data)
        if self.pre:
            self._emit(data.replace("\xa0", " "))
            return
        data = _WS_RE.sub(" ", data)
        if self._at_line_start():
            data = data.lstrip(" ")
        if data:
            self._emit(data)

    def text(self) -> str:
        return _tidy("".join(self.out))


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = _BLANKS_RE.sub("\n\n", text)
    return text.strip("\n")


_TAG_RE = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<[^>]*>", re.I | re.S)


def html_to_text(markup: str) -> str:
    """Readable text from HTML: no script/style/head, block elements as line breaks."""
    parser = _HTMLText()
    try:
        parser.feed(markup)
        return parser.text()
    except Exception:  # noqa: BLE001 - belt and braces: strip tags crudely
        text = _TAG_RE.sub(" ", markup)
        return _tidy(_WS_RE.sub(" ", html.unescape(text)))
