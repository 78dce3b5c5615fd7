"""`delay`: wait `duration` as a stored deadline (it survives restarts), then `next`.

Messages that arrive meanwhile are recorded and change nothing.
"""

from __future__ import annotations

from controller.manifests.components import Delay, duration_seconds

from ..inputs import Inbound
from ..run import Go, Move, Run, Stay, Wait
from ..session import Deadline
from .executor import Executor


def enter(node: Delay, node_id: str, run: Run) -> Move:
    return Wait("waiting", run.after(duration_seconds(node.duration), "delay"))


def on_message(node: Delay, node_id: str, run: Run, inbound: Inbound) -> Move:
    return Stay()


def on_timer(node: Delay, node_id: str, run: Run, deadline: Deadline) -> Move:
    return Go(node.next)


EXECUTOR = Executor(enter, on_message=on_message, on_timer=on_timer)
