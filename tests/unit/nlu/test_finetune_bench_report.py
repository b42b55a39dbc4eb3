"""The fine-tune benchmark's report: the full-data table says how far each encoder is from issue 19's goals, and a
part of the section measured by another checkout is kept as published, with its date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import nlu_finetune, nlu_finetune_full, report


def _full_row(encoder: str, in_scope: float, oos_recall: float) -> dict[str, Any]:
    row: dict[str, Any] = {"data": "full", "encoder": encoder, "seed": 0, "threshold": 0.5, "ngram_weight": 0.3}
    row |= {"head_s": 300.0, "load": 2.0, "model_bytes": 22_700_000}
    row |= {"val": {"n_way": 97.0, "in_scope": 96.0, "oos_recall": 80.0}}
    row |= {"test": {"n_way": 96.5, "in_scope": in_scope, "oos_recall": oos_recall}}
    if encoder == "fine-tuned":
        row |= {"fine_tune_s": 1500.0, "export_s": 8.0, "steps": 705, "threads": 1}
        row |= {"parse": {"p50_ms": 3.1, "stock_p50_ms": 3.0, "ratio": 1.02, "rounds": 11, "texts": 300}}
    return row


def test_the_full_data_table_says_which_goal_each_encoder_misses_and_by_how_much():
    md = nlu_finetune_full.full_table([_full_row("fine-tuned", 95.2, 78.0), _full_row("stock", 94.87, 76.1)])
    stock, tuned = (line for line in md.splitlines() if line.startswith("| ") and "encoder |" not in line)
    assert stock.startswith("| stock ") and "| 96.50 / 94.87 / 76.1 | in-scope 0.13 points short |" in stock
    assert "| both goals met |" in tuned and "| 1500 (705, 1) + 8 export | 3.10 against 3.00 (1.02) |" in tuned


def test_a_part_without_rows_here_is_kept_as_published_with_its_date(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    published = tmp_path / "BENCHMARKS.md"
    published.write_text(
        "# B\n\n<!-- bench:nlu_finetune -->\n_Measured 2026-11-30 on CPython._\n\n"
        "### Few-shot: the encoder fine-tuned\n\nThe draws.\n\n| k | N-way |\n|---|---|\n| 10 | 92.4 |\n\n"
        f"{nlu_finetune.FULL_HEADING} on all of `train`\n\nOld full rows.\n<!-- /bench:nlu_finetune -->\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(report, "BENCHMARKS", published)
    few = nlu_finetune._published(full=False)
    assert few.startswith("### Few-shot: the encoder fine-tuned\n\n_Not re-run with the other part of this section: "
                          "measured 2026-11-30 on CPython._\n\nThe draws.")  # fmt: skip
    assert few.endswith("| 10 | 92.4 |") and "Old full rows" not in few
    full = nlu_finetune._published(full=True)
    assert full.startswith(nlu_finetune.FULL_HEADING) and full.endswith("Old full rows.") and "92.4" not in full
