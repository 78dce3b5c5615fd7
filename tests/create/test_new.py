"""`chatflow new`: a blank flow (start -> end) in flows.d/NAME.yaml, or refusal with nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import run_cli
from .conftest import documents, files_under, validate


def test_blank_flow_is_unpublished_unbound_and_validates(repo: Path):
    result = run_cli("new", "support", "--trigger", "whatsapp", cwd=repo)
    assert result.returncode == 0, result.stderr
    path = repo / "flows.d" / "support.yaml"
    text = path.read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../schemas/chatflow.schema.json"
    (flow,) = documents(path)
    assert flow["kind"] == "Flow" and flow["metadata"] == {"name": "support"}
    assert flow["spec"]["state"] == "unpublished"
    assert flow["spec"]["trigger"] == {"type": "whatsapp"}
    assert flow["spec"]["nodes"] == {"start": {"type": "start", "next": "done"}, "done": {"type": "end"}}
    checked = validate(repo)
    assert checked.returncode == 0 and "0 errors, 0 warnings" in checked.stdout


def test_output_names_the_path_and_the_next_steps(repo: Path):
    result = run_cli("new", "support", "--trigger", "viber", cwd=repo)
    assert "created flows.d/support.yaml: flow `support`" in result.stdout
    assert "chatflow validate flows.d/support.yaml" in result.stdout
    assert "chatflow test support --say hi" in result.stdout
    assert "bind a viber account" in result.stdout


@pytest.mark.parametrize("trigger", ["manual", "whatsapp", "instagram", "viber", "messenger"])
def test_every_trigger_type_makes_a_valid_flow(repo: Path, trigger: str):
    assert run_cli("new", f"flow-{trigger}", "--trigger", trigger, cwd=repo).returncode == 0
    (flow,) = documents(repo / "flows.d" / f"flow-{trigger}.yaml")
    assert flow["spec"]["trigger"]["type"] == trigger
    assert validate(repo).returncode == 0


def test_account_display_name_and_remark_are_written(repo: Path):
    result = run_cli("new", "support", "--trigger", "whatsapp", "--account", "acme-wa",
                     "--display-name", "Support: first line", "--remark", "Answers \"help\" on WhatsApp", cwd=repo)
    assert result.returncode == 0, result.stderr
    (flow,) = documents(repo / "flows.d" / "support.yaml")
    assert flow["metadata"] == {"name": "support", "displayName": "Support: first line", "remark": "Answers \"help\" on WhatsApp"}
    assert flow["spec"]["trigger"] == {"type": "whatsapp", "account": "acme-wa"}
    assert "bound to account acme-wa" in result.stdout
    assert validate(repo).returncode == 0


def test_a_fresh_repository_gets_its_manifest_root(tmp_path: Path):
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert run_cli("new", "hello", "--trigger", "manual", cwd=tmp_path).returncode == 0
    assert (tmp_path / "flows.d" / "hello.yaml").is_file()
    assert validate(tmp_path).returncode == 0


def test_repo_and_root_options_choose_where_and_the_modeline_follows(repo: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("new", "deep", "--trigger", "manual", "--repo", str(repo), "--root", "config/flows", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    text = (repo / "config" / "flows" / "deep.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../../schemas/chatflow.schema.json\n")


def test_a_name_used_in_any_file_under_the_root_is_refused(repo: Path):
    team = repo / "flows.d" / "team"
    team.mkdir()
    (team / "all.yaml").write_text(
        "apiVersion: chatflow/v1\nkind: Flow\nmetadata: {name: support}\n"
        "spec:\n  trigger: {type: manual}\n  nodes:\n    start: {type: start, next: e}\n    e: {type: end}\n"
    )
    before = files_under(repo)
    result = run_cli("new", "support", "--trigger", "whatsapp", cwd=repo)
    assert result.returncode == 1
    assert "a flow named `support` already exists in flows.d/team/all.yaml" in result.stderr
    assert files_under(repo) == before


def test_a_name_used_by_a_broken_manifest_is_still_taken(repo: Path):
    (repo / "flows.d" / "old.yaml").write_text("apiVersion: chatflow/v1\nkind: Flow\nmetadata: {name: support}\nspec: {}\n")
    result = run_cli("new", "support", "--trigger", "whatsapp", cwd=repo)
    assert result.returncode == 1
    assert "already exists in flows.d/old.yaml" in result.stderr


def test_an_existing_file_of_that_name_is_refused(repo: Path):
    (repo / "flows.d" / "support.yaml").write_text("# notes, not a flow yet\n")
    before = files_under(repo)
    result = run_cli("new", "support", "--trigger", "whatsapp", cwd=repo)
    assert result.returncode == 1
    assert "flows.d/support.yaml already exists" in result.stderr
    assert files_under(repo) == before


@pytest.mark.parametrize("name", ["Support", "support_bot", "-support", "support-", "a" * 64, "sup port"])
def test_an_invalid_name_is_refused_with_the_rule(repo: Path, name: str):
    before = files_under(repo)
    result = run_cli("new", "--trigger", "whatsapp", "--", name, cwd=repo)
    assert result.returncode == 1
    assert f"{name!r} is not a valid flow name" in result.stderr
    assert "lower-case letters, digits and '-'" in result.stderr and "at most 63 characters" in result.stderr
    assert "Traceback" not in result.stderr
    assert files_under(repo) == before


def test_an_account_on_a_manual_trigger_is_refused(repo: Path):
    before = files_under(repo)
    result = run_cli("new", "campaign", "--trigger", "manual", "--account", "acme-wa", cwd=repo)
    assert result.returncode == 1
    assert "a manual trigger takes no account" in result.stderr
    assert files_under(repo) == before


def test_an_unknown_account_is_refused_naming_the_ones_that_fit(repo: Path):
    before = files_under(repo)
    result = run_cli("new", "support", "--trigger", "viber", "--account", "acme-vibr", cwd=repo)
    assert result.returncode == 1
    assert "account `acme-vibr` does not exist (viber accounts here: acme-viber)" in result.stderr
    assert files_under(repo) == before


def test_an_account_of_another_channel_is_refused(repo: Path):
    before = files_under(repo)
    result = run_cli("new", "support", "--trigger", "messenger", "--account", "acme-wa", cwd=repo)
    assert result.returncode == 1
    assert "account `acme-wa` is a whatsapp account; a messenger trigger needs a messenger account" in result.stderr
    assert files_under(repo) == before


def test_a_blank_flow_needs_a_trigger(repo: Path):
    result = run_cli("new", "support", cwd=repo)
    assert result.returncode == 1
    assert "--trigger is required for a blank flow: one of manual, whatsapp, instagram, viber, messenger" in result.stderr
    assert not (repo / "flows.d" / "support.yaml").exists()


def test_every_command_shows_examples_in_its_help():
    top = run_cli("--help")
    commands = [line.split()[0] for line in top.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert {"new", "templates", "export", "import", "generate", "plan", "apply", "status", "history", "serve"} <= set(commands)
    for command in commands:
        sub = run_cli(command, "--help")
        assert sub.returncode == 0 and "Usage" in sub.stdout, command
        assert "Examples:" in sub.stdout or command == "templates", command
