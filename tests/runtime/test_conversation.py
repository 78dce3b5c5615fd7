"""A WhatsApp conversation end to end: signed webhooks into `chatflow serve`, replies counted at a
fake Graph API on 127.0.0.1."""

from __future__ import annotations

from .harness import Chat
from .payloads import wa_button, wa_text


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
