"""`chatflow graph` in real processes: Mermaid and SVG, from the files, the store's revisions and commits."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from .conftest import run_cli
from .gitrepo import Repo, account, flow

SVG = "{http://www.w3.org/2000/svg}"


def drawn_nodes(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    return {g.get("data-node"): g.get("data-type") for g in root.iter(f"{SVG}g") if g.get("class") == "cf-node"}


def title(svg: str) -> str:
    return ET.fromstring(svg).find(f"{SVG}title").text or ""


def drawn_text(svg: str) -> str:
    return " ".join(t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text"))


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "repo")
    r.write("flows.d/wa.yaml", account())
    r.write("flows.d/faq.yaml", flow(text="first words"))
    r.commit("first")
    return r


def test_graph_prints_a_mermaid_flowchart_of_an_example_flow():
    result = run_cli("graph", "order-status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("flowchart TD\n")
    assert '-->|"vars.choice == \'track\'"|' in result.stdout
    assert '-->|"no reply in 1h"|' in result.stdout and '-->|"failure"|' in result.stdout


def test_graph_svg_is_an_svg_document_with_every_node():
    result = run_cli("graph", "viber-appointments", "-o", "svg")
    assert result.returncode == 0, result.stderr
    nodes = drawn_nodes(result.stdout)
    assert nodes["start"] == "start" and nodes["reserve"] == "http" and nodes["done"] == "end"
    assert len(nodes) == 8
    assert title(result.stdout) == "viber-appointments (files on disk)"


def test_graph_of_an_unknown_flow_names_the_flows_there_are():
    result = run_cli("graph", "nope")
    assert result.returncode == 1
    assert "no flow `nope`" in result.stderr and "order-status" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_graph_of_an_invalid_flow_says_what_to_fix(repo):
    repo.write("flows.d/faq.yaml", flow().replace("next: done", "next: gone"))
    result = run_cli("graph", "faq", "--repo", str(repo.path))
    assert result.returncode == 1
    assert "flow `faq`" in result.stderr and "is invalid" in result.stderr and "gone" in result.stderr
    assert "Traceback" not in result.stderr


def test_graph_rev_live_draws_the_published_revision_not_the_edited_files(repo):
    assert run_cli("apply", "--repo", str(repo.path)).returncode == 0
    repo.write("flows.d/faq.yaml", flow(text="edited but not merged"))
    on_disk = run_cli("graph", "faq", "-o", "svg", "--repo", str(repo.path))
    live = run_cli("graph", "faq", "-o", "svg", "--rev", "live", "--repo", str(repo.path))
    assert on_disk.returncode == 0 and live.returncode == 0, live.stderr
    assert "edited but not merged" in drawn_text(on_disk.stdout)
    assert "first words" in drawn_text(live.stdout) and title(live.stdout).startswith("faq (live revision #1 ")


def test_graph_rev_takes_a_revision_number_a_revision_hash_or_a_commit(repo):
    assert run_cli("apply", "--repo", str(repo.path)).returncode == 0
    repo.write("flows.d/faq.yaml", flow(text="second words"))
    second = repo.commit("second")
    assert run_cli("apply", "--repo", str(repo.path)).returncode == 0
    first = run_cli("graph", "faq", "--rev", "1", "--repo", str(repo.path))
    assert first.returncode == 0 and "first words" in first.stdout and "second words" not in first.stdout
    history = run_cli("history", "faq", "-o", "json", "--repo", str(repo.path))
    hashes = [t["revision"] for t in json.loads(history.stdout) if t["revision"]]
    by_hash = run_cli("graph", "faq", "--rev", hashes[-1], "--repo", str(repo.path))
    assert by_hash.returncode == 0 and "second words" in by_hash.stdout
    at_commit = run_cli("graph", "faq", "--rev", "HEAD~1", "-o", "svg", "--repo", str(repo.path))
    assert at_commit.returncode == 0 and "first words" in drawn_text(at_commit.stdout)
    assert title(at_commit.stdout).startswith("faq (commit ")
    assert run_cli("graph", "faq", "--rev", second[:12], "--repo", str(repo.path)).returncode == 0


def test_graph_rev_explains_what_is_missing(repo):
    no_state = run_cli("graph", "faq", "--rev", "live", "--repo", str(repo.path))
    assert no_state.returncode == 2 and "no state at" in no_state.stderr and "chatflow apply" in no_state.stderr
    assert run_cli("apply", "--repo", str(repo.path)).returncode == 0
    missing = run_cli("graph", "faq", "--rev", "7", "--repo", str(repo.path))
    assert missing.returncode == 1 and "no revision #7" in missing.stderr and "#1" in missing.stderr
    unknown = run_cli("graph", "faq", "--rev", "no-such-branch", "--repo", str(repo.path))
    assert unknown.returncode == 2 and "no-such-branch" in unknown.stderr
    for result in (no_state, missing, unknown):
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_graph_rev_live_of_an_unpublished_flow_points_at_its_stored_revision(repo):
    repo.write("flows.d/faq.yaml", flow(state="unpublished"))
    repo.commit("unpublish")
    assert run_cli("apply", "--repo", str(repo.path)).returncode == 0
    result = run_cli("graph", "faq", "--rev", "live", "--repo", str(repo.path))
    assert result.returncode == 1
    assert "no live revision" in result.stderr and "--rev 1" in result.stderr


def test_graph_help_shows_its_examples_one_per_line():
    result = run_cli("graph", "--help")
    assert result.returncode == 0
    assert "\n    chatflow graph order-status -o svg > order-status.svg\n" in result.stdout
