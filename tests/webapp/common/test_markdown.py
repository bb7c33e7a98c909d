"""Model text rendered from Markdown and sanitised: what people read is formatted, and nothing a
model writes can run in the rater's browser."""

from html.parser import HTMLParser

from django.template import Context, Template

from webapp.common.markdown import MAX_RENDERED_CHARS, _cleaner, render_markdown


class _Tags(HTMLParser):
    """Every element and attribute of an HTML fragment, as a browser's parser sees them."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    return _Tags(html).tags


def _no_active_content(html: str) -> None:
    for tag, attrs in _tags(html):
        assert tag not in {"script", "img", "iframe", "style", "object", "svg"}, html
        assert not any(name.startswith("on") for name in attrs), html
        href = attrs.get("href", "")
        assert not href or href.split(":", 1)[0].lower() in {"http", "https", "mailto"}, html


def test_script_stays_text():
    html = render_markdown("Hello <script>alert(1)</script> world")
    _no_active_content(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_onerror_stays_text():
    html = render_markdown('<img src=x onerror="alert(1)"> and <b onclick="x()">bold</b>')
    _no_active_content(html)
    assert [tag for tag, _ in _tags(html)] == ["p"]
    assert "&lt;img src=x onerror=" in html


def test_javascript_and_data_links_are_not_links():
    for source in (
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](  javascript:alert(1) )",
        "[click](vbscript:msgbox(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "<javascript:alert(1)>",
        '<a href="javascript:alert(1)">click</a>',
    ):
        html = render_markdown(source)
        _no_active_content(html)
        assert not any("href" in attrs for _, attrs in _tags(html)), (source, html)


def test_the_sanitiser_alone_stops_what_a_parser_might_let_through():
    # the second layer: were raw HTML ever to reach it, the allow-list still holds
    html = _cleaner().clean(
        '<p onclick="x()">hi<script>alert(1)</script><img src=x onerror=alert(1)>'
        '<a href="javascript:alert(1)">j</a><iframe src="https://e.com"></iframe>'
        '<td style="background:url(https://e.com/x)">c</td></p>'
    )
    _no_active_content(html)
    assert "alert" not in html and "url(" not in html


def test_safe_links_keep_their_url_and_are_nofollow():
    html = render_markdown("[docs](https://example.com/a?b=1)")
    ((tag, attrs), (link, link_attrs)) = _tags(html)
    assert link == "a" and link_attrs["href"] == "https://example.com/a?b=1"
    assert "nofollow" in link_attrs["rel"] and "noopener" in link_attrs["rel"]


def test_images_are_not_fetched():
    html = render_markdown("![tracker](https://example.com/pixel.png)")
    assert "img" not in [tag for tag, _ in _tags(html)]


def test_lists_and_tables():
    html = render_markdown(
        "Steps:\n\n1. one\n2. two\n\n- a\n- b\n\n| x | y |\n|---|--:|\n| 1 | 2 |"
    )
    tags = [tag for tag, _ in _tags(html)]
    assert tags.count("li") == 4 and "ol" in tags and "ul" in tags
    assert tags.count("th") == 2 and tags.count("td") == 2 and "table" in tags
    right = [attrs for tag, attrs in _tags(html) if tag == "td"][1]
    assert right == {"style": "text-align:right"}


def test_style_is_limited_to_alignment():
    html = render_markdown("| x |\n|--:|\n| 1 |")
    assert "background" not in html and "url(" not in html
    assert 'style="text-align:right"' in html


def test_code_blocks_keep_their_text_escaped():
    html = render_markdown('```python\nif a < b:\n    print("<b>hi</b>")\n```\nand `x<y` inline')
    assert '<pre><code>if a &lt; b:\n    print("&lt;b&gt;hi&lt;/b&gt;")\n</code></pre>' in html
    assert "<code>x&lt;y</code>" in html
    _no_active_content(html)


def test_single_newlines_are_line_breaks():
    assert render_markdown("line one\nline two") == "<p>line one<br>\nline two</p>\n"


def test_very_long_text_is_shown_raw():
    text = "<script>x</script>\n" + "- item\n" * (MAX_RENDERED_CHARS // 7)
    html = render_markdown(text)
    assert html.startswith("<pre><code>&lt;script&gt;") and "<li>" not in html


def test_template_tag_shows_rendered_and_raw_text():
    source = "- **bold** <script>alert(1)</script>"
    out = Template("{% load ember_markdown %}{% model_text value 'resp' %}").render(
        Context({"value": source})
    )
    _no_active_content(out)
    rendered, raw = out.split('data-view="raw">')
    assert "<li><strong>bold</strong> &lt;script&gt;alert(1)&lt;/script&gt;</li>" in rendered
    assert raw.startswith("- **bold** &lt;script&gt;alert(1)&lt;/script&gt;</div>")
    assert 'data-testid="resp"' in out
