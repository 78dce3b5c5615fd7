"""The engine: `advance(flow, session, input, now, services) -> Step`, a pure function.

Everything with I/O or chance comes in through `services`; the clock is `now`. The host stores
the returned session, sends the outgoing messages and records the execution events.
"""

from __future__ import annotations

import datetime as _dt

from controller.manifests.components import duration_seconds
from controller.manifests.models import Flow

from . import events as ev
from .components import EXECUTORS
from .events import Event, Execution, Step
from .inputs import Inbound, Input, Release, Start, Stop, TimerFired
from .messages import Contact
from .run import Finish, Go, Move, Run, Stay, Wait
from .services import OFFLINE, Services
from .session import Said, Session
from .variables import initial_vars, trigger_inputs

STEP_LIMIT = 100
"""Nodes one input may run; past it the conversation ends (outcome `step_limit`), so nothing spins."""


def advance(flow: Flow, session: Session | None, input: Input, now: _dt.datetime, services: Services = OFFLINE,
            record: bool = True) -> Step:
    """Apply one input to a conversation. `flow` is the session's flow at the session's revision
    (for Start: the flow to start). Raises ValueError only for a host mistake (no session for a
    non-Start input, another flow's session, a naive `now`).

    With `record` off, the Execution events are not built (a host that does not store them
    saves their cost): the step then holds only messages and flow starts, and its `unrecorded`
    counts the events left out."""
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware (UTC)")
    if isinstance(input, Start):
        return _start(flow, session, input, now, services, record)
    if session is None:
        raise ValueError(f"{type(input).__name__} needs a session; only Start begins a conversation")
    if session.flow != flow.name:
        raise ValueError(f"the session runs flow `{session.flow}`, not `{flow.name}`")
    if session.is_final:
        return Step(session, (), handled=False)
    if session.node not in flow.spec.nodes:
        raise ValueError(f"the session waits at `{session.node}`, which flow `{flow.name}` does not have (wrong revision?)")
    if isinstance(input, Inbound):
        return _inbound(flow, session, input, now, services, record)
    if isinstance(input, TimerFired):
        return _timer(flow, session, input, now, services, record)
    if isinstance(input, Release):
        return _release(flow, session, now, services, record)
    if isinstance(input, Stop):
        run = Run(flow, session, now, services, record)
        return _drive(run, Finish(input.reason), session.node)
    raise TypeError(f"unknown input {input!r}")


def start_node(flow: Flow) -> str:
    for node_id, node in flow.spec.nodes.items():
        if node.type == "start":
            return node_id
    raise ValueError(f"flow `{flow.name}` has no start node (validate it first)")


# ---- inputs --------------------------------------------------------------------------------


def _start(flow: Flow, previous: Session | None, start: Start, now: _dt.datetime, services: Services,
           record: bool) -> Step:
    prior: list[Event] = []
    unrecorded = 0
    if previous is not None and not previous.is_final and not record:
        unrecorded = 1
    elif previous is not None and not previous.is_final:
        prior.append(
            Execution(ev.FLOW_ENDED, previous.id, previous.flow, previous.revision, previous.node, now,
                      {"outcome": "restarted", "status": "ended"})
        )
    inputs = trigger_inputs(flow, start.variables)
    first = start_node(flow)
    session = Session(
        id=start.session_id or services.new_id(),
        key=start.key,
        flow=flow.name,
        revision=start.revision,
        node=first,
        status="active",
        started_at=now,
        updated_at=now,
        vars=initial_vars(flow, inputs),
        trigger=dict(inputs.accepted),
        contact=start.contact or Contact(address=start.key.address),
        account_phone=start.account_phone,
        message=Said(start.message.text, start.message.type) if start.message is not None else None,
    )
    run = Run(flow, session, now, services, record)
    if record:
        run.emit(ev.FLOW_STARTED, None, inputs=sorted(inputs.accepted), dropped=list(inputs.dropped))
    else:
        run.unrecorded += 1
    if start.message is not None:
        _received(run, None, start.message)
    for problem in inputs.problems:
        run.emit(ev.ERROR, None, message=f"{problem}; the declared default is used")
    step = _drive(run, Go(first), None)
    return Step(step.session, (*prior, *step.events), True, unrecorded + step.unrecorded)


def _inbound(flow: Flow, session: Session, inbound: Inbound, now: _dt.datetime, services: Services,
             record: bool) -> Step:
    earlier: tuple[Event, ...] = ()
    unrecorded = 0
    deadline = session.deadline
    if deadline is not None and now >= deadline.at:
        # The deadline passed before its timer ran (a host restart, a slow scheduler): it
        # happened first, so apply it, then see whether the message still has a taker.
        overdue = _timer(flow, session, TimerFired(deadline.at), now, services, record)
        if overdue.session.is_final:
            return Step(overdue.session, overdue.events, handled=False, unrecorded=overdue.unrecorded)
        session, earlier, unrecorded = overdue.session, overdue.events, overdue.unrecorded
    run = Run(flow, session, now, services, record)
    run.message = Said(inbound.text, inbound.type)
    _received(run, session.node, inbound)
    node = flow.spec.nodes[session.node]  # type: ignore[index]
    executor = EXECUTORS[node.type]
    if not session.is_waiting or executor.on_message is None:
        return Step(session, (*earlier, *run.events), handled=False, unrecorded=unrecorded + run.unrecorded)
    step = _drive(run, executor.on_message(node, session.node, run, inbound), session.node)  # type: ignore[arg-type]
    return Step(step.session, (*earlier, *step.events), True, unrecorded + step.unrecorded)


def _timer(flow: Flow, session: Session, fired: TimerFired, now: _dt.datetime, services: Services,
           record: bool) -> Step:
    deadline = session.deadline
    if deadline is None or fired.at != deadline.at or now < deadline.at:
        return Step(session, (), handled=False)  # stale: the session moved on, or not due yet
    run = Run(flow, session, now, services, record)
    run.emit(ev.TIMER_FIRED, session.node, kind=deadline.kind, at=deadline.at.isoformat())
    if deadline.kind == "expiry":
        return _drive(run, Finish("expired", "expired"), session.node)
    node = flow.spec.nodes[session.node]  # type: ignore[index]
    executor = EXECUTORS[node.type]
    if executor.on_timer is None:
        return _drive(run, run.fail(session.node, node, f"a {deadline.kind} deadline fired at a {node.type} node"), session.node)  # type: ignore[arg-type]
    return _drive(run, executor.on_timer(node, session.node, run, deadline), session.node)  # type: ignore[arg-type]


def _release(flow: Flow, session: Session, now: _dt.datetime, services: Services, record: bool) -> Step:
    if session.status != "handed_over":
        return Step(session, (), handled=False)
    node = flow.spec.nodes[session.node]  # type: ignore[index]
    executor = EXECUTORS[node.type]
    assert executor.on_release is not None  # only a handoff hands over
    run = Run(flow, session, now, services, record)
    return _drive(run, executor.on_release(node, session.node, run), session.node)  # type: ignore[arg-type]


def _received(run: Run, node: str | None, inbound: Inbound) -> None:
    run.emit(ev.MESSAGE_RECEIVED, node, type=inbound.type, text=inbound.text, reply_id=inbound.reply_id)


# ---- moving through nodes ----------------------------------------------------------------


def _drive(run: Run, move: Move, at: str | None) -> Step:
    """Follow moves from node `at` until the conversation waits or ends."""
    nodes = run.flow.spec.nodes
    record = run.record
    ran = 0
    while isinstance(move, Go):
        if at is not None:
            if record:
                run.emit(ev.NODE_LEFT, at, to=move.node)
            else:
                run.unrecorded += 1
        if move.node not in nodes:
            run.emit(ev.ERROR, at, message=f"`{move.node}` names no node of flow `{run.flow.name}`")
            move = Finish("failed")
            break
        ran += 1
        if ran > STEP_LIMIT:
            run.emit(ev.ERROR, move.node, message=f"more than {STEP_LIMIT} nodes ran for one input; stopped before `{move.node}`")
            move = Finish("step_limit")
            break
        at = move.node
        node = nodes[at]
        if record:
            run.emit(ev.NODE_ENTERED, at, type=node.type)
        else:
            run.unrecorded += 1
        move = EXECUTORS[node.type].enter(node, at, run)
    if isinstance(move, Finish):
        session = _settle(run, node=at, status=move.status, wait=None, expires_at=None, outcome=move.outcome)
        run.emit(ev.FLOW_ENDED, at, outcome=move.outcome, status=move.status)
        return Step(session, tuple(run.events), True, run.unrecorded)
    expires_at = run.now + _dt.timedelta(seconds=duration_seconds(run.flow.spec.expireAfter))
    if isinstance(move, Stay):
        session = _settle(run, node=at, status=run.session.status, wait=run.session.wait, expires_at=expires_at)
    else:
        assert isinstance(move, Wait)
        session = _settle(run, node=at, status=move.status, wait=move.deadline, expires_at=expires_at)
    deadline = session.deadline
    if deadline is not None and deadline != run.session.deadline:
        if run.record:
            run.emit(ev.TIMER_SET, at, kind=deadline.kind, at=deadline.at.isoformat())
        else:
            run.unrecorded += 1
    return Step(session, tuple(run.events), True, run.unrecorded)


def _settle(run: Run, **changes: object) -> Session:
    return run.session.evolve(
        vars=run.vars,
        jumps=run.jumps,
        retries=run.retries if changes.get("status") not in ("ended", "expired") else 0,
        message=run.message,
        reply=run.reply,
        updated_at=run.now,
        **changes,
    )
