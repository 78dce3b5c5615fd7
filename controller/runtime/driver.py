"""Driving the engine for the host: one input to a stored session (or a start), `start_flow` hops
followed, and every step added to the transaction being built."""

from __future__ import annotations

import datetime as _dt

import structlog

from controller.engine import events as ev
from controller.engine.engine import advance
from controller.engine.events import Execution, Step
from controller.engine.inputs import Input, Start
from controller.engine.services import Services
from controller.engine.session import Session
from controller.store.records import SessionRow

from .live import LiveFlow, LiveFlows
from .transaction import Transaction

log = structlog.get_logger("chatflow.runtime")

MAX_FLOW_STARTS = 10  # start_flow hops followed for one input; a ping-pong between flows stops


class Driver:
    def __init__(self, flows: LiveFlows, services: Services) -> None:
        self.flows = flows
        self.services = services

    def resume(self, tx: Transaction, row: SessionRow, input: Input, now: _dt.datetime) -> Step:
        """Give `input` to a stored session, on the revision the session started on."""
        session = row.session
        flow = self.flows.flow_at(session.flow, session.revision)
        if flow is None:
            return self._broken(tx, row, now, f"revision {session.revision} of flow `{session.flow}` is not stored")
        try:
            step = advance(flow, session, input, now, self.services, record=_record(tx, flow.name, session))
        except ValueError as exc:  # e.g. a session stored at a node its revision does not have
            return self._broken(tx, row, now, str(exc))
        tx.add(step, row.version)
        return self.follow(tx, step, now)

    def begin(self, tx: Transaction, live: LiveFlow, start: Start, now: _dt.datetime,
              previous: SessionRow | None = None, out_id: str | None = None) -> Step:
        """Start `live` at its live revision; a live `previous` session of the conversation ends
        as restarted."""
        before: Session | None = None
        if previous is not None:
            before = previous.session
            if not before.is_final:
                tx.write(before.evolve(status="ended", outcome="restarted", updated_at=now), previous.version)
        step = advance(live.flow, before, start, now, self.services, record=_record(tx, live.flow.name, before))
        tx.add(step, None, out_id)
        return self.follow(tx, step, now)

    def follow(self, tx: Transaction, step: Step, now: _dt.datetime) -> Step:
        """Start the flows that `start_flow` nodes ask for, for the same conversation."""
        for _ in range(MAX_FLOW_STARTS):
            request = step.start_flow
            if request is None:
                return step
            s = step.session
            target = tx.live.flows.get(request.flow)
            if target is None:
                tx.note(Execution(ev.ERROR, s.id, s.flow, s.revision, request.node, now,
                                  {"message": f"start_flow: flow `{request.flow}` is not published; the conversation ends"}))
                return step
            start = Start(s.key, target.revision, s.contact, request.variables, None, account_phone=s.account_phone)
            step = advance(target.flow, s, start, now, self.services, record=_record(tx, target.flow.name, s))
            tx.add(step, None)
        if step.start_flow is not None:
            s = step.session
            tx.note(Execution(ev.ERROR, s.id, s.flow, s.revision, step.start_flow.node, now,
                              {"message": f"start_flow: stopped after {MAX_FLOW_STARTS} flow starts for one input"}))
        return step

    def _broken(self, tx: Transaction, row: SessionRow, now: _dt.datetime, reason: str) -> Step:
        """A session the engine cannot run any more ends as failed, and says why, instead of
        blocking its conversation for ever."""
        s = row.session
        log.error("session cannot continue; ending it", session=s.id, flow=s.flow, revision=s.revision, reason=reason)
        ended = s.evolve(status="ended", outcome="failed", updated_at=now)
        tx.write(ended, row.version)
        tx.note(Execution(ev.ERROR, s.id, s.flow, s.revision, s.node, now, {"message": reason}))
        tx.note(Execution(ev.FLOW_ENDED, s.id, s.flow, s.revision, s.node, now, {"outcome": "failed", "status": "ended"}))
        return Step(ended, (), True)


def _record(tx: Transaction, flow: str, session: Session | None) -> bool:
    """Build execution events only when a flow they are about logs them (a start also ends the
    session before it, which may be another flow's)."""
    return tx.live.logs(flow) or (session is not None and tx.live.logs(session.flow))
