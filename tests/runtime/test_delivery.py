"""The outbox against a misbehaving channel: refusals are retried until every reply arrives once,
timeouts after the channel took a message are repeats that get counted, permanent errors are
recorded, and a conversation's replies arrive in order."""

from __future__ import annotations

import random
from collections import Counter

from .fakechannel import ERROR_500, HANG, OK, THROTTLE, WINDOW
from .harness import Chat, flow
from .payloads import wa_button, wa_text

TWO = """\
    start: {type: start, next: one}
    one: {type: message, text: "First for {{ contact.id }}", next: two}
    two: {type: message, text: "Second for {{ contact.id }}", next: done}
    done: {type: end}
"""
OPS = """\
apiVersion: chatflow/v1
kind: Account
metadata: {{name: ops}}
spec:
  channel: whatsapp
  credentials: {{accessToken: {{env: WA_TOKEN}}, appSecret: {{env: WA_SECRET}}, verifyToken: {{env: WA_VERIFY}}}}
  whatsapp: {{phoneNumberId: "333000"}}
  apiBase: {api}
"""
CONTACTS = [f"1555100{n:04d}" for n in range(10)]


def settled(chat: Chat, contacts: list[str], count: int) -> bool:
    rows = [m for c in contacts for m in chat.outbox(c)]
    return len(rows) == count and all(m["status"] in ("sent", "failed") for m in rows)


def test_a_channel_refusing_a_third_of_sends_still_gets_every_reply_exactly_once_in_order(repo, fake):
    chance = random.Random(7)
    fake.plan = lambda r: chance.choice([THROTTLE, ERROR_500]) if chance.random() < 0.3 else OK
    with Chat(repo.path) as chat:
        for c in CONTACTS:
            assert chat.wa(wa_text(c, "hi")).status_code == 200
        for c in CONTACTS:
            assert chat.wa(wa_button(c, "track", "Track my order")).status_code == 200
        fake.wait_for(20, timeout=30)
        chat.wait_for(lambda: settled(chat, CONTACTS, 20), timeout=30, what="every reply settled")
        assert fake.attempts > 20  # some were refused and retried
        for c in CONTACTS:
            assert fake.texts(to=c) == ["Hi Ana! What do you need?", "Your order number?"]
        rows = [m for c in CONTACTS for m in chat.outbox(c)]
        assert {m["status"] for m in rows} == {"sent"} and sum(m["repeats"] for m in rows) == 0
        assert max(m["attempts"] for m in rows) > 1


def test_a_channel_that_takes_a_message_then_times_out_gets_it_again_and_the_repeat_is_counted(repo, fake):
    repo.write("flows.d/orders.yaml", flow("orders", "whatsapp", "wa", TWO))
    repo.commit("two messages")
    attempts: Counter[str] = Counter()

    def plan(received) -> str:
        attempts[received.text] += 1
        return HANG if attempts[received.text] == 1 else OK

    fake.plan = plan
    fake.hang_for = 1.5
    with Chat(repo.path, env={"CHATFLOW_SEND_TIMEOUT": "0.5"}) as chat:
        chat.wa(wa_text("15550002222", "hi"))
        fake.wait_for(4, timeout=30)
        chat.wait_for(lambda: settled(chat, ["15550002222"], 2), timeout=30, what="settled")
        rows = chat.outbox("15550002222")
        assert [(m["status"], m["attempts"], m["repeats"]) for m in rows] == [("sent", 2, 1), ("sent", 2, 1)]
        # at least once: each arrived twice, in order, and every extra copy is counted
        texts = fake.texts()
        assert texts == ["First for 15550002222", "First for 15550002222", "Second for 15550002222",
                         "Second for 15550002222"]
        assert len(texts) - len(set(texts)) == sum(m["repeats"] for m in rows)


def test_a_permanent_error_is_recorded_with_its_code_and_hint_and_the_conversation_goes_on(repo, fake):
    repo.write("flows.d/orders.yaml", flow("orders", "whatsapp", "wa", TWO))
    repo.commit("two messages")
    fake.plan = lambda r: WINDOW if (r.text or "").startswith("First") else OK
    with Chat(repo.path) as chat:
        chat.wa(wa_text("15550002222", "hi"))
        fake.wait_for(1)
        chat.wait_for(lambda: settled(chat, ["15550002222"], 2), what="settled")
        first, second = chat.outbox("15550002222")
        assert (first["status"], first["attempts"], first["error"]["code"]) == ("failed", 1, "131047")
        assert "template" in first["error"]["title"]
        assert second["status"] == "sent"
        assert fake.texts() == ["Second for 15550002222"]
        (conversation,) = chat.conversations()
        failed = [s for s in chat.execution(conversation["id"])["steps"] if s["type"] == "message.failed"]
        assert failed and failed[0]["code"] == "131047"


def test_a_send_through_an_account_deleted_since_publishing_fails_without_sending(repo, fake):
    nodes = """\
    start: {type: start, next: out}
    out: {type: send, account: ops, to: "15550001111", text: Psst, next: hi}
    hi: {type: message, text: Hello, next: done}
    done: {type: end}
"""
    repo.write("flows.d/ops.yaml", OPS.format(api=fake.url))
    repo.write("flows.d/orders.yaml", flow("orders", "whatsapp", "wa", nodes))
    repo.commit("send via the ops account")
    with Chat(repo.path) as chat:
        repo.remove("flows.d/ops.yaml")  # the flow keeps its live revision (now invalid); the account goes
        repo.commit("drop the ops account")
        chat.wait_for(lambda: "ops" not in {a["name"] for a in chat.status()["accounts"]}, what="ops deleted")
        chat.wa(wa_text("15550002222", "hi"))
        (hello,) = fake.wait_for(1)
        assert hello.text == "Hello"
        (conversation,) = chat.conversations()
        messages = chat.execution(conversation["id"])["messages"]
        ops = next(m for m in messages if m["account"] == "ops")
        assert (ops["status"], ops["error"]["code"], ops["attempts"]) == ("failed", "unknown_account", 0)
        assert fake.texts(to="15550001111") == []
