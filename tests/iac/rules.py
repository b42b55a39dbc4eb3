"""CloudFormation ``Rules`` evaluated offline: the rule-specific intrinsic functions, on a parameter set."""

from __future__ import annotations

from typing import Any


def evaluate(expr: Any, params: dict[str, Any]) -> Any:
    """The rule-specific intrinsic functions CloudFormation documents (the subset a template may use)."""
    if isinstance(expr, dict) and len(expr) == 1:
        ((fn, arg),) = expr.items()
        if fn == "Ref":
            return params[arg]
        if fn == "Fn::Equals":
            return evaluate(arg[0], params) == evaluate(arg[1], params)
        if fn == "Fn::Not":
            return not evaluate(arg[0], params)
        if fn == "Fn::And":
            return all(evaluate(a, params) for a in arg)
        if fn == "Fn::Or":
            return any(evaluate(a, params) for a in arg)
        if fn == "Fn::Contains":
            return evaluate(arg[1], params) in evaluate(arg[0], params)
        if fn == "Fn::EachMemberIn":
            allowed = evaluate(arg[1], params)
            return all(member in allowed for member in evaluate(arg[0], params))
        if fn == "Fn::EachMemberEquals":
            return all(member == evaluate(arg[1], params) for member in evaluate(arg[0], params))
        raise AssertionError(f"a rule function this evaluator does not know: {fn}")
    if isinstance(expr, list):
        return [evaluate(e, params) for e in expr]
    return expr
