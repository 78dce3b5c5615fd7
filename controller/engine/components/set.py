"""`set`: evaluate every value first, then assign them all (a failing one assigns none)."""

from __future__ import annotations

from typing import Any

from controller.manifests.components import Set
from controller.manifests.expressions import ExpressionError

from ..run import Go, Move, Run
from .executor import Executor


def enter(node: Set, node_id: str, run: Run) -> Move:
    values: dict[str, Any] = {}
    for name, expression in node.values.items():
        try:
            values[name] = run.evaluate(expression)
        except ExpressionError as exc:
            return run.fail(node_id, node, f"values.{name}: {exc}")
    for name, value in values.items():
        run.set_var(node_id, name, value)
    return Go(node.next)


EXECUTOR = Executor(enter)
