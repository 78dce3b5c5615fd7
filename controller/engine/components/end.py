"""`end`: the conversation ends, with the node's `outcome` label."""

from __future__ import annotations

from controller.manifests.components import End

from ..run import Finish, Move, Run
from .executor import Executor


def enter(node: End, node_id: str, run: Run) -> Move:
    return Finish(node.outcome)


EXECUTOR = Executor(enter)
