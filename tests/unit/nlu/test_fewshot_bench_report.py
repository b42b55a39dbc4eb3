"""The few-shot benchmark's report: rows measured with the earlier threshold rule are marked, and the cost table
compares every option with the baseline measured in the same run."""

from __future__ import annotations

from typing import Any

from bench import nlu_fewshot


def _row(backend: str, seed: int, *, rule: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {"backend": backend, "k": 10, "seed": seed, "train_s": 1.0, "threshold": 0.3}
    row |= {"n_way": 86.0 + seed, "in_scope": 85.0, "oos_recall": 60.0}
    if rule is not None:
        row["threshold_rule"] = rule
    return row


def _cost(p50: float) -> dict[str, Any]:
    return {
        "latency": {"p50": p50, "p90": 2 * p50, "p99": 3 * p50, "mean": p50},
        "artifact_mb": 1.0,
        "shared_mb": 0.0,
        "cold": {"import_numpy_ms": 1.0, "import_nlu_ms": 1.0, "load_ms": 1.0, "first_parse_ms": 1.0},
    }


def test_only_rows_measured_with_the_earlier_threshold_rule_are_marked():
    rows = [_row("linear", s, rule=nlu_fewshot.THRESHOLD_RULE) for s in (0, 1)]
    rows += [_row("linear-ngrams", 0, rule=None)]
    md = "\n".join(nlu_fewshot.render({"rows": rows, "costs": {}, "wall_s": 60, "jobs": 2}, (1.0, 1.0)))
    linear = next(line for line in md.splitlines() if line.startswith(f"| {nlu_fewshot.NAMES['linear']} "))
    ngrams = next(line for line in md.splitlines() if line.startswith(f"| {nlu_fewshot.NAMES['linear-ngrams']} "))
    assert "†" not in linear and "| 2 | 86.5 ± 0.7 |" in linear
    assert ngrams.startswith(f"| {nlu_fewshot.NAMES['linear-ngrams']} † |")
    assert "† measured with the earlier threshold rule" in md


def test_the_cost_table_gives_each_option_as_a_ratio_to_the_baseline_of_the_same_run():
    rows = [_row("linear", 0, rule=nlu_fewshot.THRESHOLD_RULE), _row("baseline", 0, rule=nlu_fewshot.THRESHOLD_RULE)]
    costs = {"linear": _cost(0.2), "embedding": _cost(5.0), "baseline": _cost(2.0)}
    md = "\n".join(nlu_fewshot.render({"rows": rows, "costs": costs, "wall_s": 60, "jobs": 2}, (1.0, 1.0)))
    ratios = next(line for line in md.splitlines() if line.startswith("Median parse against the baseline"))
    assert f"{nlu_fewshot.NAMES['linear']} 10.0x faster" in ratios
    assert f"{nlu_fewshot.NAMES['embedding']} 2.5x slower" in ratios
    assert "†" not in md
