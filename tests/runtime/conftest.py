"""Fixtures of the runtime tests (defined in harness.py, shared with tests/web)."""

from .harness import fake, repo  # noqa: F401
