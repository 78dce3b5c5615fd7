"""Hot swap: a new revision serves new conversations at once, while a conversation in flight
finishes on the revision it started on (also after an unpublish)."""

from __future__ import annotations

from .harness import ORDERS, Chat
from .payloads import wa_button, wa_text

V2 = ORDERS.replace("What do you need?", "How can I help today?").replace("is on its way.", "ships tomorrow.")


def live_revision(chat: Chat, name: str) -> str | None:
    return next((f["revision"] for f in chat.status()["flows"] if f["name"] == name and f["actualState"] == "published"),
                None)


def test_a_new_revision_goes_live_while_a_conversation_in_flight_keeps_its_own(repo, fake):
    with Chat(repo.path) as chat:
        first = live_revision(chat, "orders")
        chat.wa(wa_text("15550001000", "hi"))  # in flight on revision 1
        fake.wait_for(1)
        repo.write("flows.d/orders.yaml", V2)
        repo.commit("orders v2")
        chat.wait_for(lambda: live_revision(chat, "orders") not in (None, first), what="revision 2 live")
        chat.wa(wa_text("15550002000", "hi"))  # a new conversation: revision 2
        fake.wait_for(1, to="15550002000")
        chat.wa(wa_button("15550001000", "track", "Track my order"))
        chat.wa(wa_text("15550001000", "77"))
        fake.wait_for(4, to="15550001000")
        assert fake.texts(to="15550001000") == ["Hi Ana! What do you need?", "Your order number?",
                                                "Order 77 is on its way.", "Bye!"]
        assert fake.texts(to="15550002000") == ["Hi Ana! How can I help today?"]
        revisions = {c["contact"]["address"]: c["revision"] for c in chat.conversations()}
        assert revisions == {"15550001000": first, "15550002000": live_revision(chat, "orders")}


def test_a_conversation_finishes_on_its_revision_after_the_flow_is_unpublished(repo, fake):
    with Chat(repo.path) as chat:
        chat.wa(wa_text("15550001000", "hi"))
        fake.wait_for(1)
        repo.write("flows.d/orders.yaml", ORDERS.replace("state: published", "state: unpublished"))
        repo.commit("unpublish orders")
        chat.wait_for(lambda: live_revision(chat, "orders") is None, what="unpublished")
        chat.wa(wa_button("15550001000", "track", "Track my order"))
        chat.wa(wa_text("15550001000", "8"))
        fake.wait_for(4, to="15550001000")
        assert fake.texts(to="15550001000")[-2:] == ["Order 8 is on its way.", "Bye!"]
        chat.wa(wa_text("15550003000", "hi"))  # nothing serves new conversations now
        chat.wait_for(lambda: "no live session, keyword or default flow" in chat.output(), what="unanswered")
        assert fake.texts(to="15550003000") == []
