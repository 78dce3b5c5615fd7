"""The real LLM service against a fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json

from controller.engine import LlmRequest
from controller.engine.llm import LlmClient, LlmSettings

from .fakeserver import Answer


def completion(text: str) -> dict:
    return {"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}


def test_posts_chat_completions_with_model_system_and_prompt(server, monkeypatch):
    server.routes["/v1/chat/completions"] = Answer(200, completion("  Hello Ana  "))
    monkeypatch.setenv("CHATFLOW_LLM_API_KEY", "sk-test")
    client = LlmClient(LlmSettings(server.url + "/v1/", "qwen-plus"))
    response = client(LlmRequest("Say hello to Ana", "Be brief", 5))
    client.close()
    assert response.ok and response.text == "Hello Ana"
    [seen] = server.seen
    assert seen.method == "POST" and seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer sk-test"
    assert json.loads(seen.body) == {"model": "qwen-plus", "messages": [
        {"role": "system", "content": "Be brief"}, {"role": "user", "content": "Say hello to Ana"}]}


def test_settings_come_from_the_environment(server, monkeypatch):
    server.routes["/chat/completions"] = Answer(200, completion("ok"))
    monkeypatch.setenv("CHATFLOW_LLM_BASE_URL", server.url)
    monkeypatch.setenv("CHATFLOW_LLM_MODEL", "m")
    monkeypatch.delenv("CHATFLOW_LLM_API_KEY", raising=False)
    response = LlmClient()(LlmRequest("hi"))
    assert response.text == "ok"
    assert "authorization" not in server.seen[0].headers  # a local endpoint needs no key
    assert [m["role"] for m in json.loads(server.seen[0].body)["messages"]] == ["user"]


def test_an_error_status_carries_the_provider_message(server):
    server.routes["/chat/completions"] = Answer(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
    response = LlmClient(LlmSettings(server.url, "m"))(LlmRequest("hi"))
    assert not response.ok and response.error == "status 401: Incorrect API key provided"


def test_a_slow_endpoint_times_out(server):
    server.routes["/chat/completions"] = Answer(200, completion("late"), delay=1.0)
    response = LlmClient(LlmSettings(server.url, "m"))(LlmRequest("hi", timeout=0.2))
    assert response.error == "timed out after 0.2s"


def test_an_answer_without_content_is_an_error(server):
    server.routes["/chat/completions"] = Answer(200, {"choices": []})
    response = LlmClient(LlmSettings(server.url, "m"))(LlmRequest("hi"))
    assert response.error == "the answer has no choices[0].message.content"


def test_missing_configuration_is_named():
    assert LlmClient(LlmSettings(None, "m"))(LlmRequest("hi")).error == "CHATFLOW_LLM_BASE_URL is not set"
    assert LlmClient(LlmSettings("http://127.0.0.1:9", None))(LlmRequest("hi")).error == "CHATFLOW_LLM_MODEL is not set"
    assert LlmSettings.from_env({}) == LlmSettings(None, None)
