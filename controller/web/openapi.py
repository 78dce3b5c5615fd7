"""`GET /openapi.json`: the HTTP API as OpenAPI 3.1; request bodies are the JSON Schemas of the
pydantic models that validate them (docs/http-api.md has the prose)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller import __version__

from .runtime_api import TestIn, TriggerIn

BEARER = [{"bearer": []}]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    responses: dict[str, str]
    body: type[BaseModel] | None = None
    secured: bool = True
    parameters: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _path(name: str, text: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": text}


def _query(name: str, text: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


CHANNEL = _path("channel", "whatsapp, messenger, instagram or viber")
WEBHOOK = {"200": "every event committed (a Viber welcome is the body)", "400": "not a JSON object",
           "401": "signature missing or wrong", "404": "unknown channel or account, or channel mismatch",
           "413": "body over the channel's maximum", "503": "account secrets missing, or storage unavailable"}
HANDSHAKE = {"200": "the challenge, as plain text", "400": "not a handshake", "403": "wrong hub.verify_token",
             "404": "unknown channel or account", "405": "the channel has no handshake (Viber)",
             "503": "account secrets missing"}

OPERATIONS = (
    Operation("post", "/api/v1/flows/{name}/executions", "Start a published manual flow for a contact",
              {"201": "started", "200": "the execution an earlier request with this idempotencyKey started",
               "404": "no such published flow", "409": "the contact has a live conversation (pass restart)",
               "422": "not a manual flow, discardAfter passed, unknown account, or an invalid body"},
              TriggerIn, parameters=(_path("name", "the flow"),)),
    Operation("get", "/api/v1/executions/{id}", "An execution: steps, context and messages",
              {"200": "the execution", "404": "unknown id"}, parameters=(_path("id", "the execution id"),)),
    Operation("get", "/api/v1/conversations", "Conversations, newest first",
              {"200": "{conversations: [...]}", "400": "bad status or limit"},
              parameters=(_query("flow", "only this flow's", {"type": "string"}),
                          _query("status", "active, waiting, handed_over, ended, expired or live",
                                 {"type": "string"}),
                          _query("limit", "1 to 1000 (100)", {"type": "integer", "minimum": 1, "maximum": 1000}))),
    Operation("post", "/api/v1/conversations/{id}/release", "End a handoff",
              {"200": "the conversation", "404": "unknown id", "409": "not handed over"},
              parameters=(_path("id", "the conversation id"),)),
    Operation("post", "/api/v1/conversations/{id}/end", "End a live conversation now",
              {"200": "the conversation", "404": "unknown id", "409": "already ended"},
              parameters=(_path("id", "the conversation id"),)),
    Operation("post", "/api/v1/flows/{name}/test", "A stateless test conversation (the transcript)",
              {"200": "{flow, revision, steps: [...]}", "404": "unknown flow or revision", "422": "invalid body"},
              TestIn, parameters=(_path("name", "the flow"),)),
    Operation("get", "/api/v1/flows/{name}/events", "A flow's execution events (the filters of `chatflow logs`)",
              {"200": "{flow, logging, events: [...], cursor, truncated}: the newest `limit` events that match, "
                      "oldest first (with `after`: the ones after that cursor)",
               "400": "bad since, limit or after", "404": "no such flow in the state store"},
              parameters=(_path("name", "the flow"),
                          _query("conversation", "only this conversation (its id)", {"type": "string"}),
                          _query("since", "1h, 30m, 2d, 45s or an ISO 8601 time", {"type": "string"}),
                          _query("limit", "1 to 10000 (100)", {"type": "integer", "minimum": 1, "maximum": 10000}),
                          _query("after", "the cursor of an earlier answer: only newer events",
                                 {"type": "integer", "minimum": 0}))),
    Operation("get", "/webhooks/{channel}/{account}", "Meta's subscription handshake", HANDSHAKE, secured=False,
              parameters=(CHANNEL, _path("account", "an Account's metadata.name"))),
    Operation("post", "/webhooks/{channel}/{account}", "A channel's events for one account", WEBHOOK, secured=False,
              parameters=(CHANNEL, _path("account", "an Account's metadata.name"))),
    Operation("get", "/webhooks/{channel}", "Meta's handshake on the per-app URL", HANDSHAKE, secured=False,
              parameters=(CHANNEL,)),
    Operation("post", "/webhooks/{channel}", "Meta's per-app URL: signed by one of the channel's accounts, "
              "routed by the ids in the payload", WEBHOOK, secured=False, parameters=(CHANNEL,)),
    Operation("get", "/status", "The status report", {"200": "chatflow status -o json"}),
    Operation("get", "/metrics", "Prometheus metrics (docs/observability.md)", {"200": "the text exposition format"}),
    Operation("post", "/hooks/git", "Push notification: reconcile now",
              {"202": "queued", "401": "bad signature", "403": "from another host without a secret",
               "413": "over 1 MiB"}, secured=False),
    Operation("get", "/healthz", "The process serves", {"200": "ok"}, secured=False),
    Operation("get", "/readyz", "The first reconcile has finished", {"200": "ready", "503": "not yet"},
              secured=False),
)


def document(operations: tuple[Operation, ...] = OPERATIONS) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item: dict[str, Any] = {"summary": op.summary,
                                "responses": {code: {"description": text} for code, text in op.responses.items()}}
        if op.parameters:
            item["parameters"] = list(op.parameters)
        if op.body is not None:
            schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[op.body.__name__] = schema
            item["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}}}
        if op.secured:
            item["security"] = BEARER
        paths.setdefault(op.path, {})[op.method] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "chatflow", "version": __version__,
                 "description": "Webhooks, manual triggers, executions, conversations and test conversations. "
                                "API routes need `Authorization: Bearer $CHATFLOW_API_TOKEN` (docs/http-api.md)."},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(document())


def routes() -> list[Route]:
    return [Route("/openapi.json", openapi, methods=["GET"])]
