"""`condition`: the first branch whose `when` is true wins; else `default`."""

from __future__ import annotations

from controller.manifests.components import Condition
from controller.manifests.expressions import ExpressionError

from ..run import Go, Move, Run
from .executor import Executor


def enter(node: Condition, node_id: str, run: Run) -> Move:
    for index, branch in enumerate(node.branches):
        try:
            taken = bool(run.evaluate(branch.when))
        except ExpressionError as exc:
            return run.fail(node_id, node, f"branches[{index}].when: {exc}")
        if taken:
            return Go(branch.next)
    if node.default is None:
        return run.fail(node_id, node, "no branch matched and the condition has no `default`")
    return Go(node.default)


EXECUTOR = Executor(enter)
