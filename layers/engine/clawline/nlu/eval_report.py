"""A readable confusion plot (SVG) and an HTML report for ``clawline nlu eval``, with no plotting library.

The plot has the class names on both axes (rows: the true class, columns: the predicted one), a colour scale with
its legend (the share of each true class, on a square-root scale so rare confusions stay visible next to a
diagonal near 100%), and the most-confused pairs outlined and numbered. With many classes the full matrix is too
dense to read, so a focused view keeps only the classes that take part in the most-confused pairs.
"""

from __future__ import annotations

import html
import itertools
import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clawline.nlu.evaluation import EvalReport

#: Above this many classes the report adds a focused view of the most-confused classes.
FOCUS_ABOVE = 30
#: A sequential colour map (light to dark blue), as (position, (r, g, b)).
_STOPS = ((0.0, (247, 251, 255)), (0.25, (198, 219, 239)), (0.5, (107, 174, 214)), (0.75, (33, 113, 181)),
          (1.0, (8, 48, 107)))  # fmt: skip
_HIGHLIGHT = "#d62728"


def colour(share: float) -> str:
    """The fill for a share of a row (0..1), on a square-root scale."""
    x = math.sqrt(min(max(share, 0.0), 1.0))
    for (p0, c0), (p1, c1) in itertools.pairwise(_STOPS):
        if x <= p1:
            t = (x - p0) / (p1 - p0)
            r, g, b = (round(a + (b_ - a) * t) for a, b_ in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#08306b"


def _text_colour(share: float) -> str:
    return "#ffffff" if math.sqrt(share) > 0.55 else "#1d2230"


def confusion_svg(labels: list[str], confusion: list[list[int]], pairs: list[dict[str, object]], title: str) -> str:
    n = len(labels)
    cell = max(6, min(30, 900 // max(n, 1)))
    font = max(5, min(12, cell - 3))
    label_width = int(max((len(x) for x in labels), default=4) * font * 0.62) + 10
    top = label_width + 50
    left = label_width + 40
    legend_x = left + n * cell + 30
    width = legend_x + 90
    height = max(top + n * cell + 30, top + 260)
    ranked = {(str(p["true"]), str(p["predicted"])): i + 1 for i, p in enumerate(pairs)}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="18" font-size="14" font-weight="bold">{html.escape(title)}</text>',
        f'<text x="{left + n * cell / 2}" y="38" font-size="12" text-anchor="middle">predicted class</text>',
        f'<text x="14" y="{top + n * cell / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + n * cell / 2})">true class</text>',
    ]
    for i, name in enumerate(labels):
        y = top + i * cell + cell / 2 + font / 3
        out.append(f'<text x="{left - 4}" y="{y:.1f}" font-size="{font}" text-anchor="end">{html.escape(name)}</text>')
        x = left + i * cell + cell / 2 + font / 3
        out.append(
            f'<text x="{x:.1f}" y="{top - 4}" font-size="{font}" transform="rotate(-90 {x:.1f} {top - 4})">'
            f"{html.escape(name)}</text>"
        )
    # Empty cells are the background: with 150 classes almost every cell is 0, and one element each would make the
    # file megabytes.
    out.append(
        f'<rect x="{left}" y="{top}" width="{n * cell}" height="{n * cell}" fill="{colour(0)}" stroke="#9ca3af"/>'
    )
    highlights = []
    for i, row in enumerate(confusion):
        total = max(sum(row), 1)
        for j, count in enumerate(row):
            if not count:
                continue
            share = count / total
            x, y = left + j * cell, top + i * cell
            tip = f"{labels[i]} → {labels[j]}: {count} ({100 * share:.1f}% of {labels[i]})"
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{colour(share)}" '
                f'stroke="#e5e7eb" stroke-width="0.5"><title>{html.escape(tip)}</title></rect>'
            )
            if cell >= 18:
                out.append(
                    f'<text x="{x + cell / 2}" y="{y + cell / 2 + font / 3:.1f}" font-size="{font - 1}" '
                    f'text-anchor="middle" fill="{_text_colour(share)}">{count}</text>'
                )
            rank = ranked.get((labels[i], labels[j]))
            if rank is not None:
                highlights.append(
                    f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="none" stroke="{_HIGHLIGHT}" '
                    f'stroke-width="2"/><text x="{x + cell + 2}" y="{y + 2}" font-size="{max(font, 9)}" '
                    f'fill="{_HIGHLIGHT}" font-weight="bold">{rank}</text>'
                )
    out.extend(highlights)
    # The colour scale: what each shade means, on the same square-root scale.
    bar_top, bar_height = top, 200
    for k in range(50):
        share = (1 - k / 49) ** 2
        out.append(
            f'<rect x="{legend_x}" y="{bar_top + k * bar_height / 50:.1f}" width="16" '
            f'height="{bar_height / 50 + 0.5:.1f}" fill="{colour(share)}"/>'
        )
    out.append(f'<rect x="{legend_x}" y="{bar_top}" width="16" height="{bar_height}" fill="none" stroke="#9ca3af"/>')
    for share in (1.0, 0.5, 0.25, 0.1, 0.01, 0.0):
        y = bar_top + (1 - math.sqrt(share)) * bar_height
        out.append(f'<text x="{legend_x + 20}" y="{y + 4:.1f}" font-size="10">{100 * share:g}%</text>')
    out.append(f'<text x="{legend_x}" y="{bar_top - 8}" font-size="10">share of row</text>')
    out.append("</svg>")
    return "\n".join(out)


def focused(report: EvalReport) -> tuple[list[str], list[list[int]]]:
    """The classes in the most-confused pairs, and their sub-matrix."""
    keep: list[str] = []
    for pair in report.confused_pairs:
        for name in (str(pair["true"]), str(pair["predicted"])):
            if name not in keep:
                keep.append(name)
    index = [report.labels.index(name) for name in sorted(keep)]
    return [report.labels[i] for i in index], [[report.confusion[i][j] for j in index] for i in index]


def per_class(report: EvalReport) -> list[tuple[str, int, float | None, float | None]]:
    """(class, support, precision, recall) from the confusion matrix."""
    rows = []
    for k, name in enumerate(report.labels):
        support = sum(report.confusion[k])
        predicted = sum(row[k] for row in report.confusion)
        hit = report.confusion[k][k]
        rows.append((name, support, hit / predicted if predicted else None, hit / support if support else None))
    return rows


def write_plots(report: EvalReport, path: Path) -> list[Path]:
    """The full plot at ``path``; with many classes, also ``<stem>-focus.svg``. Returns what was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(report.labels)
    path.write_text(
        confusion_svg(report.labels, report.confusion, report.confused_pairs, f"Confusion matrix ({n} classes)"),
        encoding="utf-8",
    )
    written = [path]
    if n > FOCUS_ABOVE and report.confused_pairs:
        labels, matrix = focused(report)
        focus = path.with_name(f"{path.stem}-focus.svg")
        title = f"Most-confused classes ({len(labels)} of {n})"
        focus.write_text(confusion_svg(labels, matrix, report.confused_pairs, title), encoding="utf-8")
        written.append(focus)
    return written


def write_html(report: EvalReport, path: Path, plots: list[Path]) -> None:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.2f}%"

    summary = [
        ("examples", f"{report.n_examples} ({report.n_in_scope} in scope, {report.n_out_of_scope} out of scope)"),
        ("accuracy (out of scope as a class)", pct(report.accuracy)),
        (f"in-scope accuracy at threshold {report.threshold:.3f}", pct(report.in_scope_accuracy)),
        ("N-way in-scope accuracy (no threshold)", pct(report.n_way_accuracy)),
        ("macro F1", pct(report.macro_f1)),
        ("out-of-scope precision / recall", f"{pct(report.oos_precision)} / {pct(report.oos_recall)}"),
        ("latency per query (ms)", ", ".join(f"{k} {v:.3f}" for k, v in report.latency_ms.items())),
    ]
    pairs = "".join(
        f"<tr><td>{i + 1}</td><td>{html.escape(str(p['true']))}</td><td>{html.escape(str(p['predicted']))}</td>"
        f"<td>{p['count']}</td></tr>"
        for i, p in enumerate(report.confused_pairs)
    )
    classes = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{support}</td><td>{pct(precision)}</td><td>{pct(recall)}</td></tr>"
        for name, support, precision, recall in sorted(per_class(report), key=lambda r: (r[3] is None, r[3] or 0))
    )
    figures = "".join(
        f"<figure>{p.read_text(encoding='utf-8')}<figcaption>{p.name}</figcaption></figure>" for p in plots
    )
    style = (
        "body{font:14px/1.4 sans-serif;margin:24px;color:#1d2230}table{border-collapse:collapse;margin:8px 0 20px}"
        "td,th{border-bottom:1px solid #e5e7eb;padding:3px 10px;text-align:left}figure{margin:0 0 24px;overflow-x:auto}"
    )
    pairs = pairs or '<tr><td colspan="4">none</td></tr>'
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NLU evaluation</title>
<style>{style}</style>
</head><body>
<h1>NLU evaluation</h1>
<table>{"".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary)}</table>
<h2>Most-confused pairs (outlined and numbered in the plots)</h2>
<table><tr><th>#</th><th>true</th><th>predicted</th><th>count</th></tr>{pairs}</table>
<h2>Confusion matrix</h2>
{figures}
<h2>Per class (worst recall first)</h2>
<table><tr><th>class</th><th>support</th><th>precision</th><th>recall</th></tr>{classes}</table>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
