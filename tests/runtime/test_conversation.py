"""A WhatsApp conversation end to end: signed webhooks into `chatflow serve`, replies counted at a
fake Graph API on 127.0.0.1."""

from __future__ import annotations

from .harness import Chat, flow
from .payloads import messenger_text, wa_button, wa_message, wa_messages, wa_status, wa_text

HELP = """\
    start: {type: start, next: hi}
    hi: {type: message, text: Here to help., next: done}
    done: {type: end}
"""


def test_a_whatsapp_conversation_runs_through_a_question_with_buttons_to_the_end(repo, fake):
    with Chat(repo.path) as chat:
        assert chat.wa(wa_text("15550002222", "hi")).status_code == 200
        (menu,) = fake.wait_for(1)
        assert menu.text == "Hi Ana! What do you need?"
        assert menu.buttons == ["Track my order", "Talk to a person"]
        assert menu.path == "/v21.0/106540352242922/messages"
        assert menu.headers["authorization"] == "Bearer wa-access-token-1234"
        assert chat.wa(wa_button("15550002222", "track", "Track my order")).status_code == 200
        fake.wait_for(2)
        assert chat.wa(wa_text("15550002222", "1234")).status_code == 200
        fake.wait_for(4)
        assert fake.texts() == ["Hi Ana! What do you need?", "Your order number?",
                                "Order 1234 is on its way.", "Bye!"]
        (conversation,) = chat.conversations(flow="orders")
        assert conversation["status"] == "ended" and conversation["node"] == "done"
        execution = chat.execution(conversation["id"])
        assert execution["context"]["vars"] == {"choice": "track", "order": 1234}
        chat.wait_for(lambda: [m["status"] for m in chat.execution(conversation["id"])["messages"]] == ["sent"] * 4,
                      what="every reply recorded as sent")


def test_a_duplicate_delivery_is_answered_200_and_applied_once(repo, fake):
    with Chat(repo.path) as chat:
        hello = wa_text("15550002222", "hi", msg_id="wamid.same")
        assert chat.wa(hello).status_code == 200
        assert chat.wa(hello).status_code == 200  # Meta redelivers
        fake.wait_for(1)
        assert chat.wa(wa_button("15550002222", "track", "Track my order")).status_code == 200
        assert chat.wa(hello).status_code == 200  # a late redelivery does not answer the next question
        fake.wait_for(2)
        chat.wait_for(lambda: all(m["status"] == "sent" for m in chat.outbox("15550002222")), what="settled")
        assert fake.texts() == ["Hi Ana! What do you need?", "Your order number?"]
        (conversation,) = chat.conversations()
        assert conversation["node"] == "ask"


def test_two_messages_in_one_delivery_are_applied_in_payload_order(repo, fake):
    with Chat(repo.path) as chat:
        both = wa_messages(wa_message("15550002222", "hi"), wa_message("15550002222", button=("track", "Track my order")))
        assert chat.wa(both).json() == {"received": 2}
        fake.wait_for(2)
        assert fake.texts() == ["Hi Ana! What do you need?", "Your order number?"]


def test_conversations_of_different_contacts_do_not_mix(repo, fake):
    with Chat(repo.path) as chat:
        for n in range(5):
            assert chat.wa(wa_text(f"1555000{n:04d}", "hi")).status_code == 200
        for n in range(5):
            assert chat.wa(wa_button(f"1555000{n:04d}", "track", "Track my order")).status_code == 200
        fake.wait_for(10)
        for n in range(5):
            assert fake.texts(to=f"1555000{n:04d}") == ["Hi Ana! What do you need?", "Your order number?"]


def test_delivery_statuses_update_the_outbox(repo, fake):
    with Chat(repo.path) as chat:
        chat.wa(wa_text("15550002222", "hi"))
        chat.wa(wa_button("15550002222", "agent", "Talk to a person"))
        fake.wait_for(1)
        chat.wait_for(lambda: chat.outbox("15550002222") and chat.outbox("15550002222")[0]["messageId"], what="sent")
        (menu,) = chat.outbox("15550002222")
        for status in ("sent", "delivered", "read", "delivered"):  # the late `delivered` changes nothing
            assert chat.wa(wa_status(menu["messageId"], status, "15550002222")).status_code == 200
        (menu,) = chat.outbox("15550002222")
        assert menu["status"] == "read"
        (conversation,) = chat.conversations()
        steps = [s["type"] for s in chat.execution(conversation["id"])["steps"] if s["type"].startswith("message.")]
        assert steps[-3:] == ["message.sent", "message.delivered", "message.read"]


def test_a_failed_status_records_the_channels_error_code(repo, fake):
    with Chat(repo.path) as chat:
        chat.wa(wa_text("15550002222", "hi"))
        fake.wait_for(1)
        chat.wait_for(lambda: chat.outbox("15550002222") and chat.outbox("15550002222")[0]["messageId"], what="sent")
        message_id = chat.outbox("15550002222")[0]["messageId"]
        assert chat.wa(wa_status(message_id, "failed", "15550002222", code=131047)).status_code == 200
        (menu,) = chat.outbox("15550002222")
        assert menu["status"] == "failed" and menu["error"]["code"] == "131047"


def test_a_keyword_starts_its_flow_and_anything_else_the_accounts_default(repo, fake):
    repo.write("flows.d/help.yaml", flow("help", "whatsapp", "wa", HELP, keywords="help, support"))
    repo.commit("help flow")
    with Chat(repo.path) as chat:
        chat.wa(wa_text("15550002222", "  HELP "))
        chat.wa(wa_text("15550003333", "hello"))
        fake.wait_for(2)
        assert fake.texts(to="15550002222") == ["Here to help."]
        assert fake.texts(to="15550003333") == ["Hi Ana! What do you need?"]
        # a keyword never interrupts a live conversation: it is the answer (here: an invalid one)
        chat.wa(wa_text("15550003333", "help"))
        fake.wait_for(3)
        assert fake.to("15550003333")[-1].text == "Hi Ana! What do you need?"


def test_a_message_no_flow_takes_is_recorded_and_not_answered(repo, fake):
    with Chat(repo.path) as chat:
        answer = chat.fb(messenger_text("6822119311157373", "hello"))
        assert answer.status_code == 200
        assert chat.conversations() == [] and fake.received == []
        assert "no live session, keyword or default flow" in chat.output()
