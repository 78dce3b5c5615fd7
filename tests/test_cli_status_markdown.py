"""`chatflow status -o markdown` in real processes: a PR comment with the tables, what is wrong and a diagram per flow."""

from __future__ import annotations

from .conftest import run_cli
from .gitrepo import Repo, account, flow


def test_status_markdown_has_the_table_the_reasons_and_a_mermaid_diagram_per_flow(tmp_path):
    repo = Repo(tmp_path / "repo")
    repo.write("flows.d/wa.yaml", account())
    repo.write("flows.d/faq.yaml", flow(text="Hello!"))
    repo.write("flows.d/draft.yaml", flow("draft", state="unpublished", keywords=("draft",)))
    first = repo.commit("first")
    assert run_cli("apply", "--repo", str(repo.path)).returncode == 0
    repo.write("flows.d/faq.yaml", flow(text="v2").replace("next: done", "next: gone"))
    head = repo.commit("broken")
    assert run_cli("apply", "--repo", str(repo.path)).returncode == 1

    result = run_cli("status", "-o", "markdown", "--repo", str(repo.path))
    assert result.returncode == 1  # not everything is Ready
    md = result.stdout
    assert md.startswith(f"### chatflow status at `{head[:12]}`")
    assert "| flow | trigger | account | desired | actual | revision | commit | ready | reason |" in md
    faq = next(line for line in md.splitlines() if line.startswith("| `faq` |"))
    assert f"`{first[:12]}`" in faq and "❌" in faq and "| Invalid |" in faq
    draft = next(line for line in md.splitlines() if line.startswith("| `draft` |"))
    assert "| unpublished |" in draft and "✅" in draft
    assert "| `wa` | whatsapp | ✅ | Applied |" in md
    not_ready = md.split("#### Not ready", 1)[1]
    assert "- Flow `faq` **Invalid**" in not_ready and "stays live" in not_ready
    assert "Invalid (ValidationFailed)" in not_ready and "gone" in not_ready
    assert md.count("```mermaid") == 2
    assert "#### `faq` · revision #1" in md and "(live)" in md
    assert "#### `draft` · revision #1" in md and "(newest, not live)" in md
    assert "flowchart TD" in md and "hello<br/><i>message</i><br/>Hello!" in md
