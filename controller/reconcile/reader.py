"""Reading the desired state of one commit: manifests from git, validated as a catalog."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from controller.lifecycle.desired import from_catalog
from controller.lifecycle.state import DesiredState
from controller.manifests.catalog import Catalog, load_blobs
from controller.manifests.loader import discover
from controller.source.git import GitSource


@dataclass(frozen=True)
class Snapshot:
    commit: str
    catalog: Catalog
    desired: DesiredState


def read_commit(source: GitSource, commit: str, root: str, secret_root: Path | None = None) -> Snapshot:
    entries = source.manifests(commit, root)
    contents = source.read(e.blob for e in entries)
    catalog = load_blobs(((e.path, contents[e.blob], e.blob) for e in entries), secret_root)
    return Snapshot(commit, catalog, from_catalog(catalog))


def read_worktree(repo_dir: Path, root: str, secret_root: Path | None = None) -> Snapshot:
    """The files on disk; the label is a hash of their contents, so unchanged files short-circuit."""
    base = repo_dir / root
    files = discover(base) if base.exists() else []
    digest = hashlib.sha256()
    blobs = []
    for f in files:
        rel = str(f.relative_to(repo_dir)).replace("\\", "/")
        data = f.read_bytes()
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        blobs.append((rel, data, None))
    catalog = load_blobs(blobs, secret_root)
    return Snapshot(f"worktree:{digest.hexdigest()[:12]}", catalog, from_catalog(catalog))
