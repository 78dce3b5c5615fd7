"""Reading the desired state of one commit: manifests from git, summarised per blob and cached."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from controller.lifecycle.desired import from_summaries
from controller.lifecycle.state import DesiredState
from controller.manifests.diagnostics import Diagnostic
from controller.manifests.loader import decode as decode_text
from controller.manifests.loader import discover, locate
from controller.manifests.models import Account
from controller.manifests.summary import FileSummary, assemble, decode, decode_specs, encode, summarize
from controller.source.git import GitSource, TreeEntry
from controller.store.base import StateStore

PARALLEL_FROM = 400  # files to parse before a second process is worth its start-up


@dataclass
class Snapshot:
    commit: str
    desired: DesiredState
    diagnostics: list[Diagnostic] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)  # the valid Account manifests
    # where each valid document came from, to fetch its spec only when an action needs it
    origins: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)  # -> (blob, index)
    parsed: int = 0  # files parsed (not from the cache)
    files: list[FileSummary] = field(default_factory=list)  # from git, until the reconciler indexes them
    partial: bool = False  # an incremental read: only what the commit's diff touches


def _spec_key(blob: str) -> str:
    return f"{blob}#spec"


def _summarize_payload(job: tuple[str, bytes, str, str | None]) -> tuple[str, bytes, bytes]:
    path, data, blob, secret_root = job
    light, specs = encode(summarize(path, data, blob, Path(secret_root) if secret_root else None))
    return blob, light, specs


def read_commit(source: GitSource, commit: str, root: str, secret_root: Path | None = None,
                store: StateStore | None = None) -> Snapshot:
    """The desired state at `commit`. With a store, blob summaries come from and go to its cache."""
    files, specs, parsed = summaries(source, source.manifests(commit, root), secret_root, store)
    snapshot = _snapshot(commit, files)
    snapshot.parsed = parsed
    snapshot.files = files
    fill_specs(snapshot, specs)
    return snapshot


def summaries(source: GitSource, entries: list[TreeEntry], secret_root: Path | None = None,
              store: StateStore | None = None) -> tuple[list[FileSummary], dict[str, bytes], int]:
    """(a summary per entry, the spec payloads of the blobs parsed now, how many were parsed):
    cached blobs are decoded, the others parsed (in worker processes when many) and cached."""
    blobs = sorted({e.blob for e in entries})
    cached = store.cached_parse(blobs) if store is not None else {}
    texts: dict[str, str] = {}

    def locator(blob: str):
        def for_index(index: int):
            def place(loc, want):
                if blob not in texts:
                    text, _ = decode_text("", source.read([blob])[blob])
                    texts[blob] = text.text if text else ""
                return locate(texts[blob], index, loc, want)
            return place
        return for_index

    missing = [b for b in blobs if b not in cached]
    specs: dict[str, bytes] = {}
    if missing:
        contents = source.read(missing)
        path_of = {e.blob: e.path for e in entries}
        jobs = [(path_of[b], contents[b], b, str(secret_root) if secret_root else None) for b in missing]
        fresh = {}
        for blob, light, spec in _run(jobs):
            cached[blob] = light
            specs[blob] = spec
            fresh[blob] = light
            fresh[_spec_key(blob)] = spec
        if store is not None:
            store.put_parse(fresh)
    files: list[FileSummary] = []
    for e in entries:
        summary = decode(e.path, e.blob, cached[e.blob], locator(e.blob))
        if summary is None:  # an older cache format: parse again
            data = source.read([e.blob])[e.blob]
            summary = summarize(e.path, data, e.blob, secret_root)
            light, spec = encode(summary)
            specs[e.blob] = spec
            if store is not None:
                store.put_parse({e.blob: light, _spec_key(e.blob): spec})
        files.append(summary)
    return files, specs, len(missing)


def fill_specs(snapshot: Snapshot, specs: dict[str, bytes]) -> None:
    """Flows parsed in this run carry their spec at once; cached ones get it when needed."""
    for name, flow in list(snapshot.desired.flows.items()):
        origin = snapshot.origins.get(("Flow", name))
        if origin is not None and origin[0] in specs:
            spec = decode_specs(specs[origin[0]]).get(origin[1])
            if spec is not None:
                snapshot.desired.flows[name] = replace(flow, spec_json=spec)


def _run(jobs: list[tuple[str, bytes, str, str | None]]) -> list[tuple[str, bytes, bytes]]:
    workers = min(os.cpu_count() or 1, 4)
    if len(jobs) < PARALLEL_FROM or workers < 2:
        return [_summarize_payload(j) for j in jobs]
    chunk = max(1, len(jobs) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_summarize_payload, jobs, chunksize=chunk))


def _snapshot(commit: str, files: Iterable[FileSummary]) -> Snapshot:
    assembled = assemble(files)
    accounts: dict[str, Account] = {}
    origins: dict[tuple[str, str], tuple[str, int]] = {}
    for f, d in assembled.valid:
        if d.identity is not None and f.blob is not None:
            origins[d.identity] = (f.blob, d.index)
        if d.kind == "Account" and d.record is not None:
            accounts[d.name or ""] = Account.model_validate(
                {"apiVersion": "chatflow/v1", "kind": "Account", "metadata": {"name": d.name},
                 "spec": json.loads(d.record["spec_json"])})
    desired = from_summaries(assembled)
    return Snapshot(commit, desired, assembled.diagnostics, accounts, origins)


def load_specs(source: GitSource, store: StateStore | None, snapshot: Snapshot, names: Iterable[str],
               secret_root: Path | None = None) -> dict[str, str]:
    """Spec JSON of the named flows, from the cache (or by parsing their blobs again)."""
    wanted = {n: snapshot.origins[("Flow", n)] for n in names if ("Flow", n) in snapshot.origins}
    keys = sorted({_spec_key(blob) for blob, _ in wanted.values()})
    payloads = store.cached_parse(keys) if store is not None else {}
    out: dict[str, str] = {}
    for name, (blob, index) in wanted.items():
        payload = payloads.get(_spec_key(blob))
        if payload is None:
            summary = summarize(name, source.read([blob])[blob], blob, secret_root)
            _, payload = encode(summary)
        spec = decode_specs(payload).get(index)
        if spec is not None:
            out[name] = spec
    return out


def read_worktree(repo_dir: Path, root: str, secret_root: Path | None = None) -> Snapshot:
    """The files on disk; the label is a hash of their contents, so unchanged files short-circuit."""
    base = repo_dir / root
    files = discover(base) if base.exists() else []
    digest = hashlib.sha256()
    summaries = []
    for f in files:
        rel = str(f.relative_to(repo_dir)).replace("\\", "/")
        data = f.read_bytes()
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        summaries.append(summarize(rel, data, None, secret_root))
    snapshot = _snapshot(f"worktree:{digest.hexdigest()[:12]}", summaries)
    snapshot.parsed = len(summaries)
    for s in summaries:  # nothing is cached: keep the specs at hand
        for d in s.docs:
            if d.kind == "Flow" and d.spec is not None and d.name in snapshot.desired.flows:
                snapshot.desired.flows[d.name] = replace(snapshot.desired.flows[d.name], spec_json=d.spec)
    return snapshot
