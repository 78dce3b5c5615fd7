"""`start_flow`: this flow ends and asks the host to start another for the same conversation."""

from __future__ import annotations

from controller.engine import Start, advance

from ..helpers import KEY, T0, Chat, make_flow, of_type, texts


def test_ends_this_flow_and_requests_the_other_with_evaluated_variables():
    f = make_flow({
        "start": {"type": "start", "next": "go"},
        "go": {"type": "start_flow", "flow": "survey", "variables": {"who": "contact.name", "score": "2 * 5"}},
    })
    step = Chat(f).start()
    assert step.session.status == "ended" and step.session.outcome == "start_flow"
    request = step.start_flow
    assert request.flow == "survey" and dict(request.variables) == {"who": "Ana", "score": 10}


def test_the_host_starts_the_other_flow_with_only_its_declared_inputs():
    survey = make_flow({
        "start": {"type": "start", "next": "hi"},
        "hi": {"type": "message", "text": "Hi {{ vars.who }} ({{ trigger.who }}), score {{ vars.score }}", "next": "done"},
        "done": {"type": "end"},
    }, name="survey", variables={"who": {"type": "string"}})
    first = Chat(make_flow({
        "start": {"type": "start", "next": "go"},
        "go": {"type": "start_flow", "flow": "survey", "variables": {"who": "contact.name", "score": "10"}},
    })).start()
    request = first.start_flow
    step = advance(survey, first.session, Start(KEY, "rev9", variables=request.variables), T0)
    assert texts(step) == ["Hi Ana (Ana), score "]
    assert of_type(step, "flow.started")[0].fields["dropped"] == ["score"]
    assert of_type(step, "flow.ended")[0].conversation == step.session.id
