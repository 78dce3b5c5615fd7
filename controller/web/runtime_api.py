"""The runtime's HTTP API (DESIGN §6): manual trigger, executions, conversations, execution events,
test conversations.

Request bodies are validated by the pydantic models below; every route needs the API token
(`guarded`) unless the server is bound to loopback without one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal, Union

import structlog
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.engine.messages import Contact
from controller.runtime.eventlog import BadFilter, EventFilter, parse_limit, parse_since, read, unknown_flow
from controller.runtime.host import Refused, Runtime, TriggerRequest
from controller.runtime.transcript import Said, transcript
from controller.runtime.views import conversation_json, event_json, execution_json
from controller.store.records import EventQuery

from .app import Context, guarded, read_body

log = structlog.get_logger("chatflow.api")

MAX_API_BODY = 256 * 1024
MAX_SAY = 200  # inputs in one test conversation
EVENTS_LIMIT = 100  # events in one answer unless `limit` says otherwise
STATUSES = ("active", "waiting", "handed_over", "ended", "expired", "live")
REFUSAL_STATUS = {"NotFound": 404, "NotManual": 422, "Discarded": 422, "UnknownAccount": 422,
                  "ChannelMismatch": 422, "Conflict": 409, "NotHandedOver": 409, "Ended": 409}

Text = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(_Body):
    channel: Literal["whatsapp", "messenger", "instagram", "viber"]
    account: Text
    address: Text
    name: Annotated[str, StringConstraints(max_length=256)] | None = None


class TriggerIn(_Body):
    """`POST /api/v1/flows/{name}/executions`: start a published manual flow for a contact."""

    contact: ContactIn
    variables: dict[str, Any] = {}
    idempotencyKey: Text | None = None
    outId: Text | None = None
    discardAfter: AwareDatetime | None = None
    restart: bool = False


class SayIn(_Body):
    say: str | None = None
    button: Text | None = None
    timeout: Literal[True] | None = None
    release: Literal[True] | None = None

    @model_validator(mode="after")
    def _one(self) -> "SayIn":
        given = [n for n in ("say", "button", "timeout", "release") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("each input has exactly one of `say`, `button`, `timeout` or `release`")
        return self


class TestIn(_Body):
    """`POST /api/v1/flows/{name}/test`: a stateless conversation with the flow."""

    say: list[Union[str, SayIn]] = Field(default=[], max_length=MAX_SAY)
    variables: dict[str, Any] = {}
    revision: Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{12}|[0-9]+)$")] | None = None
    contact: dict[Literal["name", "phone"], Annotated[str, StringConstraints(max_length=256)]] = {}


def _error(http_status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=http_status)


async def _json_body(request: Request, model: type[_Body]) -> _Body | JSONResponse:
    raw = await read_body(request, MAX_API_BODY)
    if raw is None:
        return _error(413, f"request body larger than {MAX_API_BODY} bytes")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:
        return _error(400, f"the body is not JSON: {exc}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [{"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return _error(422, "invalid request body", problems=problems)


class RuntimeApi:
    def __init__(self, ctx: Context, runtime: Runtime) -> None:
        self.ctx = ctx
        self.runtime = runtime
        self.store = runtime.store

    def routes(self) -> list[Route]:
        g = lambda handler: guarded(self.ctx, handler)  # noqa: E731
        return [
            Route("/api/v1/flows/{name}/executions", g(self.trigger), methods=["POST"]),
            Route("/api/v1/executions/{id}", g(self.execution), methods=["GET"]),
            Route("/api/v1/conversations", g(self.conversations), methods=["GET"]),
            Route("/api/v1/conversations/{id}/release", g(self.release), methods=["POST"]),
            Route("/api/v1/conversations/{id}/end", g(self.end), methods=["POST"]),
            Route("/api/v1/flows/{name}/test", g(self.test), methods=["POST"]),
            Route("/api/v1/flows/{name}/events", g(self.events), methods=["GET"]),
        ]

    # -- executions ---------------------------------------------------------------------------
    async def trigger(self, request: Request) -> Response:
        body = await _json_body(request, TriggerIn)
        if isinstance(body, JSONResponse):
            return body
        assert isinstance(body, TriggerIn)
        c = body.contact
        try:
            done = await self.runtime.trigger(TriggerRequest(
                flow=request.path_params["name"], channel=c.channel, account=c.account, address=c.address, name=c.name,
                variables=body.variables, idempotency_key=body.idempotencyKey, out_id=body.outId,
                discard_after=body.discardAfter, restart=body.restart))
        except Refused as exc:
            return _error(REFUSAL_STATUS.get(exc.reason, 422), exc.message, reason=exc.reason, **exc.detail)
        view = self._execution(done.session.id)
        return JSONResponse(view, status_code=201 if done.created else 200,
                            headers={"Location": f"/api/v1/executions/{done.session.id}"})

    async def execution(self, request: Request) -> Response:
        view = self._execution(request.path_params["id"])
        if view is None:
            return _error(404, f"no execution `{request.path_params['id']}`")
        return JSONResponse(view)

    def _execution(self, session_id: str) -> dict[str, Any] | None:
        row = self.store.session(session_id)
        if row is None:
            return None
        steps = self.store.events(EventQuery(session_id=session_id, limit=5000))
        messages = self.store.messages(session_id=session_id)
        return execution_json(row, steps, messages, self.runtime.flows.current.logs(row.session.flow))

    # -- conversations ------------------------------------------------------------------------
    async def conversations(self, request: Request) -> Response:
        q = request.query_params
        status = q.get("status") or None
        if status is not None and status not in STATUSES:
            return _error(400, f"status {status!r} is not one of {', '.join(STATUSES)}")
        try:
            limit = min(1000, max(1, int(q.get("limit", "100"))))
        except ValueError:
            return _error(400, "limit is a number from 1 to 1000")
        rows = self.store.sessions(flow=q.get("flow") or None, status=status, limit=limit)
        return JSONResponse({"conversations": [conversation_json(r) for r in rows]})

    async def release(self, request: Request) -> Response:
        return await self._control(request, self.runtime.release)

    async def end(self, request: Request) -> Response:
        return await self._control(request, self.runtime.end)

    async def _control(self, request: Request, action: Any) -> Response:
        try:
            row = await action(request.path_params["id"])
        except Refused as exc:
            return _error(REFUSAL_STATUS.get(exc.reason, 409), exc.message, reason=exc.reason, **exc.detail)
        return JSONResponse(conversation_json(row))

    # -- execution events ---------------------------------------------------------------------
    async def events(self, request: Request) -> Response:
        """The filters of `chatflow logs`: conversation, since, limit; `after` (a cursor) to poll."""
        name, q = request.path_params["name"], request.query_params
        try:
            since = parse_since(q["since"], self.runtime.clock()) if q.get("since") else None
            limit = parse_limit(q.get("limit") or EVENTS_LIMIT)
            after = q.get("after") or None
            if after is not None and not after.isdigit():
                raise BadFilter(f"after {after!r} is not a cursor (the `cursor` of an earlier answer)")
        except BadFilter as exc:
            return _error(400, str(exc))
        wanted = EventFilter(name, q.get("conversation") or None, since, limit)

        def load() -> dict[str, Any] | str:
            problem = unknown_flow(self.runtime.reads, name)
            if problem is not None:
                return problem
            page = read(self.runtime.reads, wanted, int(after) if after is not None else None)
            return {"flow": name, "logging": self.runtime.flows.current.logs(name),
                    "events": [event_json(row) for row in page.events], "cursor": page.cursor,
                    "truncated": page.truncated}

        answer = await asyncio.to_thread(load)
        if isinstance(answer, str):
            return _error(404, answer)
        return JSONResponse(answer)

    # -- test conversations -------------------------------------------------------------------
    async def test(self, request: Request) -> Response:
        body = await _json_body(request, TestIn)
        if isinstance(body, JSONResponse):
            return body
        assert isinstance(body, TestIn)
        name = request.path_params["name"]
        record = self.store.flow(name)
        if record is None:
            return _error(404, f"no flow `{name}`")
        revision = self._revision(name, body.revision, record.live_revision or record.revision)
        if revision is None:
            known = ", ".join(f"{r.number} ({r.hash})" for r in self.store.revisions(name))
            return _error(404, f"flow `{name}` has no revision {body.revision}", revisions=known)
        flow = self.runtime.flows.flow_at(name, revision)
        if flow is None:
            return _error(404, f"revision {revision} of flow `{name}` cannot be loaded")
        inputs = [Said(text=s) if isinstance(s, str) else
                  Said(text=s.say, button=s.button, timeout=bool(s.timeout), release=bool(s.release)) for s in body.say]
        live = self.runtime.flows.current.flows
        contact = Contact(address="test-contact", name=body.contact.get("name"), phone=body.contact.get("phone"))
        result = transcript(flow, revision, inputs, body.variables, contact,
                            resolve=lambda other: live[other].flow if other in live else None)
        return JSONResponse(result)

    def _revision(self, name: str, wanted: str | None, default: str | None) -> str | None:
        if wanted is None:
            return default
        for r in self.store.revisions(name):
            if wanted in (r.hash, str(r.number)):
                return r.hash
        return None

