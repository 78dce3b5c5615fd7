"""Remote repositories: a URL cloned into a cache directory and fetched before each reconcile."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import git

from .git import GitSource, SourceError

_URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")


def is_url(location: str) -> bool:
    return bool(_URL.match(location))


def redact_url(url: str) -> str:
    """https://user:token@host/x -> https://***@host/x: credentials never reach logs or status."""
    return re.sub(r"//[^/@]+@", "//***@", url)


class RemoteSource(GitSource):
    """A clone of `url` under `cache_dir`; `fetch()` brings the tracked branch up to date.

    Credentials come from the environment and git's own configuration (credential helpers,
    SSH agent, GIT_ASKPASS), never from manifests. A force-push is fine: desired state is simply
    whatever commit the branch points at after the fetch.
    """

    def __init__(self, url: str, cache_dir: Path, branch: str | None = None) -> None:
        self.url = url
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        path = cache_dir / key
        if not (path / ".git").exists() and not (path / "HEAD").exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                git.Repo.clone_from(url, path, no_checkout=True)
            except git.GitCommandError as exc:
                raise SourceError(f"cannot clone {redact_url(url)}: {_stderr(exc)}") from None
        super().__init__(path)
        self.branch = branch or self._remote_default_branch()

    def _remote_default_branch(self) -> str:
        try:
            ref = self.repo.git.symbolic_ref("refs/remotes/origin/HEAD").strip()
            return ref.rsplit("/", 1)[-1]
        except git.GitCommandError:
            return "main"

    @property
    def tracked(self) -> str:
        return f"refs/remotes/origin/{self.branch}"

    def fetch(self) -> None:
        try:
            self.repo.git.fetch("--prune", "--force", "origin", f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}")
        except git.GitCommandError as exc:
            raise SourceError(f"fetch of {redact_url(self.url)} ({self.branch}) failed: {_stderr(exc)}") from None


def _stderr(exc: git.GitCommandError) -> str:
    text = str(exc.stderr or exc).strip().strip("'").strip()
    return redact_url(text.splitlines()[-1] if text else "git failed")
