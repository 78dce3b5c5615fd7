"""The pages in headless Chromium (Debian's `chromium`, driven directly) against a real `chatflow serve`."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import pytest

from controller.manifests.catalog import load_root
from controller.manifests.mermaid import edges
from controller.manifests.revision import spec_json

from ..conftest import EXAMPLES
from ..gitrepo import Repo
from ..server import Server
from .devtools import Browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs chromium and sets CHATFLOW_REQUIRE_BROWSER=1, so there a missing browser fails the run.
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CHATFLOW_REQUIRE_BROWSER"),
                                reason="Debian's chromium is not installed (apt-get install -y chromium)")

SVG = "{http://www.w3.org/2000/svg}"
EXAMPLE_SECRETS = {name: f"value-of-{name.lower()}" for name in (
    "ACME_WA_TOKEN", "ACME_WA_APP_SECRET", "ACME_WA_VERIFY_TOKEN", "ACME_IG_PAGE_TOKEN", "ACME_META_APP_SECRET",
    "ACME_META_VERIFY_TOKEN", "ACME_VIBER_TOKEN")}
CATALOG = load_root(EXAMPLES, EXAMPLES.parent)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The bundled examples, committed to a fresh repository and served on 127.0.0.1."""
    base = tmp_path_factory.mktemp("browser")
    repo = Repo(base / "repo")
    shutil.copytree(EXAMPLES, repo.path / "flows.d")
    repo.commit("examples")
    server = Server(repo.path, env=EXAMPLE_SECRETS).start()
    yield server, base
    server.stop()
    server.client.close()


def chromium(base: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "chromium is required here (CHATFLOW_REQUIRE_BROWSER is set): apt-get install -y chromium"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               "--hide-scrollbars", f"--user-data-dir={base / 'chromium-profile'}", *args, url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def dom(base: Path, url: str, budget_ms: int = 4000) -> str:
    """The DOM after the page's scripts ran for `budget_ms` of virtual time."""
    out = chromium(base, url, f"--virtual-time-budget={budget_ms}", "--dump-dom").stdout
    assert "</html>" in out, "chromium printed no DOM"
    return out


def canvas(html: str) -> ET.Element:
    start, end = html.index("<svg"), html.index("</svg>") + len("</svg>")
    return ET.fromstring(html[start:end])


def element_text(html: str, element_id: str) -> str:
    match = re.search(rf'<div[^>]*id="{element_id}"[^>]*>(.*?)</div>\s*<form', html, re.S)
    assert match, f"no #{element_id} in the DOM"
    return unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def artifact(base: Path, name: str) -> Path:
    """Where a screenshot goes: $CHATFLOW_ARTIFACTS when set (CI keeps that folder), else the test's tmp dir."""
    folder = Path(os.environ.get("CHATFLOW_ARTIFACTS") or base)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_flows_page_lists_every_example_and_keeps_itself_fresh(served):
    server, base = served
    html = dom(base, server.url + "/", budget_ms=12000)  # two refresh intervals
    rows = set(re.findall(r'<tr data-flow="([a-z0-9-]+)"', html))
    assert rows == set(CATALOG.flows)
    assert "all ready" in html
    refreshes = re.search(r'<body[^>]*data-refreshes="(\d+)"', html)
    assert refreshes and int(refreshes.group(1)) >= 1, "the page did not refresh itself"
    assert re.search(r'id="stale"[^>]*style="display: none;"', html), "the refresh reported an error"


@pytest.mark.parametrize("name", sorted(CATALOG.flows))
def test_every_example_flow_page_draws_its_graph_in_the_browser(served, name):
    server, base = served
    html = dom(base, f"{server.url}/flows/{name}")
    drawing = canvas(html)
    nodes = json.loads(spec_json(CATALOG.flows[name]))["nodes"]
    drawn = {g.get("data-node"): g.get("data-type") for g in drawing.iter(f"{SVG}g") if g.get("class") == "cf-node"}
    assert drawn == {nid: node["type"] for nid, node in nodes.items()}
    labels = sorted((g.get("data-from"), g.get("data-to"), g.get("data-label"))
                    for g in drawing.iter(f"{SVG}g") if "cf-edge" in (g.get("class") or "").split())
    assert labels == sorted(edges(nodes))
    events = server.client.get(f"/api/v1/flows/{name}/events", params={"limit": 50})
    assert events.status_code == 200
    if not CATALOG.flows[name].spec.logging:
        assert "spec.logging: true" in html
    else:
        assert 'id="events" data-status="ok"' in html


def test_a_screenshot_of_the_order_status_canvas_is_saved(served):
    server, base = served
    shot = artifact(base, "order-status.png")
    chromium(base, f"{server.url}/flows/order-status?say=hi", f"--screenshot={shot}", "--window-size=1280,1500",
             "--virtual-time-budget=2000")
    assert png_size(shot) == (1280, 1500)
    assert shot.stat().st_size > 40_000  # a drawing, not a blank page
    index = artifact(base, "flows.png")
    chromium(base, server.url + "/", f"--screenshot={index}", "--window-size=1280,900")
    assert png_size(index) == (1280, 900)
    print(f"\nscreenshots: {shot} {index}")


def test_a_link_carries_a_conversation_into_the_test_panel(served):
    """The happy path of the Instagram FAQ, carried by the page's link: the panel shows exactly what
    POST /api/v1/flows/{name}/test answers for the same conversation."""
    server, base = served
    says = ["hi", "Opening hours", "No, thanks"]
    html = dom(base, f"{server.url}/flows/instagram-faq?" + urlencode([("say", s) for s in says]))
    answer = server.client.post("/api/v1/flows/instagram-faq/test", json={"say": says})
    assert answer.status_code == 200
    steps = answer.json()["steps"]
    assert steps[-1]["ended"], "the happy path ends the conversation"
    shown = element_text(html, "transcript")
    assert re.search(r'id="transcript"[^>]*data-status="ok"', html)
    assert re.search(r'id="transcript"[^>]*data-ended="true"', html)
    for step in steps:
        assert step["say"] in shown
        for reply in step["replies"]:
            assert reply["text"] in shown
    assert "We're open Mon-Fri" in shown and "Thanks for reaching out!" in shown


def test_the_test_panel_completes_the_happy_path_by_typing_and_tapping_buttons(served):
    """A person's way through the panel: type a greeting, tap the reply buttons the bot shows,
    until the flow ends; each answer comes from the test endpoint."""
    server, base = served
    transcript = "document.getElementById('transcript')"
    with Browser(CHROMIUM, base / "devtools-profile") as browser:  # type: ignore[arg-type]
        browser.open(f"{server.url}/flows/instagram-faq")
        browser.type("#test-input", "hi")
        browser.wait_for(f"{transcript}.dataset.node === 'menu'", what="the menu question")
        assert browser.evaluate("[...document.querySelectorAll('#transcript button.choice')].map(b => b.textContent)") == [
            "Opening hours", "Shipping", "Returns", "Talk to us"]
        browser.click("#transcript button.choice", "Opening hours")
        browser.wait_for(f"{transcript}.dataset.node === 'more'", what="the follow-up question")
        assert "We're open Mon-Fri 9:00-18:00" in browser.evaluate(f"{transcript}.textContent")
        browser.click("#transcript button.choice", "No, thanks")
        browser.wait_for(f"{transcript}.dataset.ended === 'true'", what="the end of the conversation")
        shown = browser.evaluate(f"{transcript}.innerText")
        assert [b for b in browser.evaluate(f"[...{transcript}.querySelectorAll('.bubble.you')].map(b => b.textContent)")] == [
            "hi", "Opening hours", "No, thanks"]
        assert "Thanks for reaching out!" in shown and 'topic="hours"' in shown and 'again="no"' in shown
        assert browser.evaluate(f"{transcript}.dataset.status") == "ok"
        shot = browser.screenshot(artifact(base, "test-panel.png"))
        browser.click("#test-reset")
        browser.wait_for(f"{transcript}.children.length === 0", what="the panel to start over")
    width, height = png_size(shot)
    assert width == 1280 and height > 600 and shot.stat().st_size > 40_000
    print(f"\nscreenshot: {shot}")
