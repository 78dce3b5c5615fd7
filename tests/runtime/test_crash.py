"""Crash safety with a real process (DESIGN §8): killed at a named point, `chatflow serve` either
applied an event fully or not at all; a redelivery applies it exactly once; nothing acknowledged
is lost; a send interrupted after the channel took it is repeated at most once, and counted."""

from __future__ import annotations

import signal

import httpx
import pytest

from .fakechannel import HANG, OK, THROTTLE
from .harness import Chat, flow
from .payloads import wa_text

TWO = """\
    start: {type: start, next: one}
    one: {type: message, text: First, next: two}
    two: {type: message, text: Second, next: done}
    done: {type: end}
"""


def crashed(repo, state, point: str, action) -> None:
    """Run `action(chat)` against a server armed to exit at `point`, and see it exit there."""
    doomed = Chat(repo.path, state=state, env={"CHATFLOW_CRASH_AT": point}).start()
    try:
        action(doomed)
    except httpx.TransportError:
        pass  # the process died mid-request: the channel sees no 200 and will redeliver
    assert doomed.proc.wait(20) == 137, doomed.output()[-2000:]
    doomed.log.close()


@pytest.mark.parametrize("point", ["inbound.before-commit", "inbound.after-commit"])
def test_an_event_killed_around_its_commit_is_applied_once_after_redelivery(repo, fake, tmp_path, point):
    state = tmp_path / "state.db"
    hello = wa_text("15550002222", "hi", msg_id="wamid.crash1")
    crashed(repo, state, point, lambda chat: chat.wa(hello))
    with Chat(repo.path, state=state) as chat:
        if point == "inbound.before-commit":
            assert chat.conversations() == []  # not applied at all
        else:
            assert len(chat.conversations()) == 1  # applied fully: its reply goes out without a redelivery
            fake.wait_for(1)
        assert chat.wa(hello).status_code == 200  # Meta redelivers what got no 200
        fake.wait_for(1)
        chat.wait_for(lambda: all(m["status"] == "sent" for m in chat.outbox("15550002222")), what="settled")
        assert fake.texts() == ["Hi Ana! What do you need?"]
        (conversation,) = chat.conversations()
        assert conversation["node"] == "menu"


def test_a_send_killed_after_the_channel_took_it_is_repeated_alone_and_counted(repo, fake, tmp_path):
    repo.write("flows.d/orders.yaml", flow("orders", "whatsapp", "wa", TWO))
    repo.commit("two messages")
    state = tmp_path / "state.db"
    crashed(repo, state, "outbox.after-send", lambda chat: (chat.wa(wa_text("15550002222", "hi")),
                                                             chat.proc.wait(20)))
    assert fake.texts() == ["First"]
    with Chat(repo.path, state=state) as chat:
        fake.wait_for(3)
        chat.wait_for(lambda: [m["status"] for m in chat.outbox("15550002222")] == ["sent", "sent"], what="settled")
        assert fake.texts() == ["First", "First", "Second"]
        assert [m["repeats"] for m in chat.outbox("15550002222")] == [1, 0]


def test_an_acknowledged_event_is_not_lost_when_the_process_is_killed_before_sending(repo, fake, tmp_path):
    state = tmp_path / "state.db"
    fake.plan = lambda r: THROTTLE  # the channel takes nothing: the reply waits in the outbox
    chat = Chat(repo.path, state=state).start()
    assert chat.wa(wa_text("15550002222", "hi")).status_code == 200
    chat.stop(signal.SIGKILL)
    assert fake.received == []
    fake.plan = lambda r: OK
    with Chat(repo.path, state=state):
        (reply,) = fake.wait_for(1)
        assert reply.text == "Hi Ana! What do you need?"


def test_sigterm_lets_a_send_in_flight_finish_and_records_it(repo, fake, tmp_path):
    state = tmp_path / "state.db"
    fake.hang_for = 1.5  # the channel takes its time answering
    fake.plan = lambda r: HANG
    chat = Chat(repo.path, state=state, env={"CHATFLOW_SEND_TIMEOUT": "5"}).start()
    chat.wa(wa_text("15550002222", "hi"))
    fake.wait_for(1)  # the request is at the channel, the answer not back yet
    # uvicorn shuts down gracefully, then lets the signal end the process as it would have
    assert chat.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert "stopped with sends in flight" not in (chat.repo.parent / f"serve-{chat.port}.log").read_text()
    fake.plan = lambda r: OK
    with Chat(repo.path, state=state) as again:
        (menu,) = again.outbox("15550002222")
        assert (menu["status"], menu["attempts"], menu["repeats"]) == ("sent", 1, 0)
    assert len(fake.received) == 1  # recorded before the stop: not sent again
