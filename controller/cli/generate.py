"""`chatflow generate`'s side of the conversation with an LLM: prompts, the HTTP client, answer extraction.

Any OpenAI-compatible chat completions endpoint works (OpenAI, Qwen's DashScope compatible mode,
vLLM, Ollama...): CHATFLOW_LLM_BASE_URL is the part before `/chat/completions`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import httpx

from controller.manifests import schema

MAX_ANSWER_CHARS = 256 * 1024
MAX_ERROR_BODY = 4096
DEFAULT_TIMEOUT = 120.0
ENV = ("CHATFLOW_LLM_BASE_URL", "CHATFLOW_LLM_MODEL", "CHATFLOW_LLM_API_KEY")
EXAMPLES = {
    "CHATFLOW_LLM_BASE_URL": "e.g. https://dashscope-intl.aliyuncs.com/compatible-mode/v1 (Qwen) or https://api.openai.com/v1",
    "CHATFLOW_LLM_MODEL": "e.g. qwen-plus or gpt-4o-mini",
    "CHATFLOW_LLM_API_KEY": "the endpoint's API key",
}

Message = dict[str, str]


class LlmError(Exception):
    """The endpoint could not give an answer; the message says why and what to check, never the key."""


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str
    timeout: float = DEFAULT_TIMEOUT

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Endpoint":
        env = os.environ if env is None else env
        missing = [name for name in ENV if not env.get(name, "").strip()]
        if missing:
            lines = "\n".join(f"  {name:<22} {EXAMPLES[name]}" for name in missing)
            raise LlmError(f"chatflow generate needs an OpenAI-compatible chat completions endpoint; set:\n{lines}")
        base = env["CHATFLOW_LLM_BASE_URL"].strip()
        if not re.match(r"^https?://", base):
            raise LlmError(f"CHATFLOW_LLM_BASE_URL must start with http:// or https:// (it is {base!r})")
        raw_timeout = env.get("CHATFLOW_LLM_TIMEOUT", "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT
        except ValueError:
            raise LlmError(f"CHATFLOW_LLM_TIMEOUT must be a number of seconds (it is {raw_timeout!r})") from None
        return cls(base, env["CHATFLOW_LLM_MODEL"].strip(), env["CHATFLOW_LLM_API_KEY"].strip(), timeout)


def complete(endpoint: Endpoint, messages: list[Message], stream: bool,
             on_token: Callable[[str], None] = lambda _: None) -> str:
    """The assistant's answer to `messages`; tokens are passed to `on_token` as they arrive when streaming."""
    body: dict[str, Any] = {"model": endpoint.model, "messages": messages, "temperature": 0.2, "stream": stream}
    headers = {"Authorization": f"Bearer {endpoint.api_key}", "Accept": "text/event-stream" if stream else "application/json"}
    timeout = httpx.Timeout(endpoint.timeout, connect=min(endpoint.timeout, 10.0))
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            with client.stream("POST", endpoint.url, json=body, headers=headers) as response:
                if response.status_code >= 400:
                    raise LlmError(_http_error(endpoint, response))
                if stream and response.headers.get("content-type", "").startswith("text/event-stream"):
                    return _collect(_sse_tokens(response), on_token)
                text = _bounded_body(response)
                answer = _message_content(text)
                on_token(answer)
                return answer
    except httpx.TimeoutException:
        raise LlmError(f"no answer from {endpoint.url} within {endpoint.timeout:g}s "
                       "(set CHATFLOW_LLM_TIMEOUT to wait longer)") from None
    except httpx.ConnectError as exc:
        raise LlmError(f"cannot connect to {endpoint.url}: {_reason(exc)} (check CHATFLOW_LLM_BASE_URL)") from None
    except httpx.HTTPError as exc:
        raise LlmError(f"the request to {endpoint.url} failed: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _collect(tokens: Iterator[str], on_token: Callable[[str], None]) -> str:
    parts: list[str] = []
    size = 0
    for token in tokens:
        size += len(token)
        if size > MAX_ANSWER_CHARS:
            raise LlmError(f"the answer is longer than {MAX_ANSWER_CHARS} characters; stopped reading")
        parts.append(token)
        on_token(token)
    return "".join(parts)


def _sse_tokens(response: httpx.Response) -> Iterator[str]:
    """Content deltas of an OpenAI-style server-sent event stream."""
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            raise LlmError(f"the endpoint streamed something that is not JSON: {data[:120]!r}") from None
        if isinstance(event, dict) and "error" in event:
            raise LlmError(f"the endpoint reported an error while streaming: {_error_text(event)}")
        for choice in event.get("choices") or [] if isinstance(event, dict) else []:
            content = (choice.get("delta") or {}).get("content")
            if isinstance(content, str) and content:
                yield content


def _bounded_body(response: httpx.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_CHARS * 4:
            raise LlmError("the endpoint's answer is too large; stopped reading")
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _message_content(text: str) -> str:
    try:
        data = json.loads(text)
        content = data["choices"][0]["message"]["content"]
    except (json.JSONDecodeError, KeyError, IndexError, TypeError):
        raise LlmError(f"the endpoint's answer is not a chat completion: {text[:200]!r}") from None
    if not isinstance(content, str):
        raise LlmError("the endpoint's answer has no text content")
    return content


def _error_text(data: Any) -> str:
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return json.dumps(data)[:200]


def _http_error(endpoint: Endpoint, response: httpx.Response) -> str:
    raw = b""
    for chunk in response.iter_bytes():
        raw += chunk
        if len(raw) > MAX_ERROR_BODY:
            break
    text = raw[:MAX_ERROR_BODY].decode("utf-8", errors="replace")
    try:
        detail = _error_text(json.loads(text))
    except json.JSONDecodeError:
        detail = text.strip()[:200] or response.reason_phrase
    status = response.status_code
    hint = {
        401: "check CHATFLOW_LLM_API_KEY",
        403: "check CHATFLOW_LLM_API_KEY and the model's access",
        404: "check CHATFLOW_LLM_BASE_URL (it is the part before /chat/completions, often ending in /v1) and CHATFLOW_LLM_MODEL",
        429: "the endpoint is rate limiting; try again later",
    }.get(status, "the endpoint failed; try again later" if status >= 500 else "check the CHATFLOW_LLM_* settings")
    return f"{endpoint.url} answered {status}: {detail} ({hint})"


# ---- prompts -------------------------------------------------------------------------------

GUIDE = """\
A chatflow manifest is YAML:

apiVersion: chatflow/v1
kind: Flow
metadata: {name: <dns-label>, displayName: <title>, remark: <one line>}
spec:
  state: unpublished
  trigger: {type: <manual|whatsapp|instagram|viber|messenger>}   # no account
  variables: {}            # only for manual-trigger inputs: {name: {type: string, default: ""}}
  nodes: {<node_id>: <component>, ...}

Node ids match ^[a-z][a-z0-9_]*$. Exactly one node has type start; at least one has type end.
Every next/default/on_failure/on_invalid/timeout.next/target names an existing node.
Durations are <int>s|m|h|d. Text fields are Jinja templates.

Components (type: fields -> ways out):
- start: next
- end: outcome? (a label)
- message: text | media {kind: image|video|audio|document, url, caption?} | template {name, language, params?};
  optional buttons: [title | {id, title}] or list {button, sections: [{title?, rows: [{id, title, description?}]}]} -> next
- question: text, buttons/list as message, expect: text|number|email|phone|choice|date, save_as: var,
  retries: 2, invalid_text?, timeout? {after, next} -> next, on_invalid (after the retries)
  A choice answer saves the tapped option's id.
- condition: branches: [{when: <expression>, next}] (first true wins), default -> branch next, default
- set: values: {var: <expression>} -> next
- http: method GET|POST|PUT|PATCH|DELETE, url, headers?, query?, body?, body_type: json|form, timeout: 10s,
  save? {var: <jmespath into the JSON response>} -> next (2xx), on_failure
- delay: duration -> next
- split: branches: [{weight: int, next}] (A/B split)
- handoff: note?, timeout? -> next (after a person releases it)
- goto: target (an earlier node), max_jumps, next (when the jumps are used up)
- start_flow: flow, variables? {var: <expression>}   (ends this flow)
- llm: prompt, system?, save_as?, timeout: 30s -> next, on_failure

Names in templates and expressions: contact.name, contact.phone, contact.id, message.text, message.type,
reply.text, reply.id, account.name, account.phone, vars.<name>, trigger.<input>, flow.name, channel.
Tests: `x is contains('a')`, `x is startswith('a')`, `x is blank`, `x is matches('re')`, `x is fullmatch('re')`,
`x is number`, `x is date`; filters: `x | number`, `x | date`; operators ==, !=, <, >, and, or, not.
Expressions are Jinja expressions without braces, e.g. when: "vars.choice == 'track'"; text uses {{ ... }}.

Rules: WhatsApp shows at most 3 buttons with titles of at most 20 characters, lists at most 10 rows (row titles
at most 24 characters). A loop must pass a question, delay or handoff, or use goto with max_jumps.
Secrets are never literal: headers: {Authorization: {env: API_TOKEN}}. Read only variables an earlier node sets
(save_as, set, http save) or declared ones.

Example nodes:
  start: {type: start, next: menu}
  menu:
    type: question
    text: "Hi {{ contact.name }}! What do you need?"
    buttons: [{id: track, title: Track my order}, {id: agent, title: Talk to a person}]
    save_as: choice
    timeout: {after: 1h, next: bye}
    next: route
  route:
    type: condition
    branches: [{when: "vars.choice == 'track'", next: ask_order}]
    default: agent
  ask_order: {type: question, text: Send me your order number., expect: number, save_as: order_id, on_invalid: agent, next: lookup}
  lookup:
    type: http
    url: "https://orders.example.com/api/orders/{{ vars.order_id }}"
    headers: {Authorization: {env: ORDERS_API_TOKEN}}
    save: {status: status}
    next: tell
    on_failure: agent
  tell: {type: message, text: "Order {{ vars.order_id }} is {{ vars.status }}.", next: bye}
  agent: {type: handoff, note: order help, timeout: 4h, next: bye}
  bye: {type: end}
"""


def system_prompt() -> str:
    flow_schema = json.dumps(schema.schemas()["flow.schema.json"], separators=(",", ":"), sort_keys=True)
    return (
        "You design chat flows for WhatsApp, Messenger, Instagram and Viber as chatflow manifests.\n"
        "Answer with exactly one YAML document of kind Flow inside one ```yaml code block, and nothing else.\n\n"
        + GUIDE
        + "\nThe manifest must validate against this JSON Schema of kind Flow:\n"
        + flow_schema
    )


def request_prompt(requirement: str, name: str | None, trigger: str | None) -> str:
    lines = [f"Requirement: {requirement.strip()}"]
    lines.append(f"metadata.name: {name}" if name else "metadata.name: choose a short DNS label for it")
    lines.append(f"trigger type: {trigger}" if trigger else "trigger type: choose the channel the requirement names (whatsapp if none)")
    lines.append("Write the complete manifest.")
    return "\n".join(lines)


def repair_prompt(manifest: str, problems: list[str]) -> str:
    listed = "\n".join(f"- {p}" for p in problems)
    return (
        "This manifest (as I read it, with line numbers as given below) does not validate:\n"
        f"```yaml\n{manifest}```\n"
        f"Problems:\n{listed}\n"
        "Fix every problem and answer with the complete corrected manifest in one ```yaml code block."
    )


_FENCE = re.compile(r"```(?:ya?ml|YAML)?[ \t]*\n(.*?)```", re.S)


def extract_yaml(answer: str) -> str | None:
    """The manifest inside an answer: the first fenced block that holds a `kind:`, else the answer itself."""
    blocks = _FENCE.findall(answer)
    for block in blocks:
        if re.search(r"^\s*kind:", block, re.M):
            return block
    if blocks:
        return blocks[0]
    start = re.search(r"^apiVersion:", answer, re.M)
    return answer[start.start():] if start else None
