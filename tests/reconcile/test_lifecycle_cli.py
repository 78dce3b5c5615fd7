"""The lifecycle end to end: real git repositories, the real SQLite store, the real CLI."""

from __future__ import annotations

import json

import pytest

from ..conftest import run_cli
from ..gitrepo import Repo, account, flow


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path / "repo")


def cli(repo: Repo, *args: str):
    return run_cli(*args, cwd=repo.path)


def status(repo: Repo) -> dict:
    result = cli(repo, "status", "-o", "json")
    return json.loads(result.stdout)


def ready(item: dict) -> dict:
    return next(c for c in item["conditions"] if c["type"] == "Ready")


def test_published_flow_delete_is_blocked_until_unpublished(repo):
    repo.write("flows.d/wa.yaml", account())
    repo.write("flows.d/faq.yaml", flow())
    first = repo.commit("add faq")
    applied = cli(repo, "apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    report = status(repo)
    (faq,) = report["flows"]
    assert report["commit"] == first
    assert (faq["actualState"], faq["commit"], ready(faq)["status"]) == ("published", first, "True")

    repo.remove("flows.d/faq.yaml")
    repo.commit("remove faq")
    planned = cli(repo, "plan", "-o", "json")
    assert planned.returncode == 1
    assert json.loads(planned.stdout)["blocked"][0]["reason"] == "PublishedDelete"
    assert cli(repo, "apply").returncode == 1
    (faq,) = status(repo)["flows"]
    assert faq["actualState"] == "published"
    assert ready(faq)["reason"] == "Blocked"

    repo.write("flows.d/faq.yaml", flow(state="unpublished"))
    repo.commit("unpublish faq")
    assert cli(repo, "apply").returncode == 0
    assert status(repo)["flows"][0]["actualState"] == "unpublished"

    repo.remove("flows.d/faq.yaml")
    repo.commit("remove faq again")
    assert cli(repo, "apply").returncode == 0
    assert status(repo)["flows"] == []

    history = json.loads(cli(repo, "history", "faq", "-o", "json").stdout)
    assert [(t["action"], t["from"], t["to"]) for t in history] == [
        ("create", None, "unpublished"),
        ("bind", "unpublished", "unpublished"),
        ("publish", "unpublished", "published"),
        ("unpublish", "published", "unpublished"),
        ("delete", "unpublished", None),
    ]


def test_rebind_while_published_is_blocked_then_allowed_after_unpublish(repo):
    repo.write("flows.d/wa.yaml", account() + "---\n" + account("wa2", "222"))
    repo.write("flows.d/faq.yaml", flow())
    repo.commit()
    assert cli(repo, "apply").returncode == 0
    repo.write("flows.d/faq.yaml", flow(account="wa2"))
    repo.commit("rebind")
    result = cli(repo, "apply")
    assert result.returncode == 1 and "PublishedRebind" in result.stdout
    assert status(repo)["flows"][0]["account"] == "wa"
    repo.write("flows.d/faq.yaml", flow(account="wa2", state="unpublished"))
    repo.commit("unpublish and rebind")
    assert cli(repo, "apply").returncode == 0
    (faq,) = status(repo)["flows"]
    assert (faq["account"], faq["actualState"]) == ("wa2", "unpublished")


def test_trigger_change_is_blocked(repo):
    repo.write("flows.d/faq.yaml", flow(state="unpublished", account=None))
    repo.commit()
    assert cli(repo, "apply").returncode == 0
    repo.write("flows.d/faq.yaml", flow(state="unpublished", account=None, trigger="viber"))
    repo.commit("viber now")
    result = cli(repo, "apply")
    assert result.returncode == 1 and "TriggerChange" in result.stdout
    assert status(repo)["flows"][0]["trigger"] == "whatsapp"


def test_account_used_by_published_flow_cannot_be_deleted(repo):
    repo.write("flows.d/wa.yaml", account())
    repo.write("flows.d/faq.yaml", flow())
    repo.commit()
    assert cli(repo, "apply").returncode == 0
    repo.remove("flows.d/wa.yaml")
    repo.write("flows.d/faq.yaml", flow())
    repo.commit("drop account")
    # the flow now names a missing account: it is invalid and keeps its live revision; the account stays
    result = cli(repo, "apply")
    assert result.returncode == 1
    report = status(repo)
    assert [a["name"] for a in report["accounts"]] == ["wa"]
    assert ready(report["accounts"][0])["reason"] == "Blocked"
    assert report["flows"][0]["actualState"] == "published"


def test_invalid_manifest_keeps_the_live_revision(repo):
    repo.write("flows.d/wa.yaml", account())
    repo.write("flows.d/faq.yaml", flow(text="v1"))
    repo.commit()
    assert cli(repo, "apply").returncode == 0
    live = status(repo)["flows"][0]["revision"]
    repo.write("flows.d/faq.yaml", flow(text="v2").replace("next: done", "next: nowhere"))
    repo.commit("broken")
    result = cli(repo, "apply")
    assert result.returncode == 1
    (faq,) = status(repo)["flows"]
    assert faq["revision"] == live
    invalid = next(c for c in faq["conditions"] if c["type"] == "Invalid")
    assert invalid["status"] == "True" and "flows.d/faq.yaml:10:" in invalid["message"] and "CF103" in invalid["message"]


def test_second_apply_of_the_same_commit_changes_nothing(repo):
    repo.write("flows.d/wa.yaml", account())
    repo.write("flows.d/faq.yaml", flow())
    repo.commit()
    assert cli(repo, "apply").returncode == 0
    again = cli(repo, "apply")
    assert again.returncode == 0 and "already reconciled" in again.stdout
    forced = cli(repo, "apply", "--force")
    assert forced.returncode == 0 and "applied 0 action(s)" in forced.stdout


def test_plan_against_base_needs_no_store(repo):
    repo.write("flows.d/wa.yaml", account())
    repo.write("flows.d/faq.yaml", flow(text="v1"))
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("flows.d/faq.yaml", flow(text="v2", logging=True))
    repo.write("flows.d/new.yaml", flow("new", keywords=("hi",)))
    repo.commit("feature")
    result = cli(repo, "plan", "--base", "main", "--head", "feature", "-o", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["base"] == repo.git("rev-parse", "main")
    assert [(a["flow"], a["action"]) for a in data["actions"]] == [
        ("faq", "set-logging"), ("faq", "publish"), ("new", "create"), ("new", "bind"), ("new", "publish")]
    assert not (repo.path / ".chatflow").exists()
    md = cli(repo, "plan", "--base", "main", "--head", "feature", "-o", "markdown").stdout
    assert "| Flow | `faq` | set-logging, publish |" in md
    assert "nodes changed: hello" in md
    assert "```mermaid" in md and "flowchart TD" in md


def test_plan_with_unknown_base_says_how_to_fix(repo):
    repo.write("flows.d/faq.yaml", flow(state="unpublished", account=None))
    repo.commit()
    result = cli(repo, "plan", "--base", "nope")
    assert result.returncode == 2
    assert "revision `nope` is not in" in result.stderr
