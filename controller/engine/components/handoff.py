"""`handoff`: a person takes over; the bot is silent until a release or the `timeout`, then `next`."""

from __future__ import annotations

from controller.manifests.components import Handoff, duration_seconds
from controller.manifests.expressions import ExpressionError

from .. import events as ev
from ..inputs import Inbound
from ..run import Go, Move, Run, Stay, Wait
from ..session import Deadline
from .executor import Executor


def enter(node: Handoff, node_id: str, run: Run) -> Move:
    try:
        note = run.render(node.note) if node.note is not None else None
    except ExpressionError as exc:
        return run.fail(node_id, node, f"note: {exc}")
    run.emit(ev.HANDOFF_STARTED, node_id, note=note)
    deadline = run.after(duration_seconds(node.timeout), "handoff") if node.timeout is not None else None
    return Wait("handed_over", deadline)


def on_message(node: Handoff, node_id: str, run: Run, inbound: Inbound) -> Move:
    return Stay()


def on_timer(node: Handoff, node_id: str, run: Run, deadline: Deadline) -> Move:
    run.emit(ev.HANDOFF_RELEASED, node_id, by="timeout")
    return Go(node.next)


def on_release(node: Handoff, node_id: str, run: Run) -> Move:
    run.emit(ev.HANDOFF_RELEASED, node_id, by="release")
    return Go(node.next)


EXECUTOR = Executor(enter, on_message=on_message, on_timer=on_timer, on_release=on_release)
