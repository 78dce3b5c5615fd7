"""`send` (From/To): a message to a templated recipient through a named account, then `next`."""

from __future__ import annotations

from controller.manifests.components import Send
from controller.manifests.expressions import ExpressionError

from ..content import render_message
from ..run import Go, Move, Run
from .executor import Executor


def enter(node: Send, node_id: str, run: Run) -> Move:
    try:
        to = run.render(node.to).strip()
        message = render_message(node, run)
    except ExpressionError as exc:
        return run.fail(node_id, node, str(exc))
    if not to:
        return run.fail(node_id, node, f"`to` rendered empty (from {node.to!r}); nothing to send to")
    run.send(node_id, message, account=node.account, to=to)
    return Go(node.next)


EXECUTOR = Executor(enter)
