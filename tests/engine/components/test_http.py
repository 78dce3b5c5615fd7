"""`http`: templated request, JMESPath saves, on_failure for non-2xx/timeout/error, secrets by reference."""

from __future__ import annotations

import pytest

from controller.engine import HttpRequest, HttpResponse, Services
from controller.manifests.components import SecretRef

from ..helpers import Chat, make_flow, of_type, texts


class Recorder:
    def __init__(self, *responses: HttpResponse) -> None:
        self.responses = list(responses)
        self.requests: list[HttpRequest] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        return self.responses.pop(0)


def flow(**http) -> object:
    node = {"type": "http", "url": "https://api.example.com/orders/{{ vars.order }}", "next": "ok", **http}
    return make_flow({
        "start": {"type": "start", "next": "call"},
        "call": node,
        "ok": {"type": "message", "text": "status={{ vars.status }} eta={{ vars.eta }}", "next": "done"},
        "bad": {"type": "message", "text": "sorry", "next": "done"},
        "done": {"type": "end"},
    }, variables={"order": {"type": "string", "default": "A1"}})


def run(f, *responses: HttpResponse) -> tuple[object, Recorder]:
    recorder = Recorder(*responses)
    return Chat(f, Services(http=recorder)).start(), recorder


def test_renders_url_headers_query_and_json_body():
    f = flow(method="POST", headers={"X-Order": "{{ vars.order }}", "Authorization": {"env": "ORDERS_TOKEN"}},
             query={"lang": "{{ contact.name | lower }}"}, body={"id": "{{ vars.order }}", "n": 3, "tags": ["{{ channel }}"]},
             timeout="5s")
    _, recorder = run(f, HttpResponse(200, {}))
    [req] = recorder.requests
    assert req.method == "POST" and req.url == "https://api.example.com/orders/A1"
    assert req.headers == (("X-Order", "A1"), ("Authorization", SecretRef(env="ORDERS_TOKEN")))
    assert req.query == (("lang", "ana"),)
    assert req.body == {"id": "A1", "n": 3, "tags": ["whatsapp"]} and req.body_type == "json"
    assert req.timeout == 5.0


def test_secret_headers_reach_the_service_as_references_only():
    f = flow(headers={"Authorization": {"env": "ORDERS_TOKEN"}})
    step, recorder = run(f, HttpResponse(200, {}))
    assert isinstance(recorder.requests[0].headers[0][1], SecretRef)
    assert "ORDERS_TOKEN" not in repr([e.fields for e in step.executions])


def test_2xx_saves_fields_with_jmespath_and_goes_to_next():
    f = flow(save={"status": "status", "eta": "delivery.eta", "first": "items[0].sku"})
    step, _ = run(f, HttpResponse(200, {"status": "shipped", "delivery": {"eta": "Friday"}, "items": [{"sku": "X"}]}))
    assert texts(step) == ["status=shipped eta=Friday"]
    assert step.session.vars["first"] == "X"


def test_a_missing_path_saves_nothing():
    step, _ = run(flow(save={"status": "nope.deeper"}), HttpResponse(200, {"status": "x"}))
    assert "status" not in step.session.vars and texts(step) == ["status= eta="]


@pytest.mark.parametrize(
    "response",
    [HttpResponse(404, {"error": "no"}), HttpResponse(302, ""), HttpResponse(None, error="timed out after 5s"),
     HttpResponse(None, error="ConnectError: refused")],
)
def test_non_2xx_timeouts_and_errors_take_on_failure(response):
    step, _ = run(flow(on_failure="bad", save={"status": "status"}), response)
    assert texts(step) == ["sorry"] and "status" not in step.session.vars
    [call] = of_type(step, "http.call")
    assert call.fields["status"] == response.status and call.fields["error"] == response.error


def test_without_on_failure_a_failed_call_ends_the_conversation():
    step, _ = run(flow(), HttpResponse(500, "boom"))
    assert step.session.outcome == "failed" and texts(step) == []


def test_form_body():
    _, recorder = run(flow(method="POST", body_type="form", body={"a": "{{ vars.order }}"}), HttpResponse(200, {}))
    assert recorder.requests[0].body == {"a": "A1"} and recorder.requests[0].body_type == "form"


def test_the_logged_url_has_no_credentials_or_secret_query_values():
    f = flow(url="https://user:pw@api.example.com/x?token=abc&q=1", query={"api_key": "{{ vars.order }}", "page": "2"})
    step, recorder = run(f, HttpResponse(200, {}))
    logged = of_type(step, "http.call")[0].fields["url"]
    assert logged == "https://api.example.com/x?token=***&q=1&api_key=***&page=2"
    assert recorder.requests[0].url == "https://user:pw@api.example.com/x?token=abc&q=1"


def test_a_url_that_is_not_http_fails_before_any_call():
    step, recorder = run(flow(url="{{ vars.order }}/x", on_failure="bad"))
    assert recorder.requests == [] and texts(step) == ["sorry"]
    assert "is not an http:// or https:// URL" in of_type(step, "error")[0].fields["message"]


def test_a_bad_jmespath_is_a_logged_failure():
    step, _ = run(flow(save={"x": "a[?"}, on_failure="bad"), HttpResponse(200, {"a": 1}))
    assert texts(step) == ["sorry"]
    assert "JMESPath" in of_type(step, "error")[0].fields["message"]
