"""`message`: send text, media or a template (with buttons or a list), then go on at once."""

from __future__ import annotations

from controller.manifests.components import Message
from controller.manifests.expressions import ExpressionError

from ..content import render_message
from ..run import Go, Move, Run
from .executor import Executor


def enter(node: Message, node_id: str, run: Run) -> Move:
    try:
        message = render_message(node, run)
    except ExpressionError as exc:
        return run.fail(node_id, node, str(exc))
    run.send(node_id, message)
    return Go(node.next)


EXECUTOR = Executor(enter)
