"""Model text as people read it: Markdown (lists, code, tables) rendered to HTML, then sanitised.

Two well-kept libraries, two layers. markdown-it-py parses CommonMark (plus tables and
strikethrough) with raw HTML off, so `<script>` or `<img onerror=...>` in a response comes out
as escaped text, and its link check drops `javascript:`, `vbscript:`, `file:` and `data:` URLs.
nh3 (the Rust sanitiser ammonia) then keeps only an allow-list of tags, attributes and URL
schemes, so nothing that gets past the parser reaches the page. Images are not rendered (a
response must not make the rater's browser fetch a URL); `![alt](url)` shows as a link.
"""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code",
    "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
URL_SCHEMES = {"http", "https", "mailto"}
# Longer text is shown raw: rendering stays fast on any page however big a response is.
MAX_RENDERED_CHARS = 100_000


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # breaks: a single newline is a line break, as in the raw text (poems, addresses, logs).
    options = {"html": False, "linkify": False, "typographer": False, "breaks": True}
    parser = MarkdownIt("commonmark", options)
    return parser.enable(["table", "strikethrough"]).disable("image")


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        filter_style_properties={"text-align"},  # table column alignment
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Sanitised HTML for `text` (untrusted); the caller marks it safe."""
    if len(text) > MAX_RENDERED_CHARS:
        return _cleaner().clean(f"<pre><code>{html.escape(text, quote=False)}</code></pre>")
    return _cleaner().clean(_parser().render(text))
