"""The component executors, one module per node `type`, registered in EXECUTORS."""

from __future__ import annotations

from . import condition, delay, end, goto, handoff, http, llm, message, question, send, set, split, start, start_flow
from .executor import Executor

EXECUTORS: dict[str, Executor] = {
    "start": start.EXECUTOR,
    "end": end.EXECUTOR,
    "message": message.EXECUTOR,
    "question": question.EXECUTOR,
    "condition": condition.EXECUTOR,
    "set": set.EXECUTOR,
    "http": http.EXECUTOR,
    "delay": delay.EXECUTOR,
    "split": split.EXECUTOR,
    "handoff": handoff.EXECUTOR,
    "goto": goto.EXECUTOR,
    "start_flow": start_flow.EXECUTOR,
    "send": send.EXECUTOR,
    "llm": llm.EXECUTOR,
}
