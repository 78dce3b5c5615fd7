"""Fixtures of the engine tests."""

from __future__ import annotations

from typing import Iterator

import pytest

from .fakeserver import FakeServer


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A real HTTP server on 127.0.0.1, stopped after the test."""
    with FakeServer() as s:
        yield s
