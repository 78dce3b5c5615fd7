"""What the cross-document rules need to know of one manifest, small enough to cache per git blob.

Validation is two phases: local rules look at one document (graph, templates, limits...) and
need the parsed model; global rules (accounts exist, keywords unique, names unique...) look
at every document's Facts only. A reconcile caches each blob's Facts and local diagnostics, so
an unchanged file is never parsed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from .diagnostics import Diagnostic, Severity
from .loader import Loc

Locate = Callable[[Loc, str], tuple[int, int]]


def _no_place(loc: Loc, want: str) -> tuple[int, int]:
    return 1, 1


@dataclass
class Facts:
    kind: str
    name: str
    path: str
    index: int  # the document's position in its file
    # Flow
    trigger: str | None = None
    account: str | None = None
    state: str | None = None
    keywords: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    start_flows: list[tuple[str, str]] = field(default_factory=list)  # (node, flow)
    sends: list[tuple[str, str]] = field(default_factory=list)  # (node, account)
    # diagnostics a send node gets once its account's channel is known: "channel/node" -> diagnostics
    send_limits: dict[str, list[Diagnostic]] = field(default_factory=dict)
    # Account
    channel: str | None = None
    channel_id: str | None = None
    # FlowTest
    test_flow: str | None = None
    expected_nodes: list[tuple[int, str]] = field(default_factory=list)  # (step index, node)
    locate: Locate = _no_place

    def diagnostic(self, code: str, message: str, loc: Loc = (), hint: str | None = None, want: str = "value") -> Diagnostic:
        line, column = self.locate(loc, want)
        return Diagnostic.make(code, message, self.path, line, column, hint, (self.kind, self.name))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "index": self.index}
        for key in ("trigger", "account", "state", "channel", "channel_id", "test_flow"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        for key in ("keywords", "nodes", "start_flows", "sends", "expected_nodes"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.send_limits:
            out["send_limits"] = {c: [diagnostic_json(d) for d in ds] for c, ds in self.send_limits.items()}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], path: str, locate: Locate = _no_place) -> "Facts":
        subject = (data["kind"], data["name"])
        return cls(
            kind=data["kind"], name=data["name"], path=path, index=data["index"],
            trigger=data.get("trigger"), account=data.get("account"), state=data.get("state"),
            keywords=list(data.get("keywords", [])), nodes=list(data.get("nodes", [])),
            start_flows=[tuple(x) for x in data.get("start_flows", [])],  # type: ignore[misc]
            sends=[tuple(x) for x in data.get("sends", [])],  # type: ignore[misc]
            send_limits={c: [diagnostic_from_json(d, path, subject) for d in ds] for c, ds in data.get("send_limits", {}).items()},
            channel=data.get("channel"), channel_id=data.get("channel_id"), test_flow=data.get("test_flow"),
            expected_nodes=[tuple(x) for x in data.get("expected_nodes", [])],  # type: ignore[misc]
            locate=locate,
        )


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    """A diagnostic without its path (a blob may sit at any path)."""
    out = d.to_json()
    out.pop("path")
    return out


def diagnostic_from_json(data: dict[str, Any], path: str, subject: tuple[str, str] | None = None) -> Diagnostic:
    return Diagnostic(data["code"], data["message"], path, data["line"], data["column"], data.get("hint"),
                      Severity(data["severity"]), subject)


def at_path(d: Diagnostic, path: str) -> Diagnostic:
    return replace(d, path=path)
