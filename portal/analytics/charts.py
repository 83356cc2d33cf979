"""Server-drawn SVG charts for the dashboards: no chart library and no JavaScript, so they
render under the strict CSP and read the same everywhere. Values become numbers and labels
are escaped; each bar carries a <title> for its exact value and the chart an aria-label."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html import escape

from markupsafe import Markup

HEIGHT, LEFT, BOTTOM, TOP = 160, 48, 36, 12


def _fmt(value: float | Decimal, money: bool) -> str:
    return f"{Decimal(value):.2f}" if money else f"{value:g}"


def bar_chart(
    points: list[tuple[date | str, float | Decimal]],
    title: str,
    *,
    money: bool = False,
    width: int = 640,
) -> Markup:
    """One bar per point (a day or a label); an empty series draws an explicit "no data"."""
    total = sum((Decimal(str(v)) for _, v in points), Decimal(0))
    label = f"{title}: total {_fmt(total, money)} over {len(points)} points"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {HEIGHT + BOTTOM + TOP}" preserveAspectRatio="xMinYMin meet" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    peak = max((float(v) for _, v in points), default=0.0)
    base = TOP + HEIGHT
    parts.append(f'<line x1="{LEFT}" y1="{base}" x2="{width}" y2="{base}" class="axis"/>')
    parts.append(f'<text x="{LEFT - 4}" y="{TOP + 8}" class="tick" text-anchor="end">'
                 f"{escape(_fmt(peak, money))}</text>")  # fmt: skip
    parts.append(f'<text x="{LEFT - 4}" y="{base}" class="tick" text-anchor="end">0</text>')
    if not points or peak <= 0:
        parts.append(
            f'<text x="{(LEFT + width) / 2}" y="{TOP + HEIGHT / 2}" class="empty" '
            'text-anchor="middle">No data in this range</text>'
        )
    if points:
        slot = (width - LEFT - 4) / len(points)
        bar = max(1.0, slot * 0.8)
        every = max(1, len(points) // 8)  # at most ~8 axis labels
        for i, (key, value) in enumerate(points):
            x = LEFT + 2 + i * slot + (slot - bar) / 2
            height = HEIGHT * float(value) / peak if peak > 0 else 0
            text = key.isoformat() if isinstance(key, date) else str(key)
            if height > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{base - height:.1f}" width="{bar:.1f}" '
                    f'height="{height:.1f}" class="bar"><title>{escape(text)}: '
                    f"{escape(_fmt(value, money))}</title></rect>"
                )
            if i % every == 0:
                short = text[5:] if isinstance(key, date) else text[:12]
                parts.append(
                    f'<text x="{x + bar / 2:.1f}" y="{base + 14}" class="tick" '
                    f'text-anchor="middle">{escape(short)}</text>'
                )
    parts.append("</svg>")
    # Safe: every label above went through escape(); the rest are numbers.
    return Markup("".join(parts))  # noqa: S704
