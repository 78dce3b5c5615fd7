"""What the engine's steps for one input add up to: the Work the store commits in one transaction."""

from __future__ import annotations

import datetime as _dt

from controller.engine import events as ev
from controller.engine.events import Execution, Outgoing, Step
from controller.engine.session import ConversationKey, Session
from controller.store.records import Dedupe, NewMessage, SessionWrite, StatusChange, Work

from .live import Live
from .outbound import message_json, preview
from .privacy import recorded


def conversation_id(channel: str, account: str, address: str) -> str:
    """The outbox's ordering key: one recipient through one account."""
    return str(ConversationKey(channel, account, address))


class Transaction:
    """Collects session writes, outgoing messages and execution events, in order.

    A session written twice is written once, with its last state and the version first read.
    Execution events are kept only for flows with `logging: true`, as the live set's policy keeps
    them (message bodies or not; secrets never). With `welcome` set, the first
    message to the contact is held back (a Viber welcome goes in the HTTP answer instead).
    """

    def __init__(self, live: Live, now: _dt.datetime, welcome: bool = False) -> None:
        self.live = live
        self.now = now
        self._writes: dict[str, SessionWrite] = {}
        self.messages: list[NewMessage] = []
        self.events: list[Execution] = []
        self.statuses: list[StatusChange] = []
        self._want_welcome = welcome
        self.welcome: Outgoing | None = None
        self.welcome_account: str | None = None

    # -- sessions -------------------------------------------------------------------------------
    def write(self, session: Session, version: int | None, out_id: str | None = None) -> None:
        earlier = self._writes.get(session.id)
        if earlier is not None:
            self._writes[session.id] = SessionWrite(session, earlier.expected_version, out_id or earlier.out_id)
        else:
            self._writes[session.id] = SessionWrite(session, version, out_id)

    def add(self, step: Step, version: int | None, out_id: str | None = None) -> None:
        """A step of a session read at `version` (None: the step started a new session)."""
        if step.handled or step.events or step.unrecorded:  # else the input changed nothing (a stale timer...)
            self.write(step.session, version, out_id)
        queued: Outgoing | None = None
        for event in step.events:
            if isinstance(event, Execution):
                if event.type == ev.MESSAGE_QUEUED and queued is not None and "text" not in event.fields:
                    # the engine emits message.queued right after the message it queued: say what it says
                    event = Execution(event.type, event.conversation, event.flow, event.revision, event.node,
                                      event.time, {"text": preview(message_json(queued.message)), **event.fields})
                queued = None
                self.note(event)
            elif isinstance(event, Outgoing):
                queued = event
                self._message(step.session, event)

    def note(self, event: Execution) -> None:
        if self.live.logging.get(event.flow, False):
            self.events.append(recorded(event, self.live.policy))

    @property
    def sessions(self) -> list[Session]:
        return [w.session for w in self._writes.values()]

    # -- messages -------------------------------------------------------------------------------
    def _message(self, session: Session, out: Outgoing) -> None:
        key = session.key
        logging = self.live.logs(session.flow)
        common = {"session_id": session.id, "flow": session.flow, "revision": session.revision, "node": out.node,
                  "logging": logging, "message": message_json(out.message)}
        if out.to_contact:
            if self._want_welcome and self.welcome is None:
                self.welcome, self.welcome_account = out, key.account
                return
            self.messages.append(NewMessage(conversation=str(key), channel=key.channel, account=key.account,
                                            to=key.address, **common))
            return
        assert out.account is not None and out.to is not None
        account = self.live.accounts.get(out.account)
        if account is None:
            self.messages.append(NewMessage(
                conversation=conversation_id("unknown", out.account, out.to), channel="unknown", account=out.account,
                to=out.to, status="failed", error_code="unknown_account",
                error_title=f"`send` names account `{out.account}`, which is not applied: add the Account manifest",
                **common))
            return
        channel = account.spec.channel
        self.messages.append(NewMessage(conversation=conversation_id(channel, out.account, out.to), channel=channel,
                                        account=out.account, to=out.to, **common))

    # -- the result ----------------------------------------------------------------------------
    def work(self, dedupe: Dedupe | None = None) -> Work:
        return Work(self.now, dedupe, tuple(self._writes.values()), tuple(self.messages), tuple(self.events),
                    tuple(self.statuses))
