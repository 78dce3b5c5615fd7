"""`question`: ask, wait for a valid answer, save it.

An invalid answer re-prompts up to `retries` times, then goes to `on_invalid` (default: end);
the `timeout` branch is taken when no answer comes in time.
"""

from __future__ import annotations

from controller.manifests.components import Question, duration_seconds
from controller.manifests.expressions import ExpressionError

from .. import events as ev
from ..answers import read
from ..content import options, render_message
from ..inputs import Inbound
from ..run import Finish, Go, Move, Run, Wait
from ..session import Deadline, Reply
from .executor import Executor


def enter(node: Question, node_id: str, run: Run) -> Move:
    run.retries = 0
    return _ask(node, node_id, run, None)


def _ask(node: Question, node_id: str, run: Run, text: str | None) -> Move:
    try:
        message = render_message(node, run, text)
    except ExpressionError as exc:
        return run.fail(node_id, node, str(exc))
    run.send(node_id, message)
    deadline = run.after(duration_seconds(node.timeout.after), "question") if node.timeout is not None else None
    return Wait("waiting", deadline)


def on_message(node: Question, node_id: str, run: Run, inbound: Inbound) -> Move:
    try:
        choices = options(node, run)
    except ExpressionError as exc:
        return run.fail(node_id, node, str(exc))
    answer = read(node.expected, inbound, choices)
    if answer is not None:
        run.retries = 0
        run.reply = Reply(answer.text, answer.id)
        if node.save_as:
            run.set_var(node_id, node.save_as, answer.value)
        return Go(node.next)
    if run.retries < node.retries:
        run.retries += 1
        run.emit(ev.ANSWER_INVALID, node_id, expect=node.expected, retry=run.retries, retries=node.retries)
        return _ask(node, node_id, run, node.invalid_text)
    run.retries = 0
    run.emit(ev.ANSWER_INVALID, node_id, expect=node.expected, retry=None, retries=node.retries)
    return Go(node.on_invalid) if node.on_invalid else Finish("invalid")


def on_timer(node: Question, node_id: str, run: Run, deadline: Deadline) -> Move:
    run.retries = 0
    if node.timeout is None:  # cannot happen with an immutable revision; never strand a session
        return Finish("expired", "expired")
    return Go(node.timeout.next)


EXECUTOR = Executor(enter, on_message=on_message, on_timer=on_timer)
