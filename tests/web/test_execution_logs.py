"""Execution logs end to end: conversations driven through signed webhooks into a real `chatflow
serve`, replies taken by a fake Graph API on 127.0.0.1, read back with `chatflow logs` (a real
process reading the state file), `GET /api/v1/flows/{name}/events` and `/metrics`."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..conftest import PROJECT, run_cli
from ..engine.fakeserver import Answer, FakeServer
from ..gitrepo import Repo
from ..runtime.fakechannel import FakeChannel
from ..runtime.harness import ACCOUNTS, SECRETS, Chat, flow
from ..runtime.payloads import FB_PAGE_ID, IG_USER_ID, WA_PHONE_ID, body, meta_signature, wa_button, wa_text
from .test_metrics import samples, value

LOOKUP_TOKEN = "lookup-bearer-token-9f8e7d"
URL_PASSWORD = "url-password-5c4b3a"
QUERY_KEY = "query-api-key-1a2b3c"
ORDER = "424242"
SHOP = """\
    start: {{type: start, next: menu}}
    menu:
      type: question
      text: "Hi {{{{ contact.name }}}}! What do you need?"
      buttons: [{{id: track, title: Track my order}}, {{id: other, title: Something else}}]
      save_as: choice
      next: route
    route:
      type: condition
      branches: [{{when: "vars.choice == 'track'", next: ask}}]
      default: bye
    ask: {{type: question, text: "Your order number?", expect: number, save_as: order, next: lookup}}
    lookup:
      type: http
      url: "http://127.0.0.1:{port}/orders?api_key={key}&order={{{{ vars.order }}}}"
      headers: {{Authorization: {{env: LOOKUP_TOKEN}}}}
      save: {{state: status}}
      next: audit
    audit: {{type: http, method: POST, url: "http://robot:{password}@127.0.0.1:{port}/audit", body: {{seen: true}}, next: tell}}
    tell: {{type: message, text: "Order {{{{ vars.order }}}} is {{{{ vars.state }}}}.", next: bye}}
    bye: {{type: message, text: "Bye!", next: done}}
    done: {{type: end, outcome: told}}
"""
QUIET = """\
    start: {type: start, next: hi}
    hi: {type: message, text: "Quiet here.", next: done}
    done: {type: end}
"""
STEPS = {"flow.started", "node.entered", "node.left", "message.received", "message.queued", "message.sent",
         "var.set", "http.call", "flow.ended"}


@dataclass(frozen=True)
class Site:
    repo: Repo
    fake: FakeChannel
    lookup: FakeServer


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Accounts whose API is a fake channel, a logging `shop` flow (the account's default) that
    looks the order up over HTTP with secrets, and a `quiet` flow with logging off."""
    base = tmp_path_factory.mktemp("logs")
    with FakeChannel() as fake, FakeServer() as lookup:
        lookup.routes["/orders"] = Answer(200, {"status": "shipped"})
        lookup.routes["/audit"] = Answer(204)
        repo = Repo(base / "repo")
        repo.write("flows.d/accounts.yaml", ACCOUNTS.format(wa=WA_PHONE_ID, fb=FB_PAGE_ID, ig=IG_USER_ID, api=fake.url))
        port = lookup.httpd.server_address[1]
        repo.write("flows.d/shop.yaml", flow("shop", "whatsapp", "wa",
                                             SHOP.format(password=URL_PASSWORD, port=port, key=QUERY_KEY)))
        repo.write("flows.d/quiet.yaml", flow("quiet", "whatsapp", "wa", QUIET, keywords="quiet", logging=False))
        repo.commit("shop and quiet")
        yield Site(repo, fake, lookup)


def serve(site: Site, name: str, **env: str) -> Chat:
    state = site.repo.path.parent / f"{name}.db"
    return Chat(site.repo.path, env={"LOOKUP_TOKEN": LOOKUP_TOKEN, **env}, state=state)


@pytest.fixture(scope="module")
def chat(site):
    server = serve(site, "state").start()
    yield server
    server.stop()
    server.client.close()


def converse(chat: Chat, fake: FakeChannel, contact: str) -> str:
    """The shop flow's happy path for `contact`; returns the conversation id once every reply is
    recorded as sent."""
    assert chat.wa(wa_text(contact, "hi")).status_code == 200
    fake.wait_for(1, to=contact)
    assert chat.wa(wa_button(contact, "track", "Track my order")).status_code == 200
    fake.wait_for(2, to=contact)
    assert chat.wa(wa_text(contact, ORDER)).status_code == 200
    fake.wait_for(4, to=contact)
    assert fake.texts(to=contact) == ["Hi Ana! What do you need?", "Your order number?",
                                      f"Order {ORDER} is shipped.", "Bye!"]
    (conversation,) = [c for c in chat.conversations(flow="shop") if c["contact"]["address"] == contact]
    chat.wait_for(lambda: [m["status"] for m in chat.execution(conversation["id"])["messages"]] == ["sent"] * 4,
                  what="every reply recorded as sent")
    return conversation["id"]


@pytest.fixture(scope="module")
def conversation(chat, site):
    """One conversation, and the metrics scraped just before it."""
    before = samples(chat.client.get("/metrics").text)
    return converse(chat, site.fake, "15550001001"), before


def logs(chat: Chat, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("logs", *args, "--state", str(chat_state(chat)), cwd=chat.repo)


def chat_state(chat: Chat) -> Path:
    return Path(chat.args[chat.args.index("--state") + 1])


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ---- a conversation in `chatflow logs` ----------------------------------------------------------------


def test_a_webhook_conversation_shows_every_step_in_chatflow_logs(chat, conversation):
    session_id, _ = conversation
    result = logs(chat, "shop", "--conversation", session_id, "-o", "json")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert {e["conversation"] for e in events} == {session_id} and {e["flow"] for e in events} == {"shop"}
    assert STEPS <= {e["type"] for e in events}
    assert events[0]["type"] == "flow.started"
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    entered = [e["node"] for e in events if e["type"] == "node.entered"]
    assert entered == ["start", "menu", "route", "ask", "lookup", "audit", "tell", "bye", "done"]
    assert {(e["fields"]["name"], e["fields"]["value"]) for e in events if e["type"] == "var.set"} == {
        ("choice", "track"), ("order", int(ORDER)), ("state", "shipped")}
    assert [e["fields"]["text"] for e in events if e["type"] == "message.queued"] == [
        "Hi Ana! What do you need?", "Your order number?", f"Order {ORDER} is shipped.", "Bye!"]
    assert [e["fields"]["text"] for e in events if e["type"] == "message.received"] == ["hi", "Track my order", ORDER]
    assert len([e for e in events if e["type"] == "message.sent"]) == 4
    (ended,) = [e for e in events if e["type"] == "flow.ended"]
    assert ended["fields"]["outcome"] == "told" and ended["node"] == "done"
    revision = chat.execution(session_id)["revision"]
    assert all(e["revision"] == revision and e["time"].endswith("Z") for e in events)


def test_the_text_output_has_one_readable_line_per_event(chat, conversation):
    session_id, _ = conversation
    as_json = json_lines(logs(chat, "shop", "--conversation", session_id, "-o", "json").stdout)
    result = logs(chat, "shop", "--conversation", session_id)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(as_json)
    first = lines[0].split()
    assert first[1:4] == [session_id, "-", "flow.started"] and first[0].endswith("Z")
    assert any(f"{session_id}  ask  var.set  name=order value={ORDER}" in line for line in lines)
    assert any(f"  tell  message.queued  text=\"Order {ORDER} is shipped.\"" in line for line in lines)
    assert "\x1b[" not in result.stdout  # plain text, no colour codes


def test_since_and_the_events_api_filter_the_same_way(chat, conversation):
    session_id, _ = conversation
    recent = json_lines(logs(chat, "shop", "--since", "1h", "-o", "json").stdout)
    assert session_id in {e["conversation"] for e in recent}
    assert logs(chat, "shop", "--since", "2999-01-01T00:00:00Z").stdout == ""
    api = chat.client.get("/api/v1/flows/shop/events", params={"conversation": session_id, "since": "1h", "limit": 1000})
    assert api.status_code == 200
    cli = json_lines(logs(chat, "shop", "--conversation", session_id, "-o", "json").stdout)
    assert api.json()["events"] == cli and api.json()["logging"] is True
    newest = chat.client.get("/api/v1/flows/shop/events", params={"conversation": session_id, "limit": 2}).json()
    assert newest["events"] == cli[-2:] and newest["truncated"] is True and newest["cursor"] == cli[-1]["seq"]
    after = chat.client.get("/api/v1/flows/shop/events", params={"after": cli[-3]["seq"], "conversation": session_id})
    assert after.json()["events"] == cli[-2:]


def test_the_events_api_refuses_unknown_flows_and_bad_filters(chat):
    unknown = chat.client.get("/api/v1/flows/shopp/events")
    assert unknown.status_code == 404 and "did you mean shop" in unknown.json()["error"]
    for params, words in (({"since": "yesterday"}, "since 'yesterday' is neither"), ({"limit": "0"}, "limit '0'"),
                          ({"limit": "lots"}, "limit 'lots'"), ({"after": "-1"}, "after '-1' is not a cursor")):
        answer = chat.client.get("/api/v1/flows/shop/events", params=params)
        assert answer.status_code == 400 and words in answer.json()["error"], params


def test_chatflow_logs_explains_an_unknown_flow_a_bad_since_and_a_missing_state(chat, tmp_path):
    unknown = logs(chat, "shopp")
    assert unknown.returncode == 2 and "no flow `shopp` in the state store; did you mean shop?" in unknown.stderr
    assert unknown.stdout == "" and "Traceback" not in unknown.stderr
    for since in ("yesterday", "1y", "-1h"):
        bad = logs(chat, "shop", "--since", since)
        assert bad.returncode == 2 and f"--since {since!r} is neither a duration such as 1h" in bad.stderr, since
    missing = run_cli("logs", "shop", "--state", str(tmp_path / "nothing.db"))
    assert missing.returncode == 2 and "`chatflow serve` has not run here yet" in missing.stderr
    assert not (tmp_path / "nothing.db").exists()
    helped = run_cli("logs", "--help")
    assert helped.returncode == 0 and "chatflow logs order-status --since 1h" in helped.stdout


# ---- logging off --------------------------------------------------------------------------------------


def test_with_logging_off_the_conversation_does_not_appear_in_logs(chat, site):
    contact = "15550001002"
    assert chat.wa(wa_text(contact, "quiet")).status_code == 200
    site.fake.wait_for(1, to=contact)
    (quiet,) = [c for c in chat.conversations(flow="quiet") if c["contact"]["address"] == contact]
    chat.wait_for(lambda: [m["status"] for m in chat.execution(quiet["id"])["messages"]] == ["sent"],
                  what="the reply recorded as sent")
    result = logs(chat, "quiet", "-o", "json")
    assert result.returncode == 0 and result.stdout == ""
    assert "flow quiet has spec.logging: false, so nothing is recorded" in result.stderr
    everything = json_lines(logs(chat, "shop", "-o", "json", "--limit", "10000").stdout)
    assert quiet["id"] not in {e["conversation"] for e in everything}
    answer = chat.client.get("/api/v1/flows/quiet/events").json()
    assert answer["events"] == [] and answer["logging"] is False


# ---- metrics ------------------------------------------------------------------------------------------


def test_the_conversation_is_counted_in_metrics(chat, conversation):
    _, before = conversation
    raw = body(wa_text("15550001003", "hi"))
    assert chat.client.post("/webhooks/whatsapp/wa", content=raw, headers=meta_signature(raw, "wrong")).status_code == 401
    assert chat.client.post("/webhooks/telegram/x", content=raw).status_code == 404
    after = samples(chat.client.get("/metrics").text)

    def grew(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert grew("chatflow_webhook_requests_total", channel="whatsapp", outcome="ok") >= 3
    assert grew("chatflow_webhook_requests_total", channel="whatsapp", outcome="unauthorized") == 1
    assert grew("chatflow_webhook_requests_total", channel="unknown", outcome="not_found") == 1
    assert grew("chatflow_events_processed_total", channel="whatsapp", type="message") >= 3
    assert grew("chatflow_outbox_messages", channel="whatsapp", status="sent") >= 4
    assert value(after, "chatflow_outbox_depth", channel="whatsapp") == 0
    assert value(after, "chatflow_outbox_messages", channel="whatsapp", status="failed") == 0
    assert value(after, "chatflow_timers_pending") == 0
    for status in ("active", "waiting", "handed_over"):
        assert value(after, "chatflow_active_sessions", status=status) is not None


def test_a_waiting_conversation_is_an_active_session_and_a_redelivery_is_not_processed_twice(chat, site):
    contact = "15550001004"
    before = samples(chat.client.get("/metrics").text)
    hello = wa_text(contact, "hi")
    assert chat.wa(hello).status_code == 200
    assert chat.wa(hello).status_code == 200  # Meta redelivers
    site.fake.wait_for(1, to=contact)
    after = samples(chat.client.get("/metrics").text)
    assert value(after, "chatflow_active_sessions", status="waiting") - value(before, "chatflow_active_sessions",
                                                                               status="waiting") == 1
    assert (value(after, "chatflow_events_processed_total", channel="whatsapp", type="message")
            - (value(before, "chatflow_events_processed_total", channel="whatsapp", type="message") or 0)) == 1
    assert (value(after, "chatflow_webhook_requests_total", channel="whatsapp", outcome="ok")
            - value(before, "chatflow_webhook_requests_total", channel="whatsapp", outcome="ok")) == 2


# ---- secrets and bodies -------------------------------------------------------------------------------


def test_http_call_events_never_carry_secret_headers_or_url_secrets(chat, site, conversation):
    session_id, _ = conversation
    lookup = next(s for s in site.lookup.seen if f"order={ORDER}" in s.path)
    assert lookup.headers["authorization"] == LOOKUP_TOKEN and QUERY_KEY in lookup.path  # the service got them
    audit = next(s for s in site.lookup.seen if s.path == "/audit")
    assert audit.headers["authorization"].startswith("Basic ")  # the URL's credentials
    printed = logs(chat, "shop", "--conversation", session_id, "-o", "json").stdout
    served = chat.client.get("/api/v1/flows/shop/events", params={"conversation": session_id}).text
    port = site.lookup.httpd.server_address[1]
    calls = [e for e in json_lines(printed) if e["type"] == "http.call"]
    assert [(e["node"], e["fields"]["method"], e["fields"]["url"], e["fields"]["status"]) for e in calls] == [
        ("lookup", "GET", f"http://127.0.0.1:{port}/orders?api_key=***&order={ORDER}", 200),
        ("audit", "POST", f"http://127.0.0.1:{port}/audit", 204)]
    for secret in (LOOKUP_TOKEN, URL_PASSWORD, QUERY_KEY, SECRETS["WA_TOKEN"], SECRETS["WA_SECRET"]):
        assert secret not in printed and secret not in served


def test_message_bodies_are_withheld_when_configured(site):
    contact = "15550001005"
    with serve(site, "withheld", CHATFLOW_LOG_MESSAGE_BODIES="false") as quiet:
        session_id = converse(quiet, site.fake, contact)
        printed = logs(quiet, "shop", "--conversation", session_id, "-o", "json").stdout
    events = json_lines(printed)
    assert STEPS <= {e["type"] for e in events}  # every step is still there
    for kind, field in (("message.received", "text"), ("message.queued", "text"), ("var.set", "value")):
        assert {e["fields"][field] for e in events if e["type"] == kind} == {"[withheld]"}, kind
    http = [e["fields"]["url"] for e in events if e["type"] == "http.call"]
    assert http[0].endswith("/orders?api_key=[withheld]&order=[withheld]") and http[1].endswith("/audit")
    for text in ("Track my order", ORDER, "shipped", "What do you need", "Bye!", QUERY_KEY, LOOKUP_TOKEN, URL_PASSWORD):
        assert text not in printed, text
    assert {e["fields"]["name"] for e in events if e["type"] == "var.set"} == {"choice", "order", "state"}


# ---- following ----------------------------------------------------------------------------------------


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child: Ctrl-C does what it does in a terminal, even when the tests run where SIGINT
    is ignored (a background job of a shell without job control), which a child would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_logs_follow_prints_new_events_as_they_are_stored_until_interrupted(chat, site):
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "controller", "logs", "shop", "--follow", "-o", "json",
                             "--since", "1s", "--state", str(chat_state(chat))], cwd=PROJECT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_as_in_a_terminal)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        time.sleep(1.5)  # the first read is done; what follows arrives by polling
        contact = "15550001006"
        assert chat.wa(wa_text(contact, "hi")).status_code == 200
        (live,) = chat.wait_for(lambda: [c for c in chat.conversations(flow="shop") if c["contact"]["address"] == contact],
                                what="the conversation")
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        while not {"flow.started", "message.queued", "message.sent"} <= {e["type"] for e in seen
                                                                         if e["conversation"] == live["id"]}:
            assert time.monotonic() < deadline, f"--follow printed only {seen}"
            try:
                seen.append(json.loads(lines.get(timeout=1)))
            except queue.Empty:
                pass
        assert [e["seq"] for e in seen] == sorted({e["seq"] for e in seen})  # in order, none twice
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # -X faulthandler: every thread's stack to stderr
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            err = proc.stderr.read()  # type: ignore[union-attr]  (stdout is the reader thread's)
            raise AssertionError(f"`chatflow logs --follow` did not stop within 15 s of Ctrl-C; it printed: {err}") from None
    assert code == 0 and "Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
