"""Revision hashes: what makes a flow's design a new revision (DESIGN §2 "Revisions")."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .models import Account, Flow

# Not part of the design: publishing state, logging and the account binding are actions of
# their own; displayName, remark, labels and annotations live in metadata, outside the spec.
_NOT_DESIGN: dict[str, Any] = {"state": True, "logging": True, "trigger": {"account"}}


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def spec_json(flow: Flow) -> str:
    """The whole validated spec with defaults filled in, as canonical JSON (what the store keeps)."""
    return canonical(flow.spec.model_dump(mode="json", exclude_none=True))


def flow_revision(flow: Flow) -> str:
    """First 12 hex digits of sha256 over the canonical design JSON."""
    return short_hash(canonical(flow.spec.model_dump(mode="json", exclude=_NOT_DESIGN)))


def account_spec_json(account: Account) -> str:
    return canonical(account.spec.model_dump(mode="json", exclude_none=True))


def account_hash(account: Account) -> str:
    return short_hash(account_spec_json(account))
