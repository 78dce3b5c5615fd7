"""Helpers for manifest tests: write manifests as YAML text and validate them in-process."""

from __future__ import annotations

import textwrap
from pathlib import Path

from controller.manifests.catalog import Catalog, from_load
from controller.manifests.diagnostics import Diagnostic
from controller.manifests.loader import LoadResult, load_bytes

WA_ACCOUNT = """\
apiVersion: chatflow/v1
kind: Account
metadata: {name: acme-wa}
spec:
  channel: whatsapp
  credentials: {accessToken: {env: WA_TOKEN}, appSecret: {env: WA_SECRET}, verifyToken: {env: WA_VERIFY}}
  whatsapp: {phoneNumberId: "106540352242922"}
"""


def account(name: str, channel: str, channel_id: str = "1001", sender: str = "Acme") -> str:
    blocks = {
        "whatsapp": ("{accessToken: {env: T}, appSecret: {env: S}, verifyToken: {env: V}}", f'whatsapp: {{phoneNumberId: "{channel_id}"}}'),
        "messenger": ("{pageAccessToken: {env: T}, appSecret: {env: S}, verifyToken: {env: V}}", f'messenger: {{pageId: "{channel_id}"}}'),
        "instagram": ("{pageAccessToken: {env: T}, appSecret: {env: S}, verifyToken: {env: V}}", f'instagram: {{igUserId: "{channel_id}"}}'),
        "viber": ("{authToken: {env: T}}", f"viber: {{senderName: {sender}}}"),
    }
    credentials, block = blocks[channel]
    return (
        f"apiVersion: chatflow/v1\nkind: Account\nmetadata: {{name: {name}}}\n"
        f"spec:\n  channel: {channel}\n  credentials: {credentials}\n  {block}\n"
    )


def flow(nodes: str, name: str = "f", trigger: str = "{type: manual}", state: str = "unpublished", extra: str = "") -> str:
    """A Flow manifest; `nodes` is the YAML of spec.nodes (any indentation), `extra` more spec lines."""
    body = textwrap.indent(textwrap.dedent(nodes).strip("\n"), "    ")
    more = textwrap.indent(textwrap.dedent(extra).strip("\n"), "  ") + "\n" if extra.strip() else ""
    return (
        f"apiVersion: chatflow/v1\nkind: Flow\nmetadata: {{name: {name}}}\n"
        f"spec:\n  state: {state}\n  trigger: {trigger}\n{more}  nodes:\n{body}\n"
    )


def load(*documents: str, path: str = "flows.d/test.yaml", secret_root: Path | None = None) -> Catalog:
    """Load documents as one multi-document file, as `chatflow validate` would."""
    text = "---\n".join(documents)
    return from_load(load_bytes(path, text.encode("utf-8")), secret_root)


def load_files(files: dict[str, str]) -> Catalog:
    result = LoadResult()
    for path, text in files.items():
        result.merge(load_bytes(path, text.encode("utf-8")))
    return from_load(result)


def codes(catalog: Catalog) -> list[str]:
    return [d.code for d in catalog.diagnostics]


def only(catalog: Catalog, code: str) -> Diagnostic:
    """The single diagnostic with `code` (fails when there is none or several)."""
    found = [d for d in catalog.diagnostics if d.code == code]
    assert len(found) == 1, f"expected one {code}, got: " + "; ".join(map(str, catalog.diagnostics))
    return found[0]


def place(catalog: Catalog, code: str) -> tuple[int, int]:
    d = only(catalog, code)
    return d.line, d.column
