"""docs/manifests.md describes what the models accept, and its complete examples validate."""

from __future__ import annotations

import re
import typing

import pytest

from controller.manifests.components import COMPONENTS
from controller.manifests.limits import LIMITS
from controller.manifests.models import MODELS, Account

from ..conftest import PROJECT
from .conftest import load

DOC = (PROJECT / "docs" / "manifests.md").read_text(encoding="utf-8")


def _section(heading: str) -> str:
    match = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^##|\Z)", DOC, re.M | re.S)
    assert match, f"no `### {heading}` section"
    return match.group(1)


def test_the_complete_examples_validate_together_without_a_diagnostic():
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", DOC, re.S) if "apiVersion:" in b]
    catalog = load(*blocks, path="docs/manifests.md")
    assert catalog.diagnostics == []
    assert {d.kind for d in catalog.documents} == set(MODELS)


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_every_component_and_each_of_its_fields_is_described(component):
    section = _section(component)
    for field in COMPONENTS[component].model_fields:
        if field != "type":
            assert f"`{field}`" in section, f"{component}.{field}"
    assert "Ways out:" in section


def test_every_channel_has_its_credentials_and_block_described():
    table = DOC[DOC.index("| channel | credentials | channel block |"):]
    checked = set()
    for member in typing.get_args(Account.model_fields["spec"].annotation):  # one spec model per channel
        channel = typing.get_args(member.model_fields["channel"].annotation)[0]
        row = next(line for line in table.splitlines() if line.startswith(f"| {channel} |"))
        for credential in member.model_fields["credentials"].annotation.model_fields:
            assert f"`{credential}`" in row, (channel, credential)
        for field in member.model_fields[channel].annotation.model_fields:
            assert field in row, (channel, field)
        checked.add(channel)
    assert checked == set(LIMITS)


def test_the_limits_table_states_each_channel_limit():
    table = DOC[DOC.index("| channel | text | buttons |"):].split("\n\n")[0]
    for channel, limits in LIMITS.items():
        row = next(line for line in table.splitlines() if line.lower().startswith(f"| {channel} |"))
        assert str(limits.text) in row and str(limits.buttons) in row, channel
