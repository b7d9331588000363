"""The summary across cycles: one data object, rendered as a Markdown table and an SVG plot.

The table is the README's format (one row per cycle, cycle 0 being the base); the plot shows
held-out accuracy per cycle (line, left axis) and pairs per cycle (bars, right axis). The
Prefect artifact is the same Markdown, so the two never disagree.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 560, 320, 56, 56, 36, 40


def summary_rows(baseline: dict, cycles: list[dict]) -> list[dict]:
    rows = [{"cycle": 0, "accuracy": baseline.get("accuracy"), "pairs": None, "samples": None, "valid": None,
             "correct": None, "generation_tps": None, "training_tps": None, "seconds": None}]  # fmt: skip
    for c in cycles:
        rows.append(
            {
                "cycle": c["cycle"],
                "accuracy": c["heldout_accuracy_after"],
                "pairs": c["pairs"],
                "samples": c["samples"],
                "valid": c["valid"],
                "correct": c["correct"],
                "generation_tps": c["generation"]["tokens_per_second"],
                "training_tps": c["training"]["tokens_per_second"],
                "seconds": c["seconds"],
            }
        )
    return rows


def _cell(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def summary_markdown(rows: list[dict], heldout: int, title: str = "Self-teaching cycles") -> str:
    lines = [
        f"**{title}** (held-out accuracy: greedy, {heldout} questions; cycle 0 is the starting model)",
        "",
        "| cycle | held-out accuracy | samples | valid | correct | pairs | generation tok/s | training tok/s "
        "| time s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cycle']} | {_cell(r['accuracy'])} | {_cell(r['samples'])} | {_cell(r['valid'])} | "
            f"{_cell(r['correct'])} | {_cell(r['pairs'])} | {_cell(r['generation_tps'], 1)} | "
            f"{_cell(r['training_tps'], 1)} | {_cell(r['seconds'], 1)} |"
        )
    return "\n".join(lines) + "\n"


def summary_svg(rows: list[dict], title: str = "Self-teaching: held-out accuracy and pairs per cycle") -> str:
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    n = len(rows)
    step = plot_w / max(n, 1)
    max_pairs = max([r["pairs"] or 0 for r in rows] + [1])

    def x(i: int) -> float:
        return PAD_L + step * (i + 0.5)

    def y_acc(a: float) -> float:
        return PAD_T + plot_h * (1 - a)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" '
        'font-size="11">',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<line x1="{PAD_L}" y1="{PAD_T + plot_h}" x2="{PAD_L + plot_w}" y2="{PAD_T + plot_h}" stroke="#333"/>',
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{PAD_T + plot_h}" stroke="#333"/>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<text x="{PAD_L - 6}" y="{y_acc(tick) + 4:.1f}" text-anchor="end">{tick:.2f}</text>'
            f'<line x1="{PAD_L}" y1="{y_acc(tick):.1f}" x2="{PAD_L + plot_w}" y2="{y_acc(tick):.1f}" '
            'stroke="#eee"/>'
        )
    parts.append(f'<text x="{PAD_L + plot_w + 6}" y="{PAD_T + 4}">{max_pairs} pairs</text>')
    for i, r in enumerate(rows):
        parts.append(f'<text x="{x(i):.1f}" y="{PAD_T + plot_h + 16}" text-anchor="middle">cycle {r["cycle"]}</text>')
        if r["pairs"]:
            h = plot_h * r["pairs"] / max_pairs
            parts.append(
                f'<rect x="{x(i) - step * 0.2:.1f}" y="{PAD_T + plot_h - h:.1f}" width="{step * 0.4:.1f}" '
                f'height="{h:.1f}" fill="#9ecae1"><title>{r["pairs"]} pairs</title></rect>'
            )
    points = [(x(i), y_acc(r["accuracy"])) for i, r in enumerate(rows) if r["accuracy"] is not None]
    if points:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#d62728" stroke-width="2"/>')
        for (px, py), r in zip(points, [r for r in rows if r["accuracy"] is not None]):
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="#d62728"><title>{r["accuracy"]:.3f}</title></circle>'
            )
    parts.append(
        f'<text x="{PAD_L}" y="{HEIGHT - 6}" fill="#d62728">held-out accuracy</text>'
        f'<text x="{PAD_L + 130}" y="{HEIGHT - 6}" fill="#3182bd">pairs (bars)</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
