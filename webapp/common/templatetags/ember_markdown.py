"""Model text in templates: `{% model_text value "testid" %}` shows `value` (untrusted) rendered
from Markdown and sanitised (webapp.common.markdown), with the raw text beside it for the
"Raw text" toggle (`{% raw_toggle %}`, static/ember.js); `value|markdown` is the rendered HTML."""

from django import template
from django.utils.safestring import mark_safe

from webapp.common.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(value) -> str:
    return mark_safe(render_markdown("" if value is None else str(value)))  # sanitised by nh3


@register.inclusion_tag("common/model_text.html")
def model_text(value, testid: str = "") -> dict:
    text = "" if value is None else str(value)
    return {"text": text, "html": markdown_filter(text), "testid": testid}


@register.inclusion_tag("common/raw_toggle.html")
def raw_toggle() -> dict:
    return {}
