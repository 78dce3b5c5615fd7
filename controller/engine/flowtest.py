"""The FlowTest runner: scripted steps through a Conversation, expectations checked with a diff.

HTTP and LLM calls are answered by the test's own `http:` and `llm:` steps, in order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping

from controller.manifests.catalog import Catalog
from controller.manifests.diagnostics import Diagnostic
from controller.manifests.models import Expectation, ExpectedReply, Flow, FlowTest, TestStep

from .components.http import shown_url
from .conversation import Conversation, Turn, reply_json
from .inputs import Inbound
from .messages import Contact
from .services import HttpRequest, HttpResponse, LlmRequest, LlmResponse, Services
from .session import Session

UNMOCKED = "no mocked answer"


@dataclass(frozen=True)
class Failure:
    step: int  # 1-based; 0 for the test as a whole
    message: str


@dataclass(frozen=True)
class Result:
    test: str
    flow: str
    failures: tuple[Failure, ...]
    turns: tuple[Turn | None, ...]  # one per step; None for a step that gave no input

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.test,
            "flow": self.flow,
            "ok": self.ok,
            "failures": [{"step": f.step, "message": f.message} for f in self.failures],
        }


@dataclass
class _Mocks:
    """The test's answers to HTTP and LLM calls, used in order; calls nobody answered are noted."""

    http: deque[tuple[int, HttpResponse]] = field(default_factory=deque)
    llm: deque[tuple[int, LlmResponse]] = field(default_factory=deque)
    unanswered: list[str] = field(default_factory=list)

    def answer_http(self, request: HttpRequest) -> HttpResponse:
        if not self.http:
            self.unanswered.append(f"HTTP call {request.method} {shown_url(request.url, request.query)}")
            return HttpResponse(None, error=UNMOCKED)
        return self.http.popleft()[1]

    def answer_llm(self, request: LlmRequest) -> LlmResponse:
        if not self.llm:
            self.unanswered.append("LLM call")
            return LlmResponse(None, error=UNMOCKED)
        return self.llm.popleft()[1]


def run(test: FlowTest, flows: Mapping[str, Flow]) -> Result:
    """Run one FlowTest against the flows it can reach (its own, and those start_flow names)."""
    spec = test.spec
    flow = flows.get(spec.flow)
    if flow is None:
        return Result(test.name, spec.flow, (Failure(0, f"flow `{spec.flow}` is not available (missing or invalid)"),), ())
    mocks = _Mocks()
    contact = Contact(
        address=spec.contact.id or spec.contact.phone or "test-contact", name=spec.contact.name, phone=spec.contact.phone
    )
    conversation = Conversation(
        flow,
        services=Services(http=mocks.answer_http, llm=mocks.answer_llm),
        contact=contact,
        variables=spec.variables,
        resolve=flows.get,
    )
    failures: list[Failure] = []
    turns: list[Turn | None] = []
    for number, step in enumerate(spec.steps, start=1):
        turn, problem = _act(conversation, step, number, mocks)
        turns.append(turn)
        if problem is not None:
            failures.append(Failure(number, f"{_describe(step)}: {problem}"))
            break
        for unanswered in mocks.unanswered:
            failures.append(Failure(number, f"{_describe(step)}: the flow made an {unanswered} that no step answers; "
                                            f"add a `{'http' if unanswered.startswith('HTTP') else 'llm'}:` step before this one"))
        mocks.unanswered.clear()
        failures.extend(Failure(number, f"{_describe(step)}: {m}") for m in check(step.expect, turn, conversation.session))
    else:
        for number, _ in mocks.http:
            failures.append(Failure(number, f"{_describe(spec.steps[number - 1])}: this mocked HTTP answer was never used"))
        for number, _ in mocks.llm:
            failures.append(Failure(number, f"{_describe(spec.steps[number - 1])}: this mocked LLM answer was never used"))
    return Result(test.name, spec.flow, tuple(failures), tuple(turns))


def _act(conversation: Conversation, step: TestStep, number: int, mocks: _Mocks) -> tuple[Turn | None, str | None]:
    if step.http is not None:
        mocks.http.append((number, HttpResponse(step.http.status, step.http.body)))
        return None, None
    if step.llm is not None:
        mocks.llm.append((number, LlmResponse(step.llm)))
        return None, None
    if step.say is not None:
        return conversation.send(Inbound(text=step.say)), None
    if step.button is not None:
        return conversation.tap(step.button), None
    if step.timeout:
        turn = conversation.timeout()
        if turn is None:
            state = "has ended" if conversation.session is not None else "has not started"
            return None, f"nothing waits for a timeout: the conversation {state}"
        return turn, None
    if conversation.session is None:
        return conversation.begin(), None  # a step with no input starts the flow (manual triggers)
    return None, None


def _describe(step: TestStep) -> str:
    if step.say is not None:
        return f"say {step.say!r}"
    if step.button is not None:
        return f"button {step.button!r}"
    if step.timeout:
        return "timeout"
    if step.http is not None:
        return f"http {step.http.status}"
    if step.llm is not None:
        return "llm"
    return "(no input)"


# ---- expectations --------------------------------------------------------------------------


def check(expect: Expectation, turn: Turn | None, session: Session | None) -> list[str]:
    """What differs from the expectation after a step, one readable message each."""
    problems: list[str] = []
    if expect.replies is not None:
        got = [reply_json(r) for r in turn.replies] if turn is not None else []
        problem = _replies(expect.replies, got)
        if problem:
            problems.append(problem)
    if expect.vars is not None:
        actual = dict(session.vars) if session is not None else {}
        diffs = [_var(name, want, actual) for name, want in expect.vars.items()]
        shown = [d for d in diffs if d]
        if shown:
            problems.append("vars differ: " + "; ".join(shown))
    ended = session is not None and session.is_final
    waiting = session.node if session is not None and session.is_waiting else None
    if expect.node is not None and waiting != expect.node:
        problems.append(f"expected to wait at `{expect.node}`, but {_where(session)}")
    if expect.ended is not None and ended != expect.ended:
        problems.append(("expected the conversation to have ended, but " if expect.ended else "expected the conversation to go on, but ")
                        + _where(session))
    if expect.outcome is not None and (session is None or session.outcome != expect.outcome):
        problems.append(f"expected outcome {expect.outcome!r}, but {_where(session)}")
    return problems


def _where(session: Session | None) -> str:
    if session is None:
        return "it has not started"
    if session.is_final:
        outcome = f" (outcome {session.outcome!r})" if session.outcome is not None else ""
        return f"it has {session.status}{outcome} at `{session.node}`"
    return f"it waits at `{session.node}`" if session.is_waiting else f"it is at `{session.node}`"


def _var(name: str, want: Any, actual: Mapping[str, Any]) -> str | None:
    present = name in actual and actual[name] is not None
    if want is None:
        return f"`{name}` expected unset, got {actual[name]!r}" if present else None
    if not present:
        return f"`{name}` expected {want!r}, but it is unset"
    if actual[name] != want or isinstance(actual[name], bool) != isinstance(want, bool):
        return f"`{name}` expected {want!r}, got {actual[name]!r}"
    return None


def _replies(expected: list[str | ExpectedReply], got: list[dict[str, Any]]) -> str | None:
    bad = next((i for i, (e, g) in enumerate(zip(expected, got)) if not _reply_matches(e, g)), None)
    if bad is None and len(expected) == len(got):
        return None
    lines = ["replies differ"]
    if bad is not None:
        lines.append(f"  reply {bad + 1}: expected {_show_expected(expected[bad])}")
        lines.append(f"  {' ' * len(str(bad + 1))}        got      {_show(got[bad])}")
    else:
        lines.append(f"  expected {len(expected)} repl{'y' if len(expected) == 1 else 'ies'}, got {len(got)}")
    lines.append("  expected:" + ("".join(f"\n    - {_show_expected(e)}" for e in expected) or " (none)"))
    lines.append("  got:" + ("".join(f"\n    - {_show(g)}" for g in got) or " (none)"))
    return "\n".join(lines)


def _reply_matches(expected: str | ExpectedReply, got: Mapping[str, Any]) -> bool:
    if isinstance(expected, str):
        return got.get("text") == expected
    actual = {"text": got.get("text"), "buttons": got.get("buttons", []), "list": got.get("list", []), "media": got.get("media")}
    return all(getattr(expected, name) is None or value == getattr(expected, name) for name, value in actual.items())


def _show_expected(expected: str | ExpectedReply) -> str:
    if isinstance(expected, str):
        return repr(expected)
    return _show({k: v for k, v in expected.model_dump().items() if v is not None})


def _show(reply: Mapping[str, Any]) -> str:
    parts = [repr(reply["text"])] if "text" in reply else []
    if "buttons" in reply:
        parts.append("buttons [" + " | ".join(reply["buttons"]) + "]")
    if "list" in reply:
        parts.append("list [" + " | ".join(reply["list"]) + "]")
    if "media" in reply:
        parts.append(f"media {reply['media']}")
    if "to" in reply:
        parts.append(f"to {reply['to']} via {reply['account']}")
    return " ".join(parts) or "(empty)"


# ---- as diagnostics (chatflow validate) ----------------------------------------------------


def run_all(catalog: Catalog) -> list[tuple[Any, Result]]:
    """Every FlowTest of a loaded root whose flow is valid, with its result, in name order."""
    flows = catalog.flows
    out = []
    for document in sorted((d for d in catalog.documents if isinstance(d.manifest, FlowTest)), key=lambda d: d.name):
        if document.manifest.spec.flow in flows:  # type: ignore[union-attr]
            out.append((document, run(document.manifest, flows)))  # type: ignore[arg-type]
    return out


def diagnostics(catalog: Catalog) -> list[Diagnostic]:
    """CF160 for each failure of each FlowTest, placed at the failing step. A test of an invalid
    flow is not run: the flow's own errors already fail validation."""
    out: list[Diagnostic] = []
    for document, result in run_all(catalog):
        for failure in result.failures:
            loc: tuple[str | int, ...] = ("spec", "steps", failure.step - 1) if failure.step else ("spec", "flow")
            where = f"step {failure.step}" if failure.step else "start"
            out.append(document.diagnostic("CF160", f"FlowTest `{result.test}` failed at {where}: {failure.message}", loc))
    return out
