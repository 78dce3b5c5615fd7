"""The JSON shapes of conversations, executions and outbox messages (HTTP API and CLI)."""

from __future__ import annotations

from typing import Any

from controller.store.records import EventRow, OutboxRow, SessionRow

from .outbound import preview


def _time(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def conversation_json(row: SessionRow) -> dict[str, Any]:
    s = row.session
    deadline = s.deadline
    return {
        "id": s.id,
        "flow": s.flow,
        "revision": s.revision,
        "status": s.status,
        "node": s.node,
        "outcome": s.outcome,
        "contact": {"channel": s.key.channel, "account": s.key.account, "address": s.key.address,
                    "name": s.contact.name},
        "startedAt": _time(s.started_at),
        "updatedAt": _time(s.updated_at),
        "deadline": {"at": _time(deadline.at), "kind": deadline.kind} if deadline is not None else None,
        "outId": row.out_id,
    }


def message_json(row: OutboxRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "channel": row.channel,
        "account": row.account,
        "to": row.to,
        "node": row.node,
        "preview": preview(row.message),
        "attempts": row.attempts,
        "repeats": row.repeats,
        "messageId": row.channel_message_id,
        "error": {"code": row.error_code, "title": row.error_title} if row.error_code or row.error_title else None,
        "createdAt": _time(row.created_at),
        "updatedAt": _time(row.updated_at),
    }


def step_json(row: EventRow) -> dict[str, Any]:
    e = row.event
    return {"seq": row.seq, "type": e.type, "node": e.node, "time": _time(e.time), "revision": e.revision,
            **{k: v for k, v in e.fields.items() if k not in ("type", "node", "time", "seq")}}


def event_json(row: EventRow) -> dict[str, Any]:
    """One execution event as `chatflow logs -o json` prints it and the events API returns it."""
    e = row.event
    return {"seq": row.seq, "time": _time(e.time), "type": e.type, "flow": e.flow, "revision": e.revision,
            "conversation": e.conversation, "node": e.node, "fields": dict(e.fields)}


def execution_json(row: SessionRow, steps: list[EventRow], messages: list[OutboxRow], logging: bool) -> dict[str, Any]:
    """Twilio-Studio-like: the execution, its steps (execution events, when the flow logs) and
    its context (what templates see)."""
    s = row.session
    return {
        **conversation_json(row),
        "logging": logging,
        "context": {
            "vars": dict(s.vars),
            "trigger": dict(s.trigger),
            "contact": {"id": s.contact.address, "name": s.contact.name, "phone": s.contact.phone},
            "message": {"text": s.message.text, "type": s.message.type} if s.message is not None else None,
            "reply": {"text": s.reply.text, "id": s.reply.id} if s.reply is not None else None,
            "retries": s.retries,
        },
        "steps": [step_json(e) for e in steps],
        "messages": [message_json(m) for m in messages],
    }
