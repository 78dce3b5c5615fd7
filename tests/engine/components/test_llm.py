"""`llm`: prompt through the injected service; save_as; on_failure."""

from __future__ import annotations

from controller.engine import LlmRequest, LlmResponse, Services

from ..helpers import Chat, make_flow, of_type, texts


def flow(**llm):
    return make_flow({
        "start": {"type": "start", "next": "ask"},
        "ask": {"type": "llm", "prompt": "Summarise: {{ message.text }}", "system": "You are {{ flow.name }}", "save_as": "summary",
                "timeout": "20s", "next": "tell", **llm},
        "tell": {"type": "message", "text": "{{ vars.summary }}", "next": "done"},
        "oops": {"type": "message", "text": "no summary", "next": "done"},
        "done": {"type": "end"},
    })


def test_renders_prompt_and_system_and_saves_the_answer():
    seen: list[LlmRequest] = []

    def llm(request: LlmRequest) -> LlmResponse:
        seen.append(request)
        return LlmResponse("A short summary")

    step = Chat(flow(), Services(llm=llm)).start("a long story")
    assert seen == [LlmRequest("Summarise: a long story", "You are demo", 20.0)]
    assert texts(step) == ["A short summary"] and step.session.vars["summary"] == "A short summary"
    assert of_type(step, "llm.call")[0].fields["ok"] is True


def test_a_failure_takes_on_failure():
    step = Chat(flow(on_failure="oops"), Services(llm=lambda r: LlmResponse(None, "timed out after 20s"))).start()
    assert texts(step) == ["no summary"] and "summary" not in step.session.vars


def test_with_no_llm_configured_the_default_services_fail_cleanly():
    step = Chat(flow()).start()
    assert step.session.outcome == "failed"
    assert "no LLM is available" in of_type(step, "error")[0].fields["message"]
