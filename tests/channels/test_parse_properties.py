"""Properties of every adapter's parse: only ParseError for bad bytes, a list of events for any object."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.channels import ADAPTERS, ParseError
from controller.channels.payload import load
from controller.engine.messages import InboundEvent

from .conftest import fixture_names, payload

CHANNELS = sorted(ADAPTERS)
KNOWN_KEYS = [
    "object", "entry", "id", "changes", "field", "value", "messages", "statuses", "errors", "contacts",
    "metadata", "phone_number_id", "type", "text", "body", "interactive", "button_reply", "list_reply",
    "messaging", "sender", "recipient", "message", "mid", "is_echo", "quick_reply", "payload", "postback",
    "attachments", "delivery", "mids", "read", "reaction", "event", "message_token", "user", "user_id",
    "tracking_data", "location", "lat", "lon", "latitude", "longitude", "status", "timestamp", "media",
]
OBJECTS = ["whatsapp_business_account", "page", "instagram"]

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=12) | st.sampled_from(KNOWN_KEYS + OBJECTS))
json_values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), children, max_size=5)),
    max_leaves=25,
)
json_objects = st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), json_values, max_size=6)

FIXTURE_DOCS = [(channel, json.loads(payload(channel, name))) for channel in CHANNELS for name in fixture_names(channel)]


def paths(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) slot inside a JSON value."""
    found: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((value, key))
            found.extend(paths(child))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((value, index))
            found.extend(paths(child))
    return found


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real payload with one to three slots replaced by arbitrary JSON: near misses of real shapes."""
    channel, doc = draw(st.sampled_from(FIXTURE_DOCS))
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        slots = paths(doc)
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        container[key] = draw(json_values)
    return channel, json.dumps(doc).encode()


def assert_events(events: Any, channel: str) -> None:
    assert isinstance(events, list) and events
    for event in events:
        assert isinstance(event, InboundEvent) and event.channel == channel
        assert event.message_id is None or isinstance(event.message_id, str)
        assert event.account_channel_id is None or isinstance(event.account_channel_id, str)
        if event.kind == "status":
            assert event.status is not None and isinstance(event.status.message_id, str)
        json.dumps(dataclasses.asdict(event))  # the host stores events: they must serialise


@pytest.mark.parametrize("channel", CHANNELS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes_raise_nothing_but_parse_error(channel, body):
    try:
        events = ADAPTERS[channel].parse(body)
    except ParseError:
        return
    assert_events(events, channel)


@pytest.mark.parametrize("channel", CHANNELS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=json_objects)
def test_any_json_object_parses_to_a_list_of_events(channel, doc):
    assert_events(ADAPTERS[channel].parse(json.dumps(doc).encode()), channel)


@pytest.mark.parametrize("channel", CHANNELS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=st.sampled_from(OBJECTS), entry=json_values)
def test_any_entry_under_a_known_envelope_parses(channel, obj, entry):
    body = {"object": obj, "entry": [entry], "event": entry, "message": entry, "sender": entry}
    assert_events(ADAPTERS[channel].parse(json.dumps(body).encode()), channel)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_fixtures())
def test_real_payloads_with_odd_values_anywhere_still_parse(case):
    channel, body = case
    assert_events(ADAPTERS[channel].parse(body), channel)


def test_deeply_nested_json_is_a_parse_error_not_a_crash():
    for channel in CHANNELS:
        with pytest.raises(ParseError):
            ADAPTERS[channel].parse(b"[" * 100_000 + b"]" * 100_000)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=json_objects, encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                                   "utf-32", "utf-32-le", "utf-32-be"]))
def test_a_body_is_read_as_json_loads_reads_it_in_any_encoding_json_allows(doc, encoding):
    raw = json.dumps(doc, ensure_ascii=False).encode(encoding)
    assert load(raw) == json.loads(raw) == doc


def test_nan_and_infinity_are_not_json_even_where_json_loads_takes_them():
    for raw in (b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}'):
        with pytest.raises(ParseError, match="is not valid JSON"):
            load(raw)
