"""The part of CloudWatch's metric language the template uses, evaluated on one period's data points.

Dashboards and alarms are JSON and YAML that no code runs before a deploy: this module reads their metric
references (metric arrays with the ``"..."``/``"."`` shorthand, ``MetricStat`` blocks, ``SEARCH`` expressions) and
evaluates alarm expressions (``+ - * /``, ``FILL(m, v)``, ``MAX([a, b])``, ``IF``-free arithmetic) the way CloudWatch
does for one period: a missing data point makes every sum it appears in missing, which is what ``FILL`` is for.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: (namespace, metric name, frozenset of (dimension, value)).
Series = tuple[str, str, frozenset[tuple[str, str]]]

SEARCH = re.compile(r"SEARCH\(\s*'\{(?P<schema>[^}]*)\}\s*MetricName=\"(?P<metric>[^\"]+)\"'")


@dataclass(frozen=True)
class SearchRef:
    """``SEARCH('{Namespace,dim1,dim2} MetricName="X"', ...)``: every series with exactly those dimension names."""

    namespace: str
    metric: str
    dimensions: frozenset[str]

    def matches(self, series: Series) -> bool:
        namespace, metric, dims = series
        return namespace == self.namespace and metric == self.metric and {d for d, _ in dims} == self.dimensions


def widget_metrics(widget: Mapping[str, Any]) -> tuple[list[Series], list[SearchRef]]:
    """The series and searches one dashboard widget reads."""
    series: list[Series] = []
    searches: list[SearchRef] = []
    previous: list[Any] = []
    for row in widget.get("properties", {}).get("metrics", []):
        parts = [p for p in row if not isinstance(p, dict)]
        options = next((p for p in row if isinstance(p, dict)), {})
        if "expression" in options:
            searches.extend(search_refs(str(options["expression"])))
            continue
        if parts and parts[0] == "...":
            parts = previous[: len(previous) - len(parts) + 1] + parts[1:]
        parts = [previous[i] if p == "." else p for i, p in enumerate(parts)]
        previous = parts
        namespace, metric, *dims = parts
        series.append((namespace, metric, frozenset(zip(dims[::2], dims[1::2], strict=True))))
    return series, searches


def search_refs(expression: str) -> list[SearchRef]:
    refs = []
    for found in SEARCH.finditer(expression):
        namespace, *dims = [p.strip() for p in found["schema"].split(",")]
        refs.append(SearchRef(namespace, found["metric"], frozenset(dims)))
    return refs


def metric_stat_series(metric: Mapping[str, Any], resolve: Callable[[Any], str]) -> Series:
    dims = frozenset((d["Name"], resolve(d["Value"])) for d in metric.get("Dimensions", []))
    return (metric["Namespace"], metric["MetricName"], dims)


def alarm_inputs(props: Mapping[str, Any], resolve: Callable[[Any], str]) -> dict[str, tuple[Series, str]]:
    """Alarm inputs by id (``m`` for a single-metric alarm): (series, statistic)."""
    if "MetricName" in props:
        stat = props.get("Statistic") or props["ExtendedStatistic"]
        return {"m": (metric_stat_series(props, resolve), stat)}
    return {
        q["Id"]: (metric_stat_series(q["MetricStat"]["Metric"], resolve), q["MetricStat"]["Stat"])
        for q in props["Metrics"]
        if "MetricStat" in q
    }


def alarm_expression(props: Mapping[str, Any]) -> str:
    if "MetricName" in props:
        return "m"
    (returned,) = [q for q in props["Metrics"] if q.get("ReturnData", True)]
    return str(returned.get("Expression") or returned["Id"])


def statistic(values: list[float], stat: str) -> float | None:
    """One period's statistic over raw data points (None: no data point in the period)."""
    if not values:
        return None
    if stat == "Sum":
        return sum(values)
    if stat == "Maximum":
        return max(values)
    if stat == "Average":
        return sum(values) / len(values)
    if stat.startswith("p"):
        ordered = sorted(values)
        rank = math.ceil(float(stat[1:]) / 100 * len(ordered)) - 1
        return ordered[max(rank, 0)]
    raise ValueError(f"statistic {stat} is not supported here")


_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def evaluate(expression: str, values: Mapping[str, float | None]) -> float | None:
    """One period of an alarm expression; None propagates like CloudWatch's missing data."""

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.List):
            return [walk(e) for e in node.elts]
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if left is None or right is None:
                return None
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [walk(a) for a in node.args]
            if node.func.id == "FILL":
                return args[1] if args[0] is None else args[0]
            if node.func.id == "MAX":
                present = [v for v in args[0] if v is not None]
                return max(present) if present else None
        raise ValueError(f"unsupported metric math: {ast.dump(node)}")

    return walk(ast.parse(expression, mode="eval"))  # type: ignore[no-any-return]


def fires(props: Mapping[str, Any], value: float | None, threshold: float) -> bool:
    if value is None:
        return props.get("TreatMissingData") == "breaching"
    compare: dict[str, Callable[[float, float], bool]] = {
        "GreaterThanThreshold": operator.gt,
        "GreaterThanOrEqualToThreshold": operator.ge,
        "LessThanThreshold": operator.lt,
        "LessThanOrEqualToThreshold": operator.le,
    }
    return compare[props["ComparisonOperator"]](value, threshold)


def emitted_series(documents: Iterable[Mapping[str, Any]]) -> dict[Series, list[float]]:
    """Every (namespace, metric, dimension set) the EMF documents publish, with its data points."""
    found: dict[Series, list[float]] = {}
    for doc in documents:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dims = frozenset((d, str(doc[d])) for d in dimension_set)
                for metric in directive["Metrics"]:
                    value = doc[metric["Name"]]
                    points = value if isinstance(value, list) else [value]
                    found.setdefault((directive["Namespace"], metric["Name"], dims), []).extend(map(float, points))
    return found
