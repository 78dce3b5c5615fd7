"""The real HTTP service against a server on 127.0.0.1: secrets at call time, bounds, failures."""

from __future__ import annotations

import json

import pytest

from controller.engine import HttpRequest, Services
from controller.engine.http import HttpClient
from controller.manifests.components import SecretRef

from .fakeserver import Answer
from .helpers import Chat, make_flow, of_type, texts


@pytest.fixture
def client():
    with HttpClient() as c:
        yield c


def test_json_request_with_query_and_a_secret_header_resolved_at_call_time(server, client, monkeypatch):
    server.routes["/orders/7"] = Answer(200, {"status": "shipped"})
    monkeypatch.setenv("ORDERS_TOKEN", "s3cret-value")
    response = client(HttpRequest("POST", f"{server.url}/orders/7", headers=(("Authorization", SecretRef(env="ORDERS_TOKEN")), ("X-Plain", "p")),
                                  query=(("lang", "en"),), body={"a": 1}))
    assert response.ok and response.status == 200 and response.body == {"status": "shipped"}
    [seen] = server.seen
    assert seen.method == "POST" and seen.path == "/orders/7?lang=en"
    assert seen.headers["authorization"] == "s3cret-value" and seen.headers["x-plain"] == "p"
    assert json.loads(seen.body) == {"a": 1}
    assert response.elapsed_ms is not None


def test_a_query_string_in_the_url_is_kept_beside_the_query_fields(server, client):
    server.routes["/orders"] = Answer(200, {"status": "shipped"})
    assert client(HttpRequest("GET", f"{server.url}/orders?id=7&kind=a")).ok
    assert client(HttpRequest("GET", f"{server.url}/orders?id=8", query=(("lang", "en"),))).ok
    assert [seen.path for seen in server.seen] == ["/orders?id=7&kind=a", "/orders?id=8&lang=en"]


def test_form_body(server, client):
    server.routes["/f"] = Answer(201, "created")
    response = client(HttpRequest("PUT", f"{server.url}/f", body={"name": "Ana", "n": 2}, body_type="form"))
    assert response.ok and response.body == "created"
    assert server.seen[0].body == b"name=Ana&n=2"
    assert server.seen[0].headers["content-type"] == "application/x-www-form-urlencoded"


def test_a_non_2xx_answer_is_a_status_not_an_error(server, client):
    server.routes["/x"] = Answer(503, {"error": "down"})
    response = client(HttpRequest("GET", f"{server.url}/x"))
    assert not response.ok and response.status == 503 and response.error is None and response.body == {"error": "down"}


def test_redirects_are_not_followed(server, client):
    server.routes["/old"] = Answer(302, "", {"Location": "/new"})
    server.routes["/new"] = Answer(200, "new")
    response = client(HttpRequest("GET", f"{server.url}/old"))
    assert response.status == 302 and not response.ok
    assert [s.path for s in server.seen] == ["/old"]


def test_a_slow_answer_times_out(server, client):
    server.routes["/slow"] = Answer(200, "late", delay=1.0)
    response = client(HttpRequest("GET", f"{server.url}/slow", timeout=0.2))
    assert response.status is None and response.error == "timed out after 0.2s"


def test_an_answer_over_the_limit_is_refused(server):
    server.routes["/big"] = Answer(200, b"x" * 5000)
    with HttpClient(max_bytes=1000) as small:
        response = small(HttpRequest("GET", f"{server.url}/big"))
    assert not response.ok and response.error == "response larger than 1000 bytes"


def test_a_missing_secret_fails_without_calling(server, client, monkeypatch):
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    response = client(HttpRequest("GET", f"{server.url}/x", headers=(("Authorization", SecretRef(env="NOT_SET_TOKEN")),)))
    assert response.error == "secret missing: environment variable NOT_SET_TOKEN is not set"
    assert server.seen == []


def test_a_refused_connection_is_an_error(client):
    response = client(HttpRequest("GET", "http://127.0.0.1:9/nothing", timeout=2))
    assert response.status is None and response.error.startswith("ConnectError")


def test_an_http_node_through_the_real_client_saves_and_never_logs_the_secret(server, client, monkeypatch):
    monkeypatch.setenv("ORDERS_TOKEN", "s3cret-value")
    server.routes["/api/orders/1234"] = Answer(200, {"status": "shipped", "delivery": {"eta": "Friday"}})
    flow = make_flow({
        "start": {"type": "start", "next": "lookup"},
        "lookup": {"type": "http", "url": server.url + "/api/orders/{{ vars.order_id }}", "headers": {"Authorization": {"env": "ORDERS_TOKEN"}},
                   "save": {"status": "status", "eta": "delivery.eta"}, "next": "tell"},
        "tell": {"type": "message", "text": "{{ vars.status }} {{ vars.eta }}", "next": "done"},
        "done": {"type": "end"},
    }, variables={"order_id": {"type": "number", "default": 1234}})
    step = Chat(flow, Services(http=client)).start()
    assert texts(step) == ["shipped Friday"]
    assert of_type(step, "http.call")[0].fields["status"] == 200
    assert "s3cret-value" not in repr(step) and "s3cret-value" not in json.dumps(step.session.to_json())


def test_a_client_error_never_echoes_a_secret(server, client, monkeypatch):
    monkeypatch.setenv("BAD_TOKEN", "top\nsecret")  # a header value no client may send
    server.routes["/x"] = Answer(200, "ok")
    response = client(HttpRequest("GET", f"{server.url}/x", headers=(("Authorization", SecretRef(env="BAD_TOKEN")),)))
    assert not response.ok
    assert "secret" not in response.error.replace("env BAD_TOKEN", "")
