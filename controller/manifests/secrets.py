"""Resolving secret references ({env: NAME} / {file: PATH}) at the moment of use; never stored."""

from __future__ import annotations

import os
from pathlib import Path

from controller.logs import SECRETS

from .components import SecretRef


class SecretMissing(Exception):
    """A referenced secret is not available; the message names the reference, never a value."""


def describe(ref: SecretRef) -> str:
    return f"env {ref.env}" if ref.env is not None else f"file {ref.file}"


def resolve(ref: SecretRef) -> str:
    """The secret's value, from now on masked in logs and execution events. File contents lose one
    trailing newline, as `echo x > file` adds one."""
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None or value == "":
            raise SecretMissing(f"environment variable {ref.env} is not set")
        SECRETS.add(value)
        return value
    assert ref.file is not None
    path = Path(ref.file).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretMissing(f"secret file {ref.file} cannot be read: {exc.strerror}") from None
    text = text[:-1] if text.endswith("\n") else text
    if not text:
        raise SecretMissing(f"secret file {ref.file} is empty")
    SECRETS.add(text)
    return text


def available(ref: SecretRef) -> bool:
    try:
        resolve(ref)
    except SecretMissing:
        return False
    return True
