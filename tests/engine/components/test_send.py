"""`send` (From/To): a message to a templated recipient from a named account."""

from __future__ import annotations

from ..helpers import Chat, make_flow, of_type


def flow(to: str):
    return make_flow({
        "start": {"type": "start", "next": "out"},
        "out": {"type": "send", "account": "acme-wa", "to": to,
                "template": {"name": "cart_reminder", "language": "en", "params": ["{{ vars.first_name }}"]}, "next": "done"},
        "done": {"type": "end", "outcome": "sent"},
    }, trigger={"type": "manual"}, variables={"phone": {"type": "string"}, "first_name": {"type": "string", "default": "there"}})


def test_addressed_to_the_rendered_recipient_through_the_named_account():
    step = Chat(flow("{{ vars.phone }}")).start(None, {"phone": "+15550003333"})
    [out] = step.messages
    assert out.to == "+15550003333" and out.account == "acme-wa" and not out.to_contact
    assert out.message.template.params == ("there",)
    assert of_type(step, "message.queued")[0].fields == {"account": "acme-wa", "to": "+15550003333"}
    assert step.session.outcome == "sent"


def test_an_empty_recipient_is_an_error_and_nothing_is_sent():
    step = Chat(flow("{{ vars.phone }}")).start(None, {})
    assert step.messages == [] and step.session.outcome == "failed"
    assert "`to` rendered empty" in of_type(step, "error")[0].fields["message"]
