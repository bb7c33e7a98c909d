from django import template

register = template.Library()


@register.filter
def is_turns(value) -> bool:
    """A context value that is a conversation (a list of {"role", "content"} turns)."""
    return isinstance(value, list)
