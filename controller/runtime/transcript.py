"""The stateless test conversation behind `POST /api/v1/flows/{name}/test`: the engine alone, no
channel, no store, no HTTP or LLM calls (so it works for flows whose account secrets are missing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from controller.engine.conversation import Conversation, Turn
from controller.engine.messages import Contact
from controller.engine.services import HttpRequest, HttpResponse, LlmRequest, LlmResponse, Services
from controller.manifests.models import Flow

OFFLINE_HTTP = "not made: the test API makes no HTTP calls"
OFFLINE_LLM = "not made: the test API makes no LLM calls"


@dataclass(frozen=True)
class Said:
    """One input of a test conversation: typed text, a tapped option, the pending timeout, or a
    release of a handoff."""

    text: str | None = None
    button: str | None = None
    timeout: bool = False
    release: bool = False


def _no_http(request: HttpRequest) -> HttpResponse:
    return HttpResponse(None, error=OFFLINE_HTTP)


def _no_llm(request: LlmRequest) -> LlmResponse:
    return LlmResponse(None, error=OFFLINE_LLM)


def transcript(flow: Flow, revision: str, inputs: Sequence[Said], variables: Mapping[str, Any] | None = None,
               contact: Contact | None = None, resolve: Callable[[str], Flow | None] = lambda name: None) -> dict[str, Any]:
    """`{"flow", "revision", "steps": [...]}`, each step as `chatflow test -o json` prints it. A
    manual flow starts before the first input; a message flow starts with it."""
    conversation = Conversation(flow, services=Services(http=_no_http, llm=_no_llm), contact=contact,
                                variables=variables, resolve=resolve)
    turns: list[dict[str, Any]] = []
    if not flow.spec.trigger.is_message:
        turns.append(conversation.begin().to_json())
    for said in inputs:
        turn: Turn | None
        if said.timeout:
            turn = conversation.timeout()
            note = "nothing waits for a timeout"
        elif said.release:
            turn = conversation.release() if conversation.live else None
            note = "the conversation is not handed over"
        elif said.button is not None:
            turn, note = conversation.tap(said.button), ""
        else:
            turn, note = conversation.say(said.text or ""), ""
        if turn is None:
            turns.append(_unchanged(conversation, note))
        else:
            turns.append(turn.to_json())
    return {"flow": flow.name, "revision": revision, "steps": turns}


def _unchanged(conversation: Conversation, note: str) -> dict[str, Any]:
    session = conversation.session
    return {
        "say": None,
        "replies": [],
        "vars": dict(session.vars) if session is not None else {},
        "node": session.node if session is not None and session.is_waiting else None,
        "ended": bool(session is not None and session.is_final),
        "outcome": session.outcome if session is not None and session.is_final else None,
        "notes": [note],
    }
