"""A local git repository as the source of desired state: commits, trees, blobs and diffs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import git

from controller.manifests.loader import MANIFEST_SUFFIXES


class SourceError(Exception):
    """A git problem the user can fix; the message says how."""


@dataclass(frozen=True)
class TreeEntry:
    path: str  # relative to the repository root, '/'-separated
    blob: str  # git object id (hex)


@dataclass(frozen=True)
class Change:
    status: str  # A (added), M (modified), D (deleted)
    path: str
    blob: str | None  # the new blob; None when deleted


def _is_manifest(path: str, root: str) -> bool:
    if not path.endswith(MANIFEST_SUFFIXES):
        return False
    inside = path[len(root) + 1:] if root else path
    return not any(part.startswith(".") for part in inside.split("/"))


class GitSource:
    """Reads manifests from commits of one repository (never from the work tree)."""

    def __init__(self, path: Path) -> None:
        try:
            self.repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise SourceError(f"{path} is not inside a git repository; run `git init` there or pass --repo") from None
        if self.repo.bare:
            self.root_dir = Path(self.repo.git_dir)
        else:
            self.root_dir = Path(self.repo.working_tree_dir or path)

    def close(self) -> None:
        self.repo.close()

    # -- refs ---------------------------------------------------------------------------------
    def current_branch(self) -> str | None:
        try:
            return self.repo.active_branch.name
        except TypeError:  # detached HEAD
            return None

    def resolve(self, rev: str) -> str:
        """A revision (branch, tag, sha, HEAD~1) -> full commit sha."""
        try:
            return self.repo.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}").strip()
        except git.GitCommandError:
            pass
        hint = ""
        if self.is_shallow():
            hint = f"; this is a shallow clone: fetch it with `git fetch --unshallow` or `git fetch origin {rev}`"
        elif "/" not in rev and self._has_remote_branch(rev):
            hint = f"; did you mean `origin/{rev}`? (or `git fetch origin {rev}:{rev}`)"
        raise SourceError(f"revision `{rev}` is not in {self.root_dir}{hint}")

    def _has_remote_branch(self, name: str) -> bool:
        try:
            self.repo.git.rev_parse("--verify", "--quiet", f"origin/{name}")
            return True
        except git.GitCommandError:
            return False

    def is_shallow(self) -> bool:
        return (Path(self.repo.git_dir) / "shallow").exists()

    def merge_base(self, a: str, b: str) -> str:
        try:
            return self.repo.git.merge_base(a, b).strip()
        except git.GitCommandError:
            hint = " (a shallow clone may lack it: `git fetch --unshallow`)" if self.is_shallow() else ""
            raise SourceError(f"commits {a[:12]} and {b[:12]} have no merge base{hint}; use --no-merge-base") from None

    def has_commits(self) -> bool:
        try:
            self.repo.head.commit
            return True
        except ValueError:
            return False

    # -- trees and blobs ----------------------------------------------------------------------
    def manifests(self, commit: str, root: str) -> list[TreeEntry]:
        """Every manifest file under `root` in the commit's tree, sorted by path."""
        root = root.strip("/")
        out = self.repo.git.ls_tree("-r", "-z", "--full-tree", commit, "--", root or ".")
        entries = []
        for record in out.split("\0"):
            if not record:
                continue
            meta, path = record.split("\t", 1)
            _mode, kind, blob = meta.split()
            if kind == "blob" and _is_manifest(path, root):
                entries.append(TreeEntry(path, blob))
        return sorted(entries, key=lambda e: e.path)

    def read(self, blobs: Iterable[str]) -> dict[str, bytes]:
        """Blob contents by id, through one persistent `git cat-file --batch`."""
        odb = self.repo.odb
        return {b: odb.stream(bytes.fromhex(b)).read() for b in blobs}

    def changes(self, old: str, new: str, root: str) -> list[Change]:
        """Manifest files added, modified or deleted under `root` between two commits."""
        root = root.strip("/")
        try:
            out = self.repo.git.diff_tree("-r", "-z", "--no-renames", "--no-commit-id", old, new, "--", root or ".")
        except git.GitCommandError:
            raise SourceError(f"cannot compare {old[:12]} with {new[:12]} in {self.root_dir}: is each a commit of this "
                              "repository? (a shallow clone may lack one: `git fetch --unshallow`)") from None
        fields = [f for f in out.split("\0")]
        changes = []
        i = 0
        while i + 1 < len(fields):
            meta, path = fields[i], fields[i + 1]
            i += 2
            if not meta.startswith(":"):
                continue
            parts = meta[1:].split()
            new_blob, status = parts[3], parts[4][0]
            if not _is_manifest(path, root):
                continue
            changes.append(Change(status if status in "AMD" else "M", path, None if status == "D" else new_blob))
        return changes

    def commit_summary(self, commit: str) -> str:
        c = self.repo.commit(commit)
        return f"{commit[:12]} {c.summary}"
