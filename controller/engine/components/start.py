"""`start`: where every conversation begins; goes straight to `next`."""

from __future__ import annotations

from controller.manifests.components import Start

from ..run import Go, Move, Run
from .executor import Executor


def enter(node: Start, node_id: str, run: Run) -> Move:
    return Go(node.next)


EXECUTOR = Executor(enter)
