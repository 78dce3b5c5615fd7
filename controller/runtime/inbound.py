"""One inbound event as a unit of work: dedupe, then the conversation's session or the flow that
the message starts (DESIGN §7), a delivery status, or a record of something not to answer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import structlog

from controller.channels.base import RenderError
from controller.channels.registry import adapter
from controller.engine.entry import Begin, route
from controller.engine.inputs import Inbound, Start, Stop
from controller.engine.messages import InboundEvent
from controller.engine.session import ConversationKey
from controller.manifests.models import Account
from controller.store.records import Dedupe, StatusChange, Work

from .transaction import Transaction

if TYPE_CHECKING:
    from .host import Runtime, Unit

log = structlog.get_logger("chatflow.runtime")


def conversation_key(account: Account, event: InboundEvent) -> ConversationKey | None:
    """The conversation an event belongs to (None for those that touch no conversation)."""
    if event.kind not in ("message", "conversation_started", "unsubscribed") or event.contact is None:
        return None
    return ConversationKey(event.channel, account.name, event.contact.address)


def dedupe_key(event: InboundEvent) -> Dedupe | None:
    """Messages by the channel's message id; statuses by our message's id and the state (one
    delivery can report sent, delivered and read); the rest by kind and id when they have one."""
    if event.kind == "status" and event.status is not None:
        return Dedupe(event.channel, f"status:{event.status.message_id}:{event.status.status}")
    if event.message_id is None:
        return None
    if event.kind == "message":
        return Dedupe(event.channel, event.message_id)
    return Dedupe(event.channel, f"{event.kind}:{event.message_id}")


def build(rt: "Runtime", account: Account, event: InboundEvent) -> "Unit":
    from .host import Unit

    dedupe = dedupe_key(event)
    if dedupe is not None and not rt.on_loop:
        # In a worker thread the build may call an http or llm node: a redelivery must not call
        # it again. On the event loop it cannot (OffLoop), so the commit's dedupe insert, which
        # writes nothing for a key it has, is the only check a redelivery needs (one read less
        # per event).
        seen = rt.building.seen(dedupe.scope, dedupe.key)
        if seen is not None:
            return Unit(None, seen.result, seen=True)
    if event.kind == "status" and event.status is not None:
        s = event.status
        change = StatusChange(event.channel, s.message_id, s.status, s.error_code, s.error_title)
        return Unit(Work(rt.clock(), dedupe, statuses=(change,)))
    key = conversation_key(account, event)
    if key is None:
        _record(account, event)
        return Unit(Work(rt.clock(), dedupe) if dedupe is not None else None)
    if event.kind == "message":
        return _message(rt, account, event, key, dedupe)
    if event.kind == "conversation_started":
        return _started(rt, account, event, key, dedupe)
    return _unsubscribed(rt, account, event, key, dedupe)


def _message(rt: "Runtime", account: Account, event: InboundEvent, key: ConversationKey,
             dedupe: Dedupe | None) -> "Unit":
    now = rt.clock()
    live = rt.flows.current
    tx = Transaction(live, now)
    message = Inbound.from_event(event)
    routes = live.by_account.get(account.name, ())
    decision = None
    row = rt.live_session(key, starting=True)
    if row is None:
        decision = route(None, message.text, routes)
        if not isinstance(decision, Begin):
            # no new session's insert will catch a session started elsewhere: read, in case the
            # read was skipped for a contact this host has never seen
            row = rt.live_session(key)
    if row is not None:
        step = rt.driver.resume(tx, row, message, now)
        if step.handled or not step.session.is_final:
            return rt.unit(tx, dedupe)
        # its deadline had passed and ended it: the message may start a flow, as a new conversation
        decision = None
    if decision is None:
        decision = route(None, message.text, routes)
    if isinstance(decision, Begin):
        target = live.flows[decision.flow.name]
        start = Start(key, target.revision, event.contact, message=message, session_id=rt.services.new_id(),
                      account_phone=account.spec.phoneNumber)
        rt.driver.begin(tx, target, start, now)
    else:
        log.info("message not answered: no live session, keyword or default flow", channel=event.channel,
                 account=account.name)
    return rt.unit(tx, dedupe)


def _started(rt: "Runtime", account: Account, event: InboundEvent, key: ConversationKey,
             dedupe: Dedupe | None) -> "Unit":
    """Viber's conversation_started: the account's default flow starts (unless a conversation is
    live), and its first message is the welcome, answered in the HTTP response."""
    now = rt.clock()
    live = rt.flows.current
    tx = Transaction(live, now, welcome=True)
    if rt.building.live_session(key) is None:  # the store itself: no session write follows to catch a stale answer
        decision = route(None, None, live.by_account.get(account.name, ()))
        if isinstance(decision, Begin):
            target = live.flows[decision.flow.name]
            start = Start(key, target.revision, event.contact, session_id=rt.services.new_id(),
                          account_phone=account.spec.phoneNumber)
            rt.driver.begin(tx, target, start, now)
    welcome = None
    if tx.welcome is not None:
        try:
            welcome = json.dumps(adapter(event.channel).render_welcome(account, tx.welcome.message),  # type: ignore[attr-defined]
                                 ensure_ascii=False, separators=(",", ":"))
        except RenderError as exc:
            log.warning("welcome message cannot be shown on this channel; none sent", account=account.name, error=str(exc))
    if dedupe is not None:
        dedupe = Dedupe(dedupe.scope, dedupe.key, welcome)
    return rt.unit(tx, dedupe, reply=welcome)


def _unsubscribed(rt: "Runtime", account: Account, event: InboundEvent, key: ConversationKey,
                  dedupe: Dedupe | None) -> "Unit":
    """The contact unsubscribed (Viber): the bot may not message them, so a live session ends."""
    now = rt.clock()
    tx = Transaction(rt.flows.current, now)
    row = rt.live_session(key)
    if row is not None:
        rt.driver.resume(tx, row, Stop("unsubscribed"), now)
    return rt.unit(tx, dedupe)


def _record(account: Account, event: InboundEvent) -> None:
    """Echoes, reactions, reads without a message id, story mentions, other fields...: logged,
    never answered (an answer to an echo would make the bot talk to itself)."""
    detail = event.detail or {}
    log.info("recorded, not answered", channel=event.channel, account=account.name, kind=event.kind,
             what=detail.get("event") or detail.get("field"), message_id=event.message_id)
