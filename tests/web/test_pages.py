"""The read-only pages of `chatflow serve` over real HTTP: the flows table, a flow's page, access rules."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from ..gitrepo import Repo, account, flow
from ..server import Server

SVG = "{http://www.w3.org/2000/svg}"
SECRETS = {"WA_TOKEN": "t0ken-value", "WA_SECRET": "app-secret", "WA_VERIFY": "verify-me"}


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    @property
    def all_text(self) -> str:
        return " ".join(self.text)


def svg_of(html: str) -> ET.Element:
    start, end = html.index("<svg"), html.index("</svg>") + len("</svg>")
    return ET.fromstring(html[start:end])


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "repo")
    r.write("flows.d/wa.yaml", account())
    r.write("flows.d/faq.yaml", flow(text="Hello from v1", display="Frequent <b>questions</b>", logging=True))
    r.write("flows.d/draft.yaml", flow("draft", state="unpublished", keywords=("draft",)))
    r.commit("first")
    return r


def test_the_flows_table_shows_state_conditions_and_commit(repo):
    with Server(repo.path, env=SECRETS) as server:
        response = server.client.get("/")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        page = Elements(response.text)
        commit = server.status()["commit"]
        rows = {r["data-flow"] for r in page.find("tr") if r.get("data-flow")}
        assert rows == {"faq", "draft"}
        assert page.find("a", href="/flows/faq") and page.find("a", href="/flows/draft")
        text = page.all_text
        assert "published" in text and "unpublished" in text
        assert commit[:12] in text and "Applied" in text
        assert page.find("tr", data_account="wa")
        assert "t0ken-value" not in response.text and "app-secret" not in response.text


def test_the_table_says_why_a_flow_is_not_ready(repo):
    repo.write("flows.d/faq.yaml", flow(text="v2").replace("next: done", "next: gone"))
    repo.commit("broken")
    with Server(repo.path) as server:
        text = Elements(server.client.get("/").text).all_text
        assert "Not ready" in text and "ValidationFailed" in text and "gone" in text


def test_a_flow_page_draws_the_canvas_and_lists_revisions(repo):
    with Server(repo.path) as server:
        repo.write("flows.d/faq.yaml", flow(text="Hello from v2", display="Frequent <b>questions</b>", logging=True))
        head = repo.commit("v2")
        server.wait_for(lambda: server.status()["commit"] == head, what="v2 live")
        response = server.client.get("/flows/faq")
        assert response.status_code == 200
        page = Elements(response.text)
        canvas = svg_of(response.text)
        nodes = {g.get("data-node"): g.get("data-type") for g in canvas.iter(f"{SVG}g") if g.get("class") == "cf-node"}
        assert nodes == {"start": "start", "hello": "message", "done": "end"}
        assert "Hello from v2" in " ".join(t.text or "" for t in canvas.iter(f"{SVG}text"))
        revisions = [r["data-revision"] for r in page.find("tr") if r.get("data-revision")]
        assert len(revisions) == 2
        assert page.find("a", href="/flows/faq?rev=1")
        assert page.find("section", id="test-panel", data_url="/api/v1/flows/faq/test")
        assert page.find("section", id="events-section", data_url="/api/v1/flows/faq/events?limit=50", data_logging="true")
        assert "Frequent <b>questions</b>" in page.all_text and "<b>questions</b>" not in response.text  # escaped
        older = server.client.get("/flows/faq?rev=1")
        assert "Hello from v1" in " ".join(t.text or "" for t in svg_of(older.text).iter(f"{SVG}text"))
        assert "(not live)" in Elements(older.text).all_text


def test_the_canvas_is_also_served_as_an_svg_file(repo):
    with Server(repo.path) as server:
        response = server.client.get("/flows/faq/graph.svg")
        assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
        assert ET.fromstring(response.text).tag == f"{SVG}svg"
        assert server.client.get("/flows/nope/graph.svg").status_code == 404


def test_a_flow_without_logging_says_how_to_turn_it_on(repo):
    with Server(repo.path) as server:
        page = Elements(server.client.get("/flows/draft").text)
        assert page.find("section", id="events-section", data_logging="false")
        assert "spec.logging: true" in page.all_text


def test_a_flow_that_never_validated_shows_why_and_no_canvas(repo):
    repo.write("flows.d/new.yaml", flow("new", keywords=("new",)).replace("next: done", "next: gone"))
    repo.commit("a broken new flow")
    with Server(repo.path) as server:
        response = server.client.get("/flows/new")
        assert response.status_code == 200 and "<svg" not in response.text
        text = Elements(response.text).all_text
        assert "No stored revision to draw yet: the manifest has never been valid" in text
        assert "ValidationFailed" in text and "gone" in text


def test_a_manual_flow_page_offers_its_trigger_inputs(repo):
    manual = flow("blast", trigger="manual", account=None).replace(
        "  nodes:", "  variables:\n    phone: {type: string}\n    total: {type: number, default: 5}\n  nodes:")
    repo.write("flows.d/blast.yaml", manual)
    repo.commit("manual flow")
    with Server(repo.path) as server:
        html = server.client.get("/flows/blast").text
        page = Elements(html)
        assert page.find("section", id="test-panel", data_manual="true") and page.find("button", id="test-start")
        assert '{&#34;phone&#34;: &#34;&#34;, &#34;total&#34;: 5}' in html


def test_an_unknown_flow_is_a_404_page(repo):
    with Server(repo.path) as server:
        response = server.client.get("/flows/nope")
        assert response.status_code == 404 and "no flow `nope`" in response.text


def test_pages_refresh_their_live_parts(repo):
    with Server(repo.path) as server:
        html = server.client.get("/flows/faq").text
        page = Elements(html)
        live = {a["id"] for _, a in page.tags if "data-live" in a}
        assert {"summary", "canvas", "conditions", "revisions"} <= live
        assert 'http-equiv="refresh"' in html  # without scripts, the whole page reloads
        repo.write("flows.d/faq.yaml", flow(text="Hello from v3", logging=True))
        head = repo.commit("v3")
        server.wait_for(lambda: server.status()["commit"] == head, what="v3 live")
        assert "Hello from v3" in server.client.get("/flows/faq").text  # what a refresh swaps in


def test_pages_need_the_token_off_loopback_and_a_login_cookie_keeps_it(repo):
    with Server(repo.path, "--host", "0.0.0.0", env={"CHATFLOW_API_TOKEN": "s3cret"}) as server:
        for path in ("/", "/flows/faq", "/flows/faq/graph.svg"):
            denied = server.client.get(path)
            assert denied.status_code == 401 and "/login?token=" in denied.text
        assert server.client.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        wrong = server.client.get("/login", params={"token": "nope"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        login = server.client.get("/login", params={"token": "s3cret", "next": "/flows/faq"})
        assert login.status_code == 303 and login.headers["location"] == "/flows/faq"
        cookie = login.headers["set-cookie"].lower()
        assert "chatflow_token=s3cret" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        server.client.cookies.set("chatflow_token", "s3cret")
        assert server.client.get("/").status_code == 200
        assert server.client.get("/flows/faq").status_code == 200
        assert server.client.get("/status").status_code == 200
        elsewhere = server.client.get("/login", params={"token": "s3cret", "next": "//evil.example/x"})
        assert elsewhere.headers["location"] == "/"


def test_off_loopback_without_a_token_set_pages_stay_closed(repo):
    with Server(repo.path, "--host", "0.0.0.0", env={"CHATFLOW_API_TOKEN": ""}) as server:
        assert server.client.get("/").status_code == 401
        login = server.client.get("/login", params={"token": "anything"})
        assert login.status_code == 401 and "no CHATFLOW_API_TOKEN" in login.text


def test_on_loopback_without_a_token_login_just_goes_to_the_page(repo):
    with Server(repo.path) as server:
        response = server.client.get("/login", params={"next": "/flows/faq"})
        assert response.status_code == 303 and response.headers["location"] == "/flows/faq"
