"""The registry: one adapter per channel, with the limits and names the host routes by."""

from __future__ import annotations

import pytest

from controller.channels import ADAPTERS, UnknownChannel, adapter
from controller.manifests.models import CHANNELS

from .conftest import FB_PAGE_ID, IG_USER_ID, WA_PHONE_NUMBER_ID, account


def test_every_account_channel_has_an_adapter_named_after_it():
    assert sorted(ADAPTERS) == sorted(CHANNELS)
    assert all(adapter(name).name == name for name in CHANNELS)


def test_an_unknown_channel_names_the_channels_there_are():
    with pytest.raises(UnknownChannel, match="no channel 'sms'; channels are: instagram, messenger, viber, whatsapp"):
        adapter("sms")


@pytest.mark.parametrize("channel,max_bytes,header,routing", [
    ("whatsapp", 3 * 1024 * 1024, "X-Hub-Signature-256", "payload"),
    ("messenger", 3 * 1024 * 1024, "X-Hub-Signature-256", "payload"),
    ("instagram", 3 * 1024 * 1024, "X-Hub-Signature-256", "payload"),
    ("viber", 30 * 1024, "X-Viber-Content-Signature", "url"),
])
def test_body_limits_signature_headers_and_routing(channel, max_bytes, header, routing):
    chosen = adapter(channel)
    assert (chosen.max_body_bytes, chosen.signature_header, chosen.routing) == (max_bytes, header, routing)


def test_the_payload_id_of_each_account_is_the_one_its_webhooks_carry():
    assert adapter("whatsapp").channel_id(account("whatsapp")) == WA_PHONE_NUMBER_ID
    assert adapter("messenger").channel_id(account("messenger")) == FB_PAGE_ID
    assert adapter("instagram").channel_id(account("instagram")) == IG_USER_ID
    assert adapter("viber").channel_id(account("viber")) is None


def test_api_base_defaults_to_the_real_apis_and_drops_a_trailing_slash():
    assert adapter("whatsapp").endpoint(account("whatsapp")) == \
        f"https://graph.facebook.com/v21.0/{WA_PHONE_NUMBER_ID}/messages"
    assert adapter("viber").endpoint(account("viber")) == "https://chatapi.viber.com/pa/send_message"
    assert adapter("messenger").endpoint(account("messenger", "http://127.0.0.1:9/")) == \
        f"http://127.0.0.1:9/v21.0/{FB_PAGE_ID}/messages"
