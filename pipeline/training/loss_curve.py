"""The training loss curve as CSV and as a self-contained SVG line chart (no plotting library).

Rows are what the trainer logged: optimiser step, epoch, training loss, learning rate,
gradient norm. The chart plots loss against step, with the learning rate as a faint
second line scaled to the same height, and states the first and last loss.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from xml.sax.saxutils import escape

from pipeline.io.atomic import write_text

COLUMNS = ("step", "epoch", "loss", "learning_rate", "grad_norm")
WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 640, 360, 64, 20, 36, 44


def write_loss_csv(path: str | Path, rows: list[dict]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in COLUMNS})
    return write_text(path, buffer.getvalue())


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def loss_svg(rows: list[dict], title: str = "training loss") -> str:
    points = [(float(r["step"]), float(r["loss"])) for r in rows if r.get("loss") not in (None, "")]
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
    ]
    if not points:
        lines += [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no loss logged</text>', "</svg>"]
        return "\n".join(lines) + "\n"
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_lo, y_hi = min(p[1] for p in points), max(p[1] for p in points)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def sx(x: float) -> float:
        return PAD_L + (x - x_lo) / (x_hi - x_lo) * plot_w

    def sy(y: float) -> float:
        return PAD_T + (1 - (y - y_lo) / (y_hi - y_lo)) * plot_h

    lines.append(f'<text x="{PAD_L}" y="20" font-size="13" font-weight="bold">{escape(title)}</text>')
    lines.append(
        f'<text x="{WIDTH - PAD_R}" y="20" text-anchor="end">first {points[0][1]:.4f}, last {points[-1][1]:.4f}</text>'
    )
    for y in _ticks(y_lo, y_hi):
        lines.append(f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#e5e5e5"/>')
        lines.append(f'<text x="{PAD_L - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3f}</text>')
    for x in _ticks(x_lo, x_hi):
        lines.append(f'<text x="{sx(x):.1f}" y="{HEIGHT - PAD_B + 16}" text-anchor="middle">{x:.0f}</text>')
    lines.append(f'<text x="{PAD_L + plot_w / 2}" y="{HEIGHT - 8}" text-anchor="middle">optimiser step</text>')
    lines.append(f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    rates = [(float(r["step"]), float(r["learning_rate"])) for r in rows if r.get("learning_rate") not in (None, "")]
    top = max((lr for _, lr in rates), default=0.0)
    if top > 0:
        path = " ".join(f"{sx(x):.1f},{PAD_T + (1 - lr / top) * plot_h:.1f}" for x, lr in rates)
        lines.append(
            f'<polyline points="{path}" fill="none" stroke="#f0a050" stroke-width="1" stroke-dasharray="4 3"/>'
        )
        lines.append(
            f'<text x="{WIDTH - PAD_R - 4}" y="{PAD_T + 12}" text-anchor="end" fill="#c07020">'
            f"learning rate (peak {top:.2g})</text>"
        )
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    lines.append(f'<polyline points="{path}" fill="none" stroke="#2060c0" stroke-width="1.5"/>')
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def write_loss_svg(path: str | Path, rows: list[dict], title: str = "training loss") -> Path:
    return write_text(path, loss_svg(rows, title))
