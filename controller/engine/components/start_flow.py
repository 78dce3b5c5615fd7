"""`start_flow`: this flow ends and asks the host to start another for the same conversation.

`variables` become the other flow's trigger inputs.
"""

from __future__ import annotations

from typing import Any

from controller.manifests.components import StartFlow
from controller.manifests.expressions import ExpressionError

from ..run import Finish, Move, Run
from ..variables import jsonable
from .executor import Executor


def enter(node: StartFlow, node_id: str, run: Run) -> Move:
    values: dict[str, Any] = {}
    for name, expression in node.variables.items():
        try:
            values[name] = jsonable(run.evaluate(expression))
        except ExpressionError as exc:
            return run.fail(node_id, node, f"variables.{name}: {exc}")
    run.start_flow(node_id, node.flow, values)
    return Finish("start_flow")


EXECUTOR = Executor(enter)
