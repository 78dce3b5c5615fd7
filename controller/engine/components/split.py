"""`split`: a weighted branch, the same one every time for the same conversation and node."""

from __future__ import annotations

import hashlib

from controller.manifests.components import Split

from ..run import Go, Move, Run
from ..session import ConversationKey
from .executor import Executor


def bucket(key: ConversationKey, flow: str, node_id: str, total: int) -> int:
    """A number in [0, total) from a hash of the conversation and the node: stable, not random."""
    seed = "\x1f".join((key.channel, key.account, key.address, flow, node_id)).encode("utf-8")
    return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") % total


def pick(node: Split, key: ConversationKey, flow: str, node_id: str) -> int:
    """The index of the branch this conversation takes."""
    point = bucket(key, flow, node_id, sum(b.weight for b in node.branches))
    for index, branch in enumerate(node.branches):
        if point < branch.weight:
            return index
        point -= branch.weight
    raise AssertionError("weights sum to the total")  # pragma: no cover


def enter(node: Split, node_id: str, run: Run) -> Move:
    return Go(node.branches[pick(node, run.session.key, run.flow.name, node_id)].next)


EXECUTOR = Executor(enter)
