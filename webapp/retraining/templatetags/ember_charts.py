from django import template

register = template.Library()


@register.filter
def loss_polyline(history: list, size: str = "320x80") -> str:
    """SVG polyline points for a [[step, loss], ...] curve scaled into WIDTHxHEIGHT."""
    width, height = (int(part) for part in size.split("x"))
    if len(history) < 2:
        return ""
    steps = [point[0] for point in history]
    losses = [point[1] for point in history]
    x0, x1 = min(steps), max(steps) or 1
    y0, y1 = min(losses), max(losses)
    span_x, span_y = (x1 - x0) or 1, (y1 - y0) or 1
    return " ".join(
        f"{(s - x0) / span_x * width:.1f},{height - (v - y0) / span_y * (height - 4) - 2:.1f}"
        for s, v in zip(steps, losses, strict=True)
    )


@register.filter
def percent(value) -> str:
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.1f}%"


@register.filter
def points(value) -> str:
    """A difference of two proportions in signed percentage points: "+3.0 pts"."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:+.1f} pts"


@register.filter
def duration(seconds) -> str:
    """Seconds as "1h 02m", "3m 05s" or "12s"."""
    if seconds is None or seconds == "":
        return "–"
    total = int(round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
