"""Instagram messaging: `instagram` webhooks in, the Send API at `/me/messages` (the linked page) out."""

from __future__ import annotations

from controller.manifests.limits import LIMITS
from controller.manifests.models import Account

from .meta import MessagingAdapter


class InstagramAdapter(MessagingAdapter):
    name = "instagram"
    object_name = "instagram"
    limits = LIMITS["instagram"]
    send_media = frozenset({"image", "video", "audio"})  # no documents: those go as a link

    def endpoint(self, account: Account) -> str:
        # `me` is the Page (or, on graph.instagram.com, the account) the token belongs to
        return f"{self.api_base(account)}/{self.graph_version}/me/messages"
