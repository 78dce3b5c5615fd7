"""The real LLM service a host injects: an OpenAI-compatible chat completions client.

Configured by CHATFLOW_LLM_BASE_URL, CHATFLOW_LLM_MODEL and CHATFLOW_LLM_API_KEY.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from controller.manifests.components import SecretRef
from controller.manifests.secrets import available

from .http import HttpClient
from .services import HttpRequest, LlmRequest, LlmResponse, Secret

API_KEY = SecretRef(env="CHATFLOW_LLM_API_KEY")
MAX_ERROR_TEXT = 200


@dataclass(frozen=True)
class LlmSettings:
    base_url: str | None
    model: str | None
    api_key: SecretRef = API_KEY  # resolved at each call, never kept

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "LlmSettings":
        env = os.environ if environ is None else environ
        return cls(env.get("CHATFLOW_LLM_BASE_URL") or None, env.get("CHATFLOW_LLM_MODEL") or None)


class LlmClient:
    """Callable as `Services.llm`. Settings are read from the environment when not given; the
    request goes through HttpClient, so the key is resolved per call and the answer is bounded."""

    def __init__(self, settings: LlmSettings | None = None, http: HttpClient | None = None) -> None:
        self._settings = settings
        self._http = http or HttpClient()

    def close(self) -> None:
        self._http.close()

    def __call__(self, request: LlmRequest) -> LlmResponse:
        settings = self._settings or LlmSettings.from_env()
        if settings.base_url is None:
            return LlmResponse(None, error="CHATFLOW_LLM_BASE_URL is not set")
        if settings.model is None:
            return LlmResponse(None, error="CHATFLOW_LLM_MODEL is not set")
        # Local endpoints (Ollama, vLLM) take no key, so a missing one sends no Authorization.
        headers = (("Authorization", Secret(settings.api_key, "Bearer ")),) if available(settings.api_key) else ()
        messages = ([{"role": "system", "content": request.system}] if request.system else []) + [
            {"role": "user", "content": request.prompt}
        ]
        response = self._http(
            HttpRequest(
                "POST",
                settings.base_url.rstrip("/") + "/chat/completions",
                headers=headers,
                body={"model": settings.model, "messages": messages},
                timeout=request.timeout,
            )
        )
        if response.error is not None and response.status is None:
            return LlmResponse(None, error=response.error, elapsed_ms=response.elapsed_ms)
        if not response.ok:
            detail = response.error or _error_text(response.body)
            return LlmResponse(None, error=f"status {response.status}: {detail}", elapsed_ms=response.elapsed_ms)
        text = _content(response.body)
        if text is None:
            return LlmResponse(None, error="the answer has no choices[0].message.content", elapsed_ms=response.elapsed_ms)
        return LlmResponse(text.strip(), elapsed_ms=response.elapsed_ms)


def _content(data: Any) -> str | None:
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def _error_text(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and isinstance(body["error"].get("message"), str):
        return body["error"]["message"][:MAX_ERROR_TEXT]
    return (body if isinstance(body, str) else "").strip()[:MAX_ERROR_TEXT] or "no readable error"
