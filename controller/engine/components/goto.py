"""`goto` (Jump to Step): jump to `target` up to `max_jumps` times per conversation, then `next`."""

from __future__ import annotations

from controller.manifests.components import Goto

from ..run import Go, Move, Run
from .executor import Executor


def enter(node: Goto, node_id: str, run: Run) -> Move:
    taken = run.jumps.get(node_id, 0)
    if taken < node.max_jumps:
        run.jumps[node_id] = taken + 1
        return Go(node.target)
    return Go(node.next)


EXECUTOR = Executor(enter)
