"""`clawline nlu eval`'s confusion plot is readable: class names, a colour scale, the worst pairs called out,
and a focused view when there are too many classes to read; the HTML report carries the numbers and the plots."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from clawline.nlu.eval_report import FOCUS_ABOVE, colour, write_html, write_plots
from clawline.nlu.evaluation import EvalReport


def report(n: int) -> EvalReport:
    labels = [f"intent_{i:03d}" for i in range(n - 1)] + ["out_of_scope"]
    confusion = [[10 if i == j else 0 for j in range(n)] for i in range(n)]
    confusion[1][2] = 6  # the worst pair
    confusion[3][n - 1] = 2
    pairs = [
        {"true": labels[1], "predicted": labels[2], "count": 6},
        {"true": labels[3], "predicted": "out_of_scope", "count": 2},
    ]
    return EvalReport(
        n_examples=10 * n + 8, n_in_scope=10 * n - 2, n_out_of_scope=10, accuracy=0.9, in_scope_accuracy=0.9,
        n_way_accuracy=0.95, macro_f1=0.9, oos_precision=0.8, oos_recall=0.7, threshold=0.4,
        latency_ms={"p50": 0.2, "p99": 1.0}, confused_pairs=pairs, labels=labels, confusion=confusion,
    )  # fmt: skip


def texts(svg: Path) -> list[str]:
    ns = "{http://www.w3.org/2000/svg}"
    return [el.text or "" for el in ET.parse(svg).getroot().iter(f"{ns}text")]


def test_small_matrix_plot_has_every_label_a_colour_scale_and_numbered_worst_pairs(tmp_path: Path) -> None:
    r = report(8)
    (plot,) = write_plots(r, tmp_path / "c.svg")
    words = texts(plot)
    assert all(words.count(label) == 2 for label in r.labels)  # a row and a column label each
    assert {"100%", "50%", "0%", "share of row"} <= set(words)
    assert {"1", "2"} <= set(words)  # the called-out pairs' numbers
    svg = plot.read_text(encoding="utf-8")
    assert svg.count('stroke="#d62728"') == len(r.confused_pairs)
    assert "intent_001 → intent_002: 6 (37.5% of intent_001)" in svg  # each cell says what it is


def test_many_classes_get_a_focused_view_of_the_confused_ones(tmp_path: Path) -> None:
    r = report(FOCUS_ABOVE + 20)
    full, focus = write_plots(r, tmp_path / "c.svg")
    assert focus.name == "c-focus.svg"
    focused_labels = {w for w in texts(focus) if w.startswith(("intent_", "out_of"))}
    assert focused_labels == {"intent_001", "intent_002", "intent_003", "out_of_scope"}
    assert full.stat().st_size < 200_000  # empty cells are background, not one element each


def test_html_report_has_the_numbers_the_pairs_and_the_plots(tmp_path: Path) -> None:
    r = report(FOCUS_ABOVE + 5)
    plots = write_plots(r, tmp_path / "c.svg")
    write_html(r, tmp_path / "r.html", plots)
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "macro F1" in page and "90.00%" in page
    assert page.count("<svg") == 2
    assert re.search(r"<td>1</td><td>intent_001</td><td>intent_002</td><td>6</td>", page)


def test_colour_scale_goes_from_light_to_dark() -> None:
    lightness = [sum(int(colour(s)[i : i + 2], 16) for i in (1, 3, 5)) for s in (0.0, 0.01, 0.1, 0.5, 1.0)]
    assert lightness == sorted(lightness, reverse=True)
