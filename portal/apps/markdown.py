"""README and documentation rendering: Markdown to HTML, then sanitised with nh3 so a README
can never inject script, event handlers, styles or javascript: links into the page."""

from __future__ import annotations

import re

import markdown as md
import nh3
from markupsafe import Markup

from portal.core import memo

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
    "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
}
MAX_MARKDOWN_CHARS = 200_000
_HEADING = re.compile(r"<(/?)h([1-6])\b", re.IGNORECASE)


def _demote_headings(html: str) -> str:
    """A README's ``# Title`` becomes <h2>: the page around it owns the only <h1>."""
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + 1)}", html)


def render_markdown(text: str | None) -> Markup:
    """Safe HTML for ``text`` (Markdown). Raw HTML in the source is sanitised, not trusted."""
    if not text:
        return Markup("")
    return _render(text)


@memo.bounded(256)  # a pure function of the text; app pages show the same READMEs often
def _render(text: str) -> Markup:
    html = md.markdown(
        text[:MAX_MARKDOWN_CHARS], extensions=["fenced_code", "tables", "sane_lists"]
    )
    clean = nh3.clean(
        _demote_headings(html),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above
