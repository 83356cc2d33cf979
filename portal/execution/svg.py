"""Server-drawn SVG: the counts histogram and a device's connectivity graph.

Plain strings built from numbers and escaped labels, so pages need no chart library."""

from __future__ import annotations

import math
from html import escape

MAX_BARS = 32


def histogram(counts: dict[str, int], shots: int | None = None) -> str:
    """Bars of the most frequent outcomes (at most 32), tallest first by bitstring order."""
    if not counts:
        return ""
    total = shots or sum(counts.values()) or 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_BARS]
    top.sort(key=lambda kv: kv[0])
    peak = max(v for _, v in top) or 1
    bar_w, gap, height, label_h = 28, 8, 180, 70
    width = len(top) * (bar_w + gap) + gap + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="histogram" role="img" '
        f'viewBox="0 0 {width} {height + label_h}" width="{width}" height="{height + label_h}" '
        f'aria-label="Counts histogram of {len(counts)} outcomes">',
        f'<line x1="36" y1="{height}" x2="{width}" y2="{height}" class="axis"/>',
        f'<text x="2" y="12" class="tick">{peak / total:.0%}</text>',
    ]
    for i, (bits, value) in enumerate(top):
        x = 40 + gap + i * (bar_w + gap)
        h = max(1.0, (height - 20) * value / peak)
        y = height - h
        label = escape(bits)
        parts.append(
            f'<rect x="{x}" y="{y:.1f}" width="{bar_w}" height="{h:.1f}" class="bar">'
            f"<title>{label}: {value} ({value / total:.1%})</title></rect>"
        )
        parts.append(
            f'<text x="{x + bar_w / 2}" y="{height + 8}" class="bits" '
            f'transform="rotate(60 {x + bar_w / 2} {height + 8})">{label}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def connectivity(qubits: int | None, edges: list | None) -> str:
    """Qubits on a circle and their couplings as lines; all-to-all when ``edges`` is None."""
    n = int(qubits or 0)
    if n <= 0 or n > 64:
        return ""
    if edges is None:
        if n > 16:
            return ""
        pairs = {(a, b) for a in range(n) for b in range(a + 1, n)}
    else:
        pairs = {tuple(sorted((int(a), int(b)))) for a, b in edges if a != b}
    size, radius = 360, 150
    centre = size / 2
    points = [
        (
            centre + radius * math.cos(2 * math.pi * i / n - math.pi / 2),
            centre + radius * math.sin(2 * math.pi * i / n - math.pi / 2),
        )
        for i in range(n)
    ]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="connectivity" role="img" '
        f'viewBox="0 0 {size} {size}" width="{size}" height="{size}" '
        f'aria-label="Connectivity of {n} qubits with {len(pairs)} couplings">'
    ]
    for a, b in sorted(pairs):
        if a < n and b < n:
            (x1, y1), (x2, y2) = points[a], points[b]
            parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>')
    for i, (x, y) in enumerate(points):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="11"><title>qubit {i}</title></circle>')
        parts.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{i}</text>')
    parts.append("</svg>")
    return "".join(parts)
