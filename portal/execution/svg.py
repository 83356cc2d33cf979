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


# IBM Falcon r5 27-qubit heavy-hex lattice (ibm_kolkata, ibm_mumbai, ...): (row, column) of
# each qubit, as in IBM's published device maps and Qiskit's ``plot_gate_map``. Degree-3
# qubits sit on the three long rows, the bridge qubits between them; every coupling of
# ``catalogue.HEAVY_HEX_27`` joins two neighbouring points. Used only when the coupling map
# matches it (``_fits``).
FALCON_27 = [
    (1, 0), (1, 1), (2, 1), (3, 1), (1, 2), (3, 2), (0, 3), (1, 3), (3, 3), (4, 3),
    (1, 4), (3, 4), (1, 5), (2, 5), (3, 5), (1, 6), (3, 6), (0, 7), (1, 7), (3, 7),
    (4, 7), (1, 8), (3, 8), (1, 9), (2, 9), (3, 9), (3, 10),
]  # fmt: skip
KNOWN_LAYOUTS = {27: FALCON_27}

# Error colour scale, best to worst; dark text stays readable on each.
SCALE = ["#b7e4c7", "#d8f3a6", "#fde68a", "#fdba74", "#f9a8a8"]
EDGE_SCALE = ["#2d6a4f", "#74a31f", "#b7791f", "#c2410c", "#b91c1c"]


def _fits(layout: list[tuple[int, int]], pairs) -> bool:
    """Every coupling joins two grid neighbours (distance 1) of ``layout``."""
    return all(
        abs(layout[a][0] - layout[b][0]) + abs(layout[a][1] - layout[b][1]) == 1 for a, b in pairs
    )


def _adjacency(n: int, pairs) -> dict[int, set[int]]:
    adj: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in pairs:
        adj[a].add(b)
        adj[b].add(a)
    return adj


def _line(n: int, pairs) -> list[tuple[int, int]] | None:
    """A path graph, laid out as a line (wrapped in rows of 16, snaking, for long ones)."""
    if len(pairs) != n - 1:
        return None
    adj = _adjacency(n, pairs)
    ends = [q for q, nb in adj.items() if len(nb) == 1]
    if n == 1 or len(ends) != 2 or any(len(nb) > 2 for nb in adj.values()):
        return None
    order, previous, current = [ends[0]], None, ends[0]
    while len(order) < n:
        nxt = [q for q in adj[current] if q != previous]
        if not nxt:
            return None
        previous, current = current, nxt[0]
        order.append(current)
    width = 16
    layout: list[tuple[int, int]] = [(0, 0)] * n
    for i, q in enumerate(order):
        row, col = divmod(i, width)
        layout[q] = (row * 2, col if row % 2 == 0 else width - 1 - col)
    return layout if _fits(layout, pairs) else None


def _grid(n: int, pairs) -> list[tuple[int, int]] | None:
    """A rows x columns lattice numbered row by row."""
    for cols in range(2, n):
        if n % cols:
            continue
        layout = [divmod(q, cols) for q in range(n)]
        rows = n // cols
        if len(pairs) == rows * (cols - 1) + cols * (rows - 1) and _fits(layout, pairs):
            return layout
    return None


def layout_of(n: int, pairs) -> tuple[str, list[tuple[float, float]]]:
    """(kind, (row, column) per qubit) keeping the device's geometry: a known lattice
    (heavy-hex Falcon), a line, a grid, else a circle (all-to-all and anything else)."""
    known = KNOWN_LAYOUTS.get(n)
    if known and pairs and _fits(known, pairs):
        return "heavy-hex", [(float(r), float(c)) for r, c in known]
    for kind, build in (("line", _line), ("grid", _grid)):
        found = build(n, pairs) if pairs else None
        if found:
            return kind, [(float(r), float(c)) for r, c in found]
    radius = max(2.0, n / 3)
    return "circle", [
        (
            radius + radius * math.sin(2 * math.pi * i / n - math.pi / 2),
            radius + radius * math.cos(2 * math.pi * i / n - math.pi / 2),
        )
        for i in range(n)
    ]


def _shade(value, low, high, scale) -> str:
    if value is None:
        return "#e5e7eb"
    if high <= low:
        return scale[0]
    step = (value - low) / (high - low)
    return scale[min(len(scale) - 1, int(step * len(scale)))]


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def connectivity(qubits: int | None, edges: list | None, calibration=None) -> str:
    """The coupling map drawn with its geometry (see ``layout_of``); all-to-all when
    ``edges`` is None. With a ``calibration``, qubits are coloured by readout error and
    couplings by two-qubit gate error (worse = warmer), each with its figures as a tooltip."""
    n = int(qubits or 0)
    if n <= 0 or n > 64:
        return ""
    if edges is None:
        if n > 16:
            return ""
        pairs = sorted((a, b) for a in range(n) for b in range(a + 1, n))
    else:
        pairs = sorted({tuple(sorted((int(a), int(b)))) for a, b in edges if a != b})
        pairs = [(a, b) for a, b in pairs if a < n and b < n]
    complete = len(pairs) == n * (n - 1) // 2
    kind, grid = layout_of(n, [] if complete else pairs)
    step, margin, r = 44, 24, 13
    rows = max(p[0] for p in grid)
    cols = max(p[1] for p in grid)
    width = int(cols * step + 2 * margin)
    height = int(rows * step + 2 * margin)

    def xy(q: int) -> tuple[float, float]:
        row, col = grid[q]
        return margin + col * step, margin + row * step

    readouts = [q.readout_error for q in (calibration.qubits if calibration else [])]
    readouts = [v for v in readouts if v is not None]
    errors = [e.error for e in (calibration.edges if calibration else []) if e.error is not None]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="connectivity connectivity-{kind}" '
        f'role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'preserveAspectRatio="xMidYMid meet" data-layout="{kind}" '
        f'aria-label="Coupling map ({escape(kind)} layout) of {n} qubits with '
        f'{len(pairs)} couplings">'
    ]
    for a, b in pairs:
        (x1, y1), (x2, y2) = xy(a), xy(b)
        edge = calibration.edge(a, b) if calibration else None
        colour = _shade(edge.error if edge else None, *_range(errors), EDGE_SCALE)
        stroke = f' stroke="{colour}" stroke-width="4"' if calibration else ""
        tip = f"{a}–{b}: {edge.gate} error {_pct(edge.error)}" if edge else f"{a}–{b}"
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"{stroke} '
            f'data-edge="{a}-{b}"><title>{escape(tip)}</title></line>'
        )
    for q in range(n):
        x, y = xy(q)
        figures = calibration.qubit(q) if calibration else None
        fill = ""
        tip = f"qubit {q}"
        if figures is not None:
            fill = f' fill="{_shade(figures.readout_error, *_range(readouts), SCALE)}"'
            tip = (
                f"qubit {q}: T1 {_us(figures.t1_us)}, T2 {_us(figures.t2_us)}, readout error "
                f"{_pct(figures.readout_error)}, 1-qubit gate error {_pct(figures.gate_error_1q)}"
            )
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}"{fill} data-qubit="{q}">'
            f"<title>{escape(tip)}</title></circle>"
        )
        parts.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{q}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _range(values) -> tuple[float, float]:
    return (min(values), max(values)) if values else (0.0, 0.0)


def _us(value) -> str:
    return "n/a" if value is None else f"{value:,.1f} µs"


def layout_kind(drawing: str) -> str | None:
    """The layout a ``connectivity`` drawing used (heavy-hex, line, grid, circle)."""
    marker = 'data-layout="'
    if marker not in drawing:
        return None
    return drawing.split(marker, 1)[1].split('"', 1)[0]
