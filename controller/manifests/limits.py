"""What each channel can show, and how adapters degrade the rest.

Checked against the channels' documentation: WhatsApp Cloud API (3 reply buttons with titles of
20, list messages of 10 rows in all over up to 10 sections, row title 24, description 72, list
button 20, section title 24, text 4096, interactive body 1024); Messenger and Instagram (13 quick
replies with titles of 20; text 2000 characters on Messenger, 1000 bytes on Instagram); Viber
(text 7000, sender name 28). docs/manifests.md lists them with their degradations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelLimits:
    text: int  # characters of a text body
    buttons: int  # reply buttons (WhatsApp) or quick replies (Meta pages) shown as such
    button_title: int | None  # None: the channel takes long titles
    lists: bool  # has native list messages
    list_rows: int = 0
    list_sections: int = 0
    row_title: int = 0
    row_description: int = 0
    list_button: int = 0
    section_title: int = 0
    interactive_text: int | None = None  # body of a message with buttons or a list, when shorter than `text`
    text_in_bytes: bool = False  # `text` counts UTF-8 bytes, not characters
    degrade_buttons: str = "numbered text"  # what the adapter does with more buttons than `buttons`
    degrade_list: str = "numbered text"

    def size(self, text: str) -> int:
        """The length of a text as the channel counts it."""
        return len(text.encode("utf-8")) if self.text_in_bytes else len(text)

    @property
    def unit(self) -> str:
        return "bytes" if self.text_in_bytes else "characters"


LIMITS: dict[str, ChannelLimits] = {
    "whatsapp": ChannelLimits(
        text=4096,
        buttons=3,
        button_title=20,
        lists=True,
        list_rows=10,
        list_sections=10,
        row_title=24,
        row_description=72,
        list_button=20,
        section_title=24,
        interactive_text=1024,
        degrade_buttons="a list message (up to 10 rows), numbered text beyond that",
    ),
    "messenger": ChannelLimits(text=2000, buttons=13, button_title=20, lists=False,
                               degrade_list="quick replies (up to 13 rows), numbered text beyond that"),
    "instagram": ChannelLimits(text=1000, text_in_bytes=True, buttons=13, button_title=20, lists=False,
                               degrade_list="quick replies (up to 13 rows), numbered text beyond that"),
    "viber": ChannelLimits(text=7000, buttons=24, button_title=None, lists=False,
                           degrade_list="keyboard buttons (up to 24 rows), numbered text beyond that"),
}

VIBER_SENDER_NAME = 28
