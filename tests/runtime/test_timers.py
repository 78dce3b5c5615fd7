"""Timers are stored deadlines: they fire on time while serving, and after a restart for those
that fell due while the process was down."""

from __future__ import annotations

import time

from .harness import Chat, flow
from .payloads import wa_text

WAITING = """\
    start: {type: start, next: ask}
    ask:
      type: question
      text: Are you there?
      timeout: {after: 2s, next: nudge}
      next: thanks
    thanks: {type: message, text: Thanks!, next: done}
    nudge: {type: message, text: "Still there?", next: pause}
    pause: {type: delay, duration: 2s, next: later}
    later: {type: message, text: Talk later., next: done}
    done: {type: end}
"""
HANDOFF = """\
    start: {type: start, next: agent}
    agent: {type: handoff, note: billing, timeout: 1s, next: back}
    back: {type: message, text: The bot is back., next: done}
    done: {type: end}
"""


def test_a_question_timeout_and_a_delay_fire_after_a_restart(repo, fake, tmp_path):
    repo.write("flows.d/orders.yaml", flow("orders", "whatsapp", "wa", WAITING))
    repo.commit("waiting flow")
    state = tmp_path / "state.db"
    with Chat(repo.path, state=state) as chat:
        chat.wa(wa_text("15550002222", "hi"))
        fake.wait_for(1)
        asked = time.monotonic()
    time.sleep(max(0.0, 2.5 - (time.monotonic() - asked)))  # the question's timeout falls due while down
    with Chat(repo.path, state=state) as chat:
        fake.wait_for(2)
        nudged = time.monotonic()
    assert fake.texts() == ["Are you there?", "Still there?"]
    time.sleep(max(0.0, 2.5 - (time.monotonic() - nudged)))  # and the delay's end
    with Chat(repo.path, state=state) as chat:
        fake.wait_for(3)
        chat.wait_for(lambda: chat.conversations()[0]["status"] == "ended", what="the conversation to end")
        assert "timer fired" in chat.output()
    assert fake.texts() == ["Are you there?", "Still there?", "Talk later."]


def test_an_answer_before_the_timeout_makes_the_timer_stale(repo, fake):
    repo.write("flows.d/orders.yaml", flow("orders", "whatsapp", "wa", WAITING))
    repo.commit("waiting flow")
    with Chat(repo.path) as chat:
        chat.wa(wa_text("15550002222", "hi"))
        chat.wa(wa_text("15550002222", "yes"))
        fake.wait_for(2)
        time.sleep(2.5)  # past the question's deadline: the stale timer must not nudge
        assert fake.texts() == ["Are you there?", "Thanks!"]
        assert chat.conversations()[0]["status"] == "ended"


def test_a_handoff_timeout_gives_the_conversation_back_to_the_bot(repo, fake):
    repo.write("flows.d/orders.yaml", flow("orders", "whatsapp", "wa", HANDOFF))
    repo.commit("handoff flow")
    with Chat(repo.path) as chat:
        chat.wa(wa_text("15550002222", "hi"))
        chat.wait_for(lambda: chat.conversations() and chat.conversations()[0]["status"] == "handed_over",
                      what="handed over")
        chat.wa(wa_text("15550002222", "hello? anyone?"))  # the bot stays silent while handed over
        (back,) = fake.wait_for(1, timeout=10)
        assert back.text == "The bot is back."


def test_a_waiting_conversation_past_expire_after_ends_as_expired(repo, fake):
    nodes = """\
    start: {type: start, next: ask}
    ask: {type: question, text: "Still with me?", next: done}
    done: {type: end}
"""
    repo.write("flows.d/orders.yaml", flow("orders", "whatsapp", "wa", nodes, extra="  expireAfter: 1s\n"))
    repo.commit("short expiry")
    with Chat(repo.path) as chat:
        chat.wa(wa_text("15550002222", "hi"))
        fake.wait_for(1)
        chat.wait_for(lambda: chat.conversations()[0]["status"] == "expired", timeout=10, what="expiry")
        (conversation,) = chat.conversations()
        assert conversation["deadline"] is None and conversation["outcome"] == "expired"
        chat.wa(wa_text("15550002222", "yes"))  # a new message starts the flow again
        chat.wait_for(lambda: len(chat.conversations()) == 2, what="a new conversation")
