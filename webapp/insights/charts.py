"""Server-side SVG charts: bars with confidence intervals, a confusion heatmap, a reliability
diagram and daily trend lines. Every text is escaped (labels come from imported data)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#c2410c", "#2563eb", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d")
W, H = 520, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 24, 56


def _svg(body: list[str], title: str, testid: str, width: int = W, height: int = H) -> SafeString:
    return mark_safe(
        f'<svg class="chart" data-testid="{escape(testid)}" role="img" viewBox="0 0 {width} '
        f'{height}" width="100%" style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<text x="{width / 2}" y="14" text-anchor="middle" font-size="12" font-weight="600">'
        f"{escape(title)}</text>" + "".join(body) + "</svg>"
    )


def _y_axis(body: list[str], plot_h: float, label: str) -> None:
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = TOP + plot_h * (1 - tick)
        body.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e7e5e4"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
            f"{tick:.2f}</text>"
        )
    body.append(
        f'<text x="10" y="{TOP + plot_h / 2:.1f}" font-size="10" '
        f'transform="rotate(-90 10 {TOP + plot_h / 2:.1f})" text-anchor="middle">'
        f"{escape(label)}</text>"
    )


def bar_chart(
    bars: Sequence[dict[str, Any]], title: str, testid: str, y_label: str = "agreement"
) -> SafeString:
    """bars: {"label", "value" (0..1 or None), "ci": [low, high] or None}; y from 0 to 1
    (kappa below 0 is drawn at 0, its number stays in the tooltip)."""
    plot_h = H - TOP - BOTTOM
    plot_w = W - LEFT - RIGHT
    body: list[str] = []
    _y_axis(body, plot_h, y_label)
    step = plot_w / max(1, len(bars))
    for i, bar in enumerate(bars):
        value = bar.get("value")
        x = LEFT + i * step + step * 0.15
        width = step * 0.7
        label = escape(str(bar["label"]))
        if value is not None:
            clipped = min(1.0, max(0.0, value))
            y = TOP + plot_h * (1 - clipped)
            ci = bar.get("ci")
            tip = f"{bar['label']}: {value:.3f}" + (
                f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else ""
            )
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{TOP + plot_h - y:.1f}" fill="{PALETTE[0]}" opacity="0.8" '
                f'data-value="{value:.6f}"><title>{escape(tip)}</title></rect>'
            )
            if ci:
                lo = TOP + plot_h * (1 - min(1.0, max(0.0, ci[0])))
                hi = TOP + plot_h * (1 - min(1.0, max(0.0, ci[1])))
                cx = x + width / 2
                body.append(
                    f'<path class="ci" d="M{cx:.1f},{lo:.1f}V{hi:.1f}M{cx - 4:.1f},{lo:.1f}'
                    f'h8M{cx - 4:.1f},{hi:.1f}h8" stroke="#1d1d1f" fill="none"/>'
                )
        short = label if len(str(bar["label"])) <= 14 else escape(str(bar["label"])[:13] + "…")
        body.append(
            f'<text x="{x + width / 2:.1f}" y="{TOP + plot_h + 12}" font-size="10" '
            f'text-anchor="end" transform="rotate(-35 {x + width / 2:.1f} {TOP + plot_h + 12})">'
            f"{short}</text>"
        )
    return _svg(body, title, testid)


def heatmap(
    matrix: Sequence[Sequence[int]],
    rows: Sequence[str],
    cols: Sequence[str],
    title: str,
    testid: str,
    row_caption: str,
    col_caption: str,
) -> SafeString:
    k_r, k_c = len(rows), len(cols)
    cell = 44
    left, top = 70, 40
    width, height = left + cell * k_c + 12, top + cell * k_r + 30
    peak = max((v for row in matrix for v in row), default=0) or 1
    body = []
    for i, row in enumerate(matrix):
        body.append(
            f'<text x="{left - 6}" y="{top + cell * i + cell / 2 + 4}" text-anchor="end" '
            f'font-size="11">{escape(str(rows[i])[:10])}</text>'
        )
        for j, value in enumerate(row):
            shade = value / peak
            body.append(
                f'<rect class="cell" x="{left + cell * j}" y="{top + cell * i}" width="{cell}" '
                f'height="{cell}" fill="rgb({int(255 - 218 * shade)},{int(255 - 156 * shade)},'
                f'{int(255 - 20 * shade)})" stroke="#fff" data-value="{value}"/>'
                f'<text x="{left + cell * j + cell / 2}" y="{top + cell * i + cell / 2 + 4}" '
                f'text-anchor="middle" font-size="11" fill="{"#fff" if shade > 0.6 else "#111"}">'
                f"{value}</text>"
            )
    for j, col in enumerate(cols):
        body.append(
            f'<text x="{left + cell * j + cell / 2}" y="{top - 4}" text-anchor="middle" '
            f'font-size="11">{escape(str(col)[:10])}</text>'
        )
    body.append(
        f'<text x="{left + cell * k_c / 2}" y="{height - 8}" text-anchor="middle" '
        f'font-size="10">rows: {escape(row_caption)} · columns: {escape(col_caption)}</text>'
    )
    return _svg(body, title, testid, width=max(width, 220), height=height)


def reliability(bins: Sequence[dict[str, Any]], title: str, testid: str) -> SafeString:
    """Accuracy per confidence bin (bars, with Wilson CIs) against the diagonal."""
    size = 260
    plot = size - 60
    left, top = 44, 24
    body = [
        f'<rect x="{left}" y="{top}" width="{plot}" height="{plot}" fill="none" stroke="#ccc"/>',
        f'<line class="diagonal" x1="{left}" y1="{top + plot}" x2="{left + plot}" y2="{top}" '
        'stroke="#999" stroke-dasharray="4 3"/>',
    ]
    for b in bins:
        x = left + plot * b["low"]
        w = plot * (b["high"] - b["low"])
        if b["count"] and b["accuracy"] is not None:
            y = top + plot * (1 - b["accuracy"])
            tip = (
                f"confidence {b['low']:.1f}–{b['high']:.1f}: accuracy {b['accuracy']:.3f} "
                f"at mean confidence {b['confidence']:.3f} (n={b['count']})"
            )
            body.append(
                f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{w - 2:.1f}" '
                f'height="{top + plot - y:.1f}" fill="{PALETTE[1]}" opacity="0.75" '
                f'data-value="{b["accuracy"]:.6f}"><title>{escape(tip)}</title></rect>'
            )
            if b.get("accuracy_ci"):
                lo, hi = (top + plot * (1 - v) for v in b["accuracy_ci"])
                cx = x + w / 2
                body.append(f'<path d="M{cx:.1f},{lo:.1f}V{hi:.1f}" stroke="#111"/>')
    for tick in (0, 0.5, 1.0):
        body.append(
            f'<text x="{left + plot * tick}" y="{top + plot + 14}" text-anchor="middle" '
            f'font-size="10">{tick:.1f}</text>'
            f'<text x="{left - 4}" y="{top + plot * (1 - tick) + 4}" text-anchor="end" '
            f'font-size="10">{tick:.1f}</text>'
        )
    body.append(
        f'<text x="{left + plot / 2}" y="{size - 12}" text-anchor="middle" font-size="10">'
        "autorater confidence (bars: how often it was right)</text>"
    )
    return _svg(body, title, testid, width=size + 20, height=size)


def lines(series: dict[str, list[dict[str, Any]]], title: str, testid: str) -> SafeString:
    """One line per series of {"day", "value"} points, y from 0 to 1."""
    plot_h = H - TOP - BOTTOM
    plot_w = W - LEFT - RIGHT - 70
    days = sorted({p["day"] for points in series.values() for p in points})
    body: list[str] = []
    _y_axis(body, plot_h, "agreement")
    if not days:
        return _svg(body, title, testid)
    first, last = days[0], days[-1]
    span = max(1, (last - first).days)
    for s, (name, points) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        coords = [
            (LEFT + plot_w * (p["day"] - first).days / span, TOP + plot_h * (1 - p["value"]))
            for p in points
            if p["value"] is not None
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(
            f'<polyline class="series" data-series="{escape(name)}" points="{path}" '
            f'fill="none" stroke="{color}" stroke-width="1.5"/>'
            f'<text x="{W - 76}" y="{TOP + 12 + 14 * s}" font-size="11" fill="{color}">'
            f"{escape(name)}</text>"
        )
    body.append(
        f'<text x="{LEFT}" y="{TOP + plot_h + 14}" font-size="10">{first.isoformat()}</text>'
        f'<text x="{LEFT + plot_w}" y="{TOP + plot_h + 14}" font-size="10" text-anchor="end">'
        f"{last.isoformat()}</text>"
    )
    return _svg(body, title, testid)
