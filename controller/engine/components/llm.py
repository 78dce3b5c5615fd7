"""`llm`: a templated prompt to the injected LLM service; the answer goes to `save_as`.

Then `next`; an error or timeout goes to `on_failure` (else the conversation ends).
"""

from __future__ import annotations

from controller.manifests.components import Llm, duration_seconds
from controller.manifests.expressions import ExpressionError

from .. import events as ev
from ..run import Go, Move, Run
from ..services import LlmRequest
from .executor import Executor


def enter(node: Llm, node_id: str, run: Run) -> Move:
    try:
        req = LlmRequest(
            prompt=run.render(node.prompt),
            system=run.render(node.system) if node.system is not None else None,
            timeout=float(duration_seconds(node.timeout)),
        )
    except ExpressionError as exc:
        return run.fail(node_id, node, str(exc))
    response = run.services.llm(req)
    run.emit(ev.LLM_CALL, node_id, ok=response.ok, error=response.error, elapsed_ms=response.elapsed_ms)
    if not response.ok:
        return run.fail(node_id, node, f"LLM call failed: {response.error or 'no answer'}")
    if node.save_as:
        run.set_var(node_id, node.save_as, response.text)
    return Go(node.next)


EXECUTOR = Executor(enter)
