"""Fixtures for the flow-creation tests: real git repositories in temporary folders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from ..conftest import EXAMPLES, run_cli

FIXTURES = Path(__file__).parent / "fixtures"


def git_repo(path: Path, with_examples: bool = False) -> Path:
    """A git repository whose manifest root holds the example accounts (and, optionally, the example flows)."""
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    root = path / "flows.d"
    if with_examples:
        shutil.copytree(EXAMPLES, root)
    else:
        shutil.copytree(EXAMPLES / "accounts", root / "accounts")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "repo")


@pytest.fixture
def examples_repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "examples", with_examples=True)


def documents(path: Path) -> list[Any]:
    """The YAML documents of a written manifest file, as plain data."""
    return [d for d in YAML(typ="safe").load_all(path.read_text(encoding="utf-8")) if d is not None]


def validate(repo: Path) -> Any:
    return run_cli("validate", cwd=repo)


def files_under(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes: a snapshot to prove a refused command wrote nothing."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


@pytest.fixture(scope="session")
def fake_llm():
    """One fake OpenAI-compatible server for the session, on loopback, stopped at the end."""
    import threading

    from .fake_llm import FakeLlm

    server = FakeLlm()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
